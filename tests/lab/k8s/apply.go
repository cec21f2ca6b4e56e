// apply.go: server-side apply (PATCH with application/apply-patch+yaml, what
// `kubectl apply --server-side` sends): the body is the manager's whole
// intent; a missing object is created (201), an existing one gets the
// intent merged in (lists by their merge keys, patch.go) after the fields
// the same manager applied last time and now omits are removed. What each
// manager applied is kept, as the server does, in metadata.managedFields
// (operation Apply, fieldsV1). Simplified: no conflict detection between
// managers (force is accepted and changes nothing), and the body must be
// JSON (kubectl sends JSON; YAML bodies are refused with 400).
package main

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

func isApplyPatch(ctype string) bool {
	return strings.HasPrefix(strings.TrimSpace(ctype), "application/apply-patch")
}

// serverSideApply answers the apply PATCH of t: the object and 200 or 201.
func (s *Server) serverSideApply(r *http.Request, t target, body []byte, dry bool) (obj, int, *apiErr) {
	manager := r.URL.Query().Get("fieldManager")
	if manager == "" {
		return nil, 0, &apiErr{422, "Invalid", `PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch`, nil}
	}
	var config obj
	if err := jsonUnmarshal(body, &config); err != nil || config == nil {
		return nil, 0, badRequest(fmt.Sprintf("error decoding apply patch (the stand-in reads JSON only): %v", err))
	}
	if mstr(config, "apiVersion") != t.res.apiVersion() || mstr(config, "kind") != t.res.kind {
		return nil, 0, badRequest(fmt.Sprintf("apply patch: apiVersion and kind must be %s and %s (got %q, %q)",
			t.res.apiVersion(), t.res.kind, mstr(config, "apiVersion"), mstr(config, "kind")))
	}
	if n := name(config); n != t.name {
		return nil, 0, badRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", n, t.name))
	}
	pruneNulls(config)
	fields := fieldsOf(config)
	cur := s.store.get(t.res.plural, t.ns, t.name)
	if cur == nil {
		o := copyObj(config)
		setManaged(o, manager, t.res.apiVersion(), fields)
		out, e := s.insert(t, o, dry)
		return out, 201, e
	}
	next := copyObj(cur)
	pruneFields(next, appliedBy(cur, manager), fields)
	merged, err := strategicMerge(next, copyObj(config))
	if err != nil {
		return nil, 0, patchErr(err)
	}
	setManaged(merged, manager, t.res.apiVersion(), fields)
	out, e := s.commit(t, cur, keepStatus(t, cur, merged), dry)
	return out, 200, e
}

// identity fields of metadata are not owned by anyone
var unowned = map[string]bool{"name": true, "namespace": true, "uid": true, "resourceVersion": true,
	"generation": true, "creationTimestamp": true, "managedFields": true}

// fieldsOf is the fieldsV1 set of the fields an object sets: "f:NAME" for
// map members, "k:{KEY:VALUE}" for items of lists merged by key; leaves and
// atomic lists are {}.
func fieldsOf(o obj) obj {
	set := obj{}
	for k, v := range o {
		if k == "apiVersion" || k == "kind" || k == "status" {
			continue
		}
		if k == "metadata" {
			md := obj{}
			for mk, mv := range mmap(o, "metadata") {
				if !unowned[mk] {
					md["f:"+mk] = valueFields(mk, mv)
				}
			}
			set["f:metadata"] = md
			continue
		}
		set["f:"+k] = valueFields(k, v)
	}
	return set
}

func valueFields(field string, v interface{}) obj {
	switch x := v.(type) {
	case obj:
		set := obj{}
		for k, c := range x {
			set["f:"+k] = valueFields(k, c)
		}
		return set
	case []interface{}:
		mk := mergeKeyFor(field, x)
		if mk == "" {
			return obj{}
		}
		set := obj{}
		for _, it := range x {
			item := valueFields("", it)
			item["."] = obj{}
			set[itemKey(mk, mget(it, mk))] = item
		}
		return set
	}
	return obj{}
}

func itemKey(mk string, v interface{}) string { return fmt.Sprintf("k:{%q:%s}", mk, mustJSON(v)) }

// appliedBy is the fieldsV1 set manager applied last, or an empty set.
func appliedBy(o obj, manager string) obj {
	for _, e := range mlist(o, "metadata", "managedFields") {
		if mstr(e, "manager") == manager && mstr(e, "operation") == "Apply" {
			return mmap(e, "fieldsV1")
		}
	}
	return obj{}
}

// setManaged records manager's applied set, replacing its previous entry.
func setManaged(o obj, manager, apiVersion string, fields obj) {
	entries := []interface{}{}
	for _, e := range mlist(o, "metadata", "managedFields") {
		if !(mstr(e, "manager") == manager && mstr(e, "operation") == "Apply") {
			entries = append(entries, e)
		}
	}
	entries = append(entries, obj{"manager": manager, "operation": "Apply", "apiVersion": apiVersion,
		"time": rfc3339(time.Now()), "fieldsType": "FieldsV1", "fieldsV1": fields})
	meta(o)["managedFields"] = entries
}

// pruneFields removes from target what prev holds and now does not,
// dropping maps and list items left empty by the removal.
func pruneFields(target obj, prev, now obj) {
	for k, sub := range prev {
		if !strings.HasPrefix(k, "f:") {
			continue
		}
		f := k[2:]
		if f == "metadata" {
			if md := mmap(target, "metadata"); md != nil {
				pruneFields(md, mmap(sub), mmap(now, k))
			}
			continue
		}
		pruneValue(target, f, mmap(sub), mmap(now, k), now[k] != nil)
	}
}

func pruneValue(target obj, f string, prev, now obj, kept bool) {
	switch v := target[f].(type) {
	case obj:
		if len(prev) > 0 {
			pruneFields(v, prev, now)
			if !kept && len(v) == 0 {
				delete(target, f)
			}
			return
		}
	case []interface{}:
		if len(prev) > 0 && mergeKeyFor(f, v) != "" {
			target[f] = pruneItems(v, mergeKeyFor(f, v), prev, now)
			return
		}
	}
	if !kept {
		delete(target, f)
	}
}

// pruneItems drops the keyed items prev holds and now does not, and prunes
// inside the ones both hold.
func pruneItems(list []interface{}, mk string, prev, now obj) []interface{} {
	out := []interface{}{}
	for _, it := range list {
		key := itemKey(mk, mget(it, mk))
		p, owned := prev[key]
		if n, keep := now[key]; owned && !keep {
			continue
		} else if owned {
			if m, ok := it.(obj); ok {
				pruneFields(m, mmap(p), mmap(n))
			}
		}
		out = append(out, it)
	}
	return out
}
