// patch.go: the three patch types a server accepts: JSON merge patch
// (RFC 7386), JSON patch (RFC 6902) and strategic merge patch, where lists of
// containers, env, ports, volumes... merge by key and $patch /
// $setElementOrder / $retainKeys / $deleteFromPrimitiveList directives apply.
package main

import (
	"fmt"
	"strconv"
	"strings"
)

func mergePatch(target, patch interface{}) interface{} {
	p, ok := patch.(obj)
	if !ok {
		return deepCopy(patch)
	}
	t, ok := target.(obj)
	if !ok {
		t = obj{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
		} else {
			t[k] = mergePatch(t[k], v)
		}
	}
	return t
}

// --- JSON patch ---

func unescapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
}

func splitPointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("invalid JSON pointer %q", p)
	}
	parts := strings.Split(p[1:], "/")
	for i := range parts {
		parts[i] = unescapePointer(parts[i])
	}
	return parts, nil
}

// pointerParent resolves all but the last token of a pointer.
func pointerParent(doc interface{}, parts []string) (interface{}, error) {
	cur := doc
	for _, p := range parts[:len(parts)-1] {
		switch c := cur.(type) {
		case obj:
			v, ok := c[p]
			if !ok {
				return nil, fmt.Errorf("path segment %q not found", p)
			}
			cur = v
		case []interface{}:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("index %q out of range", p)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("path segment %q not found", p)
		}
	}
	return cur, nil
}

// jsonPatchSet applies add/replace/remove at one location; lists are
// rebuilt, so the (possibly new) root is returned.
func jsonPatchSet(doc interface{}, parts []string, op string, val interface{}) (interface{}, interface{}, error) {
	if len(parts) == 0 {
		return val, doc, nil
	}
	parent, err := pointerParent(doc, parts)
	if err != nil {
		return nil, nil, err
	}
	last := parts[len(parts)-1]
	switch c := parent.(type) {
	case obj:
		old, exists := c[last]
		if (op == "replace" || op == "remove") && !exists {
			return nil, nil, fmt.Errorf("unable to %s nonexistent key: %s", op, last)
		}
		if op == "remove" {
			delete(c, last)
		} else {
			c[last] = val
		}
		return doc, old, nil
	case []interface{}:
		i := len(c)
		if last != "-" {
			if i, err = strconv.Atoi(last); err != nil || i < 0 || i > len(c) || (op != "add" && i == len(c)) {
				return nil, nil, fmt.Errorf("index %q out of range", last)
			}
		}
		var old interface{}
		var out []interface{}
		switch op {
		case "add":
			out = append(append(append(out, c[:i]...), val), c[i:]...)
		case "replace":
			old = c[i]
			out = append(append(append(out, c[:i]...), val), c[i+1:]...)
		case "remove":
			old = c[i]
			out = append(append(out, c[:i]...), c[i+1:]...)
		}
		/* write the rebuilt list back into its own parent */
		root, _, err := jsonPatchSet(doc, parts[:len(parts)-1], "replace", out)
		return root, old, err
	}
	return nil, nil, fmt.Errorf("cannot apply %s at %q", op, "/"+strings.Join(parts, "/"))
}

func jsonPatchGet(doc interface{}, parts []string) (interface{}, error) {
	if len(parts) == 0 {
		return doc, nil
	}
	parent, err := pointerParent(doc, parts)
	if err != nil {
		return nil, err
	}
	last := parts[len(parts)-1]
	switch c := parent.(type) {
	case obj:
		if v, ok := c[last]; ok {
			return v, nil
		}
	case []interface{}:
		if i, err := strconv.Atoi(last); err == nil && i >= 0 && i < len(c) {
			return c[i], nil
		}
	}
	return nil, fmt.Errorf("path %q not found", "/"+strings.Join(parts, "/"))
}

func jsonPatch(doc interface{}, ops []interface{}) (interface{}, error) {
	for _, raw := range ops {
		op, _ := raw.(obj)
		path, err := splitPointer(mstr(op, "path"))
		if err != nil {
			return nil, err
		}
		switch kind := mstr(op, "op"); kind {
		case "add", "replace", "remove":
			doc, _, err = jsonPatchSet(doc, path, kind, deepCopy(op["value"]))
		case "test":
			var v interface{}
			if v, err = jsonPatchGet(doc, path); err == nil && !jsonEqual(v, op["value"]) {
				err = fmt.Errorf("testing value %s failed", mstr(op, "path"))
			}
		case "move", "copy":
			var from []string
			var v interface{}
			if from, err = splitPointer(mstr(op, "from")); err != nil {
				break
			}
			if v, err = jsonPatchGet(doc, from); err != nil {
				break
			}
			v = deepCopy(v)
			if kind == "move" {
				if doc, _, err = jsonPatchSet(doc, from, "remove", nil); err != nil {
					break
				}
			}
			doc, _, err = jsonPatchSet(doc, path, "add", v)
		default:
			err = fmt.Errorf("unexpected kind of operation %q", kind)
		}
		if err != nil {
			return nil, err
		}
	}
	return doc, nil
}

// --- strategic merge patch ---

// mergeKeyFor names the key that list items of a field merge on, as the
// Kubernetes Go types declare with patchMergeKey; "" means replace the list.
func mergeKeyFor(field string, items []interface{}) string {
	switch field {
	case "containers", "initContainers", "ephemeralContainers", "env", "volumes", "imagePullSecrets":
		return "name"
	case "volumeMounts":
		return "mountPath"
	case "volumeDevices":
		return "devicePath"
	case "hostAliases":
		return "ip"
	case "conditions", "readinessGates":
		return "type"
	case "ownerReferences":
		return "uid"
	case "ports":
		for _, it := range items {
			if _, ok := mget(it, "containerPort").(float64); ok {
				return "containerPort"
			}
		}
		return "port"
	}
	return ""
}

func strategicMerge(target, patch obj) (obj, error) {
	if target == nil {
		target = obj{}
	}
	if mstr(patch, "$patch") == "replace" {
		out := copyObj(patch)
		delete(out, "$patch")
		return out, nil
	}
	if mstr(patch, "$patch") == "delete" {
		return nil, nil
	}
	if keep, ok := patch["$retainKeys"].([]interface{}); ok {
		allowed := map[string]bool{}
		for _, k := range keep {
			allowed[fmt.Sprint(k)] = true
		}
		for k := range target {
			if !allowed[k] {
				delete(target, k)
			}
		}
	}
	for k, v := range patch {
		switch {
		case k == "$retainKeys" || k == "$patch" || strings.HasPrefix(k, "$setElementOrder/"):
			continue
		case strings.HasPrefix(k, "$deleteFromPrimitiveList/"):
			f := strings.TrimPrefix(k, "$deleteFromPrimitiveList/")
			target[f] = removePrimitives(mlist(target, f), v)
			continue
		case v == nil:
			delete(target, k)
			continue
		}
		switch pv := v.(type) {
		case obj:
			tv, _ := target[k].(obj)
			merged, err := strategicMerge(tv, pv)
			if err != nil {
				return nil, err
			}
			if merged == nil {
				delete(target, k)
			} else {
				target[k] = merged
			}
		case []interface{}:
			tl, _ := target[k].([]interface{})
			merged, err := mergeList(k, tl, pv)
			if err != nil {
				return nil, err
			}
			target[k] = merged
		default:
			target[k] = deepCopy(v)
		}
	}
	/* $setElementOrder applies whether or not the patch carries the list */
	for k, v := range patch {
		order, ok := v.([]interface{})
		f := strings.TrimPrefix(k, "$setElementOrder/")
		if list, isList := target[f].([]interface{}); ok && isList && f != k {
			target[f] = applyOrder(list, order, mergeKeyFor(f, list))
		}
	}
	return target, nil
}

func removePrimitives(list []interface{}, del interface{}) []interface{} {
	drop := map[string]bool{}
	dels, _ := del.([]interface{})
	for _, d := range dels {
		drop[fmt.Sprint(d)] = true
	}
	out := []interface{}{}
	for _, v := range list {
		if !drop[fmt.Sprint(v)] {
			out = append(out, v)
		}
	}
	return out
}

func mergeList(field string, target, patch []interface{}) ([]interface{}, error) {
	mk := mergeKeyFor(field, append(append([]interface{}{}, target...), patch...))
	if mk == "" {
		return deepCopy(patch).([]interface{}), nil
	}
	/* the target may lack the list (a container without env): merge into an empty one */
	out, _ := deepCopy(target).([]interface{})
	if out == nil {
		out = []interface{}{}
	}
	for _, raw := range patch {
		item, ok := raw.(obj)
		if !ok {
			return nil, fmt.Errorf("list %s: items must be objects", field)
		}
		if mstr(item, "$patch") == "replace" {
			return nil, nil
		}
		idx := -1
		for i, t := range out {
			if mget(t, mk) != nil && fmt.Sprint(mget(t, mk)) == fmt.Sprint(item[mk]) {
				idx = i
				break
			}
		}
		switch {
		case mstr(item, "$patch") == "delete":
			if idx >= 0 {
				out = append(out[:idx], out[idx+1:]...)
			}
		case idx >= 0:
			cur, _ := out[idx].(obj)
			merged, err := strategicMerge(cur, item)
			if err != nil {
				return nil, err
			}
			out[idx] = merged
		default:
			merged, err := strategicMerge(obj{}, item)
			if err != nil {
				return nil, err
			}
			out = append(out, merged)
		}
	}
	return out, nil
}

// applyOrder puts the listed keys first, in the given order, then the rest
// in their order (the real server interleaves the rest; close enough for the
// lists kubectl sends, which name every element).
func applyOrder(list, order []interface{}, mk string) []interface{} {
	if mk == "" {
		return list
	}
	var out []interface{}
	used := make([]bool, len(list))
	for _, o := range order {
		for i, it := range list {
			if !used[i] && fmt.Sprint(mget(it, mk)) == fmt.Sprint(mget(o, mk)) {
				out, used[i] = append(out, it), true
			}
		}
	}
	for i, it := range list {
		if !used[i] {
			out = append(out, it)
		}
	}
	return out
}

// applyPatch dispatches on the request Content-Type.
func applyPatch(ctype string, cur obj, body []byte) (obj, error) {
	var p interface{}
	if err := jsonUnmarshal(body, &p); err != nil {
		return nil, err
	}
	doc := copyObj(cur)
	switch strings.TrimSpace(strings.Split(ctype, ";")[0]) {
	case "application/merge-patch+json":
		r, ok := mergePatch(doc, p).(obj)
		if !ok {
			return nil, fmt.Errorf("merge patch must be an object")
		}
		return r, nil
	case "application/strategic-merge-patch+json":
		pm, ok := p.(obj)
		if !ok {
			return nil, fmt.Errorf("strategic merge patch must be an object")
		}
		return strategicMerge(doc, pm)
	case "application/json-patch+json":
		ops, ok := p.([]interface{})
		if !ok {
			return nil, fmt.Errorf("json patch must be a list of operations")
		}
		r, err := jsonPatch(doc, ops)
		if err != nil {
			return nil, err
		}
		if m, ok := r.(obj); ok {
			return m, nil
		}
		return nil, fmt.Errorf("json patch result is not an object")
	}
	return nil, errUnsupportedPatch
}

var errUnsupportedPatch = fmt.Errorf("unsupported patch type")
