// api.go: request routing and the verbs (get, list, watch, create, update,
// patch, delete, the scale and status subresources) with dryRun=All,
// resourceVersion preconditions and metadata.generation, answering errors
// as metav1.Status objects the way kubectl expects them.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

type apiErr struct {
	code        int
	reason, msg string
	details     obj
}

func jsonUnmarshal(b []byte, v interface{}) error {
	d := json.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON: %v", err)
	}
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v interface{}) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

func statusObj(status string, code int, reason, msg string, details obj) obj {
	o := obj{"kind": "Status", "apiVersion": "v1", "metadata": obj{}, "status": status}
	if msg != "" {
		o["message"] = msg
	}
	if reason != "" {
		o["reason"] = reason
	}
	if details != nil {
		o["details"] = details
	}
	if code != 0 {
		o["code"] = code
	}
	return o
}

func writeErr(w http.ResponseWriter, e *apiErr) {
	writeJSON(w, e.code, statusObj("Failure", e.code, e.reason, e.msg, e.details))
}

func qualified(res *resDef) string {
	if res.group == "" {
		return res.plural
	}
	return res.plural + "." + res.group
}

func notFound(res *resDef, n string) *apiErr {
	return &apiErr{404, "NotFound", fmt.Sprintf("%s %q not found", qualified(res), n),
		obj{"name": n, "group": res.group, "kind": res.plural}}
}

func badRequest(msg string) *apiErr { return &apiErr{400, "BadRequest", msg, nil} }

func invalid(o obj, field string, value interface{}, detail string) *apiErr {
	res := resByKind(mstr(o, "kind"))
	kind := res.kind
	if res.group != "" {
		kind += "." + res.group
	}
	return &apiErr{422, "Invalid", fmt.Sprintf("%s %q is invalid: %s: Invalid value: %s: %s", kind, name(o), field, mustJSON(value), detail),
		obj{"name": name(o), "group": res.group, "kind": res.kind,
			"causes": []interface{}{obj{"reason": "FieldValueInvalid", "message": "Invalid value: " + mustJSON(value) + ": " + detail, "field": field}}}}
}

// target is one parsed API path.
type target struct {
	res                 *resDef
	ns, name, sub, rest string
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, body []byte) {
	p := strings.Trim(r.URL.Path, "/")
	parts := strings.Split(p, "/")
	var group, version string
	var rest []string
	switch {
	case p == "version":
		writeJSON(w, 200, versionDoc())
		return
	case p == "api":
		writeJSON(w, 200, apiVersionsDoc(s.addr))
		return
	case p == "apis":
		writeJSON(w, 200, groupListDoc())
		return
	case parts[0] == "openapi":
		s.openapi(w, r)
		return
	case p == "healthz" || p == "readyz" || p == "livez":
		w.Write([]byte("ok"))
		return
	case parts[0] == "api" && len(parts) >= 2 && parts[1] == "v1":
		version, rest = "v1", parts[2:]
	case parts[0] == "apis" && len(parts) == 2:
		for _, g := range groupNames() {
			if g == parts[1] {
				writeJSON(w, 200, groupDoc(g))
				return
			}
		}
	case parts[0] == "apis" && len(parts) >= 3:
		group, version, rest = parts[1], parts[2], parts[3:]
	}
	if version == "" {
		writeErr(w, &apiErr{404, "NotFound", "the server could not find the requested resource", nil})
		return
	}
	if len(rest) == 0 {
		if doc := resourceListDoc(group, version); doc != nil {
			writeJSON(w, 200, doc)
		} else {
			writeErr(w, &apiErr{404, "NotFound", "the server could not find the requested resource", nil})
		}
		return
	}
	t := target{}
	if rest[0] == "namespaces" && len(rest) >= 3 {
		if res := findRes(group, version, rest[2]); res != nil && res.namespaced {
			t.ns, rest = rest[1], rest[2:]
		}
	}
	t.res = findRes(group, version, rest[0])
	if t.res == nil {
		writeErr(w, &apiErr{404, "NotFound", "the server could not find the requested resource", nil})
		return
	}
	if len(rest) > 1 {
		t.name = rest[1]
	}
	if len(rest) > 2 {
		t.sub, t.rest = rest[2], strings.Join(rest[3:], "/")
	}
	if t.res.group == "metrics.k8s.io" {
		s.metrics(w, r, t)
		return
	}
	s.dispatch(w, r, body, t)
}

func (s *Server) dispatch(w http.ResponseWriter, r *http.Request, body []byte, t target) {
	switch {
	case t.sub == "proxy":
		s.proxy(w, r, body, t)
		return
	case t.sub == "exec" || t.sub == "attach":
		s.exec(w, r, t)
		return
	case t.sub == "log" && r.Method == "GET":
		s.logs(w, r, t)
		return
	}
	q := r.URL.Query()
	dry := false
	for _, v := range dryRunValues(r, body) {
		if v != "All" {
			writeErr(w, badRequest(fmt.Sprintf("unsupported dry run value %q: only All is accepted", v)))
			return
		}
		dry = true
	}
	var out interface{}
	code := 200
	var e *apiErr
	s.store.mu.Lock()
	switch {
	case t.name == "" && r.Method == "GET":
		s.store.mu.Unlock()
		s.list(w, r, t)
		return
	case t.name == "" && r.Method == "POST":
		out, e = s.create(t, body, dry)
		code = 201
	case t.sub == "scale":
		out, e = s.scale(r, t, body, dry)
	case t.sub != "" && t.sub != "status":
		e = &apiErr{404, "NotFound", "the server could not find the requested resource", nil}
	case r.Method == "GET":
		if o := s.store.get(t.res.plural, t.ns, t.name); o != nil {
			out = o
		} else {
			e = notFound(t.res, t.name)
		}
	case r.Method == "PUT":
		out, e = s.update(t, body, dry)
	case r.Method == "PATCH":
		out, e = s.patch(t, r.Header.Get("Content-Type"), body, dry)
	case r.Method == "DELETE":
		out, e = s.delete(r, t, body, dry)
	default:
		e = &apiErr{405, "MethodNotAllowed", fmt.Sprintf("the server does not allow this method on the requested resource"), nil}
	}
	if o, ok := out.(obj); ok && e == nil && r.Method == "GET" && isTableAccept(r.Header.Get("Accept")) && mstr(o, "kind") == t.res.kind {
		out = toTable(t.res.kind, []obj{o}, fmt.Sprint(s.store.rv), q.Get("includeObject"))
	}
	b, _ := json.Marshal(out)
	s.store.mu.Unlock()
	if e != nil {
		writeErr(w, e)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

// dryRunValues reads dryRun from the query and, for DELETE, from the
// DeleteOptions body, where kubectl puts it.
func dryRunValues(r *http.Request, body []byte) []string {
	vals := append([]string{}, r.URL.Query()["dryRun"]...)
	if r.Method == "DELETE" && len(bytes.TrimSpace(body)) > 0 {
		var opts struct {
			DryRun []string `json:"dryRun"`
		}
		if json.Unmarshal(body, &opts) == nil {
			vals = append(vals, opts.DryRun...)
		}
	}
	return vals
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, t target) {
	q := r.URL.Query()
	match, err := buildMatcher(q.Get("labelSelector"), q.Get("fieldSelector"))
	if err != nil {
		writeErr(w, badRequest(err.Error()))
		return
	}
	if q.Get("watch") == "true" || q.Get("watch") == "1" {
		s.watch(w, r, t, match)
		return
	}
	s.store.mu.Lock()
	items := []obj{}
	for _, o := range s.store.list(t.res.plural, t.ns) {
		if match(o) {
			items = append(items, o)
		}
	}
	rv := fmt.Sprint(s.store.rv)
	var out obj
	if isTableAccept(r.Header.Get("Accept")) {
		out = toTable(t.res.kind, items, rv, q.Get("includeObject"))
	} else {
		out = obj{"kind": t.res.kind + "List", "apiVersion": t.res.apiVersion(), "metadata": obj{"resourceVersion": rv}, "items": items}
	}
	b, _ := json.Marshal(out)
	s.store.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// watch streams ADDED events for the current objects (when no
// resourceVersion is given) and then every change, until timeoutSeconds
// (at most 120) or the client goes away.
func (s *Server) watch(w http.ResponseWriter, r *http.Request, t target, match func(obj) bool) {
	q := r.URL.Query()
	timeout := 120
	if n, err := strconv.Atoi(q.Get("timeoutSeconds")); err == nil && n > 0 && n < timeout {
		timeout = n
	}
	table := isTableAccept(r.Header.Get("Accept"))
	wt := &watcher{plural: t.res.plural, ns: t.ns, match: match, ch: make(chan watchEvent, 4096)}
	s.store.mu.Lock()
	if rv := q.Get("resourceVersion"); rv == "" || rv == "0" {
		for _, o := range s.store.list(t.res.plural, t.ns) {
			if match(o) {
				wt.ch <- watchEvent{"ADDED", copyObj(o)}
			}
		}
	}
	s.store.addWatcher(wt)
	s.store.mu.Unlock()
	defer s.store.dropWatcher(wt)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(200)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	deadline := time.NewTimer(time.Duration(timeout) * time.Second)
	defer deadline.Stop()
	for {
		select {
		case ev, ok := <-wt.ch:
			if !ok {
				return
			}
			var o interface{} = ev.o
			if table {
				o = toTable(t.res.kind, []obj{ev.o}, mstr(ev.o, "metadata", "resourceVersion"), q.Get("includeObject"))
			}
			b, _ := json.Marshal(obj{"type": ev.typ, "object": o})
			w.Write(append(b, '\n'))
			if flusher != nil {
				flusher.Flush()
			}
		case <-deadline.C:
			return
		case <-r.Context().Done():
			return
		}
	}
}

var quantityRe = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$`)

func validateContainers(o obj, field string, containers []interface{}) *apiErr {
	if len(containers) == 0 {
		return invalid(o, field, []interface{}{}, "Required value")
	}
	for i, c := range containers {
		f := fmt.Sprintf("%s[%d]", field, i)
		if mstr(c, "name") == "" {
			return invalid(o, f+".name", "", "Required value")
		}
		if mstr(c, "image") == "" {
			return invalid(o, f+".image", "", "Required value")
		}
		for _, kind := range []string{"limits", "requests"} {
			for k, v := range mmap(c, "resources", kind) {
				if !quantityRe.MatchString(fmt.Sprint(v)) {
					return invalid(o, fmt.Sprintf("%s.resources.%s[%s]", f, kind, k), v,
						"quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
				}
			}
		}
		for j, e := range mlist(c, "env") {
			if mstr(e, "name") == "" {
				return invalid(o, fmt.Sprintf("%s.env[%d].name", f, j), "", "Required value")
			}
		}
	}
	return nil
}

// validate does the part of API validation the tests can observe.
func validate(o obj) *apiErr {
	if name(o) == "" {
		return invalid(o, "metadata.name", "", "name or generateName is required")
	}
	switch mstr(o, "kind") {
	case "Pod":
		return validateContainers(o, "spec.containers", mlist(o, "spec", "containers"))
	case "Deployment", "ReplicaSet", "StatefulSet":
		if v := mget(o, "spec", "replicas"); v != nil {
			if n, ok := mint(o, "spec", "replicas"); !ok || n < 0 {
				return invalid(o, "spec.replicas", v, "must be greater than or equal to 0")
			}
		}
		sel := mmap(o, "spec", "selector", "matchLabels")
		if !matchLabelsMap(sel, labelsOf(obj{"metadata": mmap(o, "spec", "template", "metadata")})) {
			return invalid(o, "spec.template.metadata.labels", mmap(o, "spec", "template", "metadata", "labels"),
				"`selector` does not match template `labels`")
		}
		return validateContainers(o, "spec.template.spec.containers", mlist(o, "spec", "template", "spec", "containers"))
	}
	return nil
}

// counters saves what a dry run must not consume, so names stay the same
// whether or not a plan ran first.
type counters struct {
	uid, ip int
	rng     uint64
}

func (s *Store) saveCounters() counters     { return counters{s.uidN, s.ipN, s.rng} }
func (s *Store) restoreCounters(c counters) { s.uidN, s.ipN, s.rng = c.uid, c.ip, c.rng }

func (s *Server) create(t target, body []byte, dry bool) (obj, *apiErr) {
	var o obj
	if err := jsonUnmarshal(body, &o); err != nil || o == nil {
		return nil, badRequest(fmt.Sprintf("the body of the request was in an unknown format: %v", err))
	}
	if k := mstr(o, "kind"); k != "" && k != t.res.kind {
		return nil, badRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", mstr(o, "apiVersion"), t.res.apiVersion()))
	}
	o["kind"], o["apiVersion"] = t.res.kind, t.res.apiVersion()
	pruneNulls(o)
	m := meta(o)
	if ns := mstr(o, "metadata", "namespace"); ns != "" && ns != t.ns {
		return nil, badRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	if t.ns != "" {
		m["namespace"] = t.ns
	}
	saved := s.store.saveCounters()
	if dry {
		defer s.store.restoreCounters(saved)
	}
	if name(o) == "" && mstr(o, "metadata", "generateName") != "" {
		m["name"] = mstr(o, "metadata", "generateName") + s.store.randSuffix(5)
	}
	if s.store.get(t.res.plural, t.ns, name(o)) != nil {
		return nil, &apiErr{409, "AlreadyExists", fmt.Sprintf("%s %q already exists", qualified(t.res), name(o)),
			obj{"name": name(o), "group": t.res.group, "kind": t.res.plural}}
	}
	if e := validate(o); e != nil {
		return nil, e
	}
	delete(m, "resourceVersion")
	s.store.stamp(o, time.Now())
	if t.res.kind == "Pod" {
		s.store.runPod(o)
	}
	if dry {
		return o, nil
	}
	s.store.put(o)
	s.store.reconcile()
	return s.store.get(t.res.plural, t.ns, name(o)), nil
}

// commit stores next in place of cur after keeping the server-owned
// metadata, bumping generation on a spec change and validating.
func (s *Server) commit(t target, cur, next obj, dry bool) (obj, *apiErr) {
	next["kind"], next["apiVersion"] = cur["kind"], cur["apiVersion"]
	m, cm := meta(next), mmap(cur, "metadata")
	for _, f := range []string{"name", "namespace", "uid", "creationTimestamp", "generation", "deletionTimestamp", "resourceVersion"} {
		if v, ok := cm[f]; ok {
			m[f] = v
		} else {
			delete(m, f)
		}
	}
	pruneNulls(next)
	if g, ok := mint(cur, "metadata", "generation"); ok && !jsonEqual(cur["spec"], next["spec"]) {
		m["generation"] = float64(g + 1)
	}
	if e := validate(next); e != nil {
		return nil, e
	}
	if dry || jsonEqual(cur, next) {
		return next, nil
	}
	s.store.put(next)
	s.store.reconcile()
	s.templateChanged(cur, next)
	return s.store.get(t.res.plural, t.ns, t.name), nil
}

// keepStatus applies the status-subresource rule: writes to the object
// leave status alone, writes to /status change only status.
func keepStatus(t target, cur, next obj) obj {
	if t.sub == "status" {
		out := copyObj(cur)
		out["status"] = next["status"]
		return out
	}
	if st, ok := cur["status"]; ok {
		next["status"] = deepCopy(st)
	} else {
		delete(next, "status")
	}
	return next
}

func (s *Server) update(t target, body []byte, dry bool) (obj, *apiErr) {
	cur := s.store.get(t.res.plural, t.ns, t.name)
	if cur == nil {
		return nil, notFound(t.res, t.name)
	}
	var next obj
	if err := jsonUnmarshal(body, &next); err != nil || next == nil {
		return nil, badRequest(fmt.Sprintf("the body of the request was in an unknown format: %v", err))
	}
	if n := name(next); n != t.name {
		return nil, badRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", n, t.name))
	}
	if rv := mstr(next, "metadata", "resourceVersion"); rv != "" && rv != mstr(cur, "metadata", "resourceVersion") {
		return nil, conflict(t)
	}
	return s.commit(t, cur, keepStatus(t, cur, next), dry)
}

func conflict(t target) *apiErr {
	return &apiErr{409, "Conflict", fmt.Sprintf("Operation cannot be fulfilled on %s %q: the object has been modified; please apply your changes to the latest version and try again", qualified(t.res), t.name),
		obj{"name": t.name, "group": t.res.group, "kind": t.res.plural}}
}

func patchErr(err error) *apiErr {
	if err == errUnsupportedPatch {
		return &apiErr{415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json", nil}
	}
	if strings.HasPrefix(err.Error(), "invalid JSON") {
		return badRequest(err.Error())
	}
	return &apiErr{422, "Invalid", err.Error(), nil}
}

func (s *Server) patch(t target, ctype string, body []byte, dry bool) (obj, *apiErr) {
	cur := s.store.get(t.res.plural, t.ns, t.name)
	if cur == nil {
		return nil, notFound(t.res, t.name)
	}
	next, err := applyPatch(ctype, cur, body)
	if err != nil {
		return nil, patchErr(err)
	}
	if rv := mstr(next, "metadata", "resourceVersion"); rv != mstr(cur, "metadata", "resourceVersion") && rv != "" {
		return nil, conflict(t)
	}
	return s.commit(t, cur, keepStatus(t, cur, next), dry)
}

func scaleOf(o obj) obj {
	sel := map[string]string{}
	for k, v := range mmap(o, "spec", "selector", "matchLabels") {
		sel[k] = fmt.Sprint(v)
	}
	m := mmap(o, "metadata")
	return obj{"kind": "Scale", "apiVersion": "autoscaling/v1",
		"metadata": obj{"name": m["name"], "namespace": m["namespace"], "uid": m["uid"], "resourceVersion": m["resourceVersion"],
			"creationTimestamp": m["creationTimestamp"]},
		"spec": obj{"replicas": mget(o, "spec", "replicas")}, "status": obj{"replicas": mget(o, "status", "replicas"), "selector": joinLabels(sel)}}
}

func (s *Server) scale(r *http.Request, t target, body []byte, dry bool) (obj, *apiErr) {
	cur := s.store.get(t.res.plural, t.ns, t.name)
	if cur == nil {
		return nil, notFound(t.res, t.name)
	}
	var sc obj
	switch r.Method {
	case "GET":
		return scaleOf(cur), nil
	case "PUT":
		if err := jsonUnmarshal(body, &sc); err != nil || sc == nil {
			return nil, badRequest(fmt.Sprintf("the body of the request was in an unknown format: %v", err))
		}
		if rv := mstr(sc, "metadata", "resourceVersion"); rv != "" && rv != mstr(cur, "metadata", "resourceVersion") {
			return nil, conflict(t)
		}
	case "PATCH":
		var err error
		if sc, err = applyPatch(r.Header.Get("Content-Type"), scaleOf(cur), body); err != nil {
			return nil, patchErr(err)
		}
	default:
		return nil, &apiErr{405, "MethodNotAllowed", "the server does not allow this method on the requested resource", nil}
	}
	n, ok := mint(sc, "spec", "replicas")
	if !ok || n < 0 {
		return nil, &apiErr{422, "Invalid", fmt.Sprintf("Scale.autoscaling %q is invalid: spec.replicas: Invalid value: %s: must be greater than or equal to 0",
			t.name, mustJSON(mget(sc, "spec", "replicas"))), nil}
	}
	next := copyObj(cur)
	next["spec"].(obj)["replicas"] = float64(n)
	out, e := s.commit(t, cur, next, dry)
	if e != nil {
		return nil, e
	}
	return scaleOf(out), nil
}

func (s *Server) delete(r *http.Request, t target, body []byte, dry bool) (interface{}, *apiErr) {
	cur := s.store.get(t.res.plural, t.ns, t.name)
	if cur == nil {
		return nil, notFound(t.res, t.name)
	}
	var opts obj
	if len(bytes.TrimSpace(body)) > 0 {
		if err := jsonUnmarshal(body, &opts); err != nil {
			return nil, badRequest(err.Error())
		}
	}
	policy := mstr(opts, "propagationPolicy")
	if p := r.URL.Query().Get("propagationPolicy"); p != "" {
		policy = p
	}
	switch policy {
	case "", "Background", "Foreground", "Orphan":
	default:
		return nil, badRequest(fmt.Sprintf("DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: %q", policy))
	}
	if uid := mstr(opts, "preconditions", "uid"); uid != "" && uid != mstr(cur, "metadata", "uid") {
		return nil, conflict(t)
	}
	if rv := mstr(opts, "preconditions", "resourceVersion"); rv != "" && rv != mstr(cur, "metadata", "resourceVersion") {
		return nil, conflict(t)
	}
	gone := copyObj(cur)
	meta(gone)["deletionTimestamp"] = rfc3339(time.Now())
	meta(gone)["deletionGracePeriodSeconds"] = float64(0)
	if !dry {
		if policy == "Orphan" {
			s.orphan(mstr(cur, "metadata", "uid"))
		}
		s.store.remove(t.res.plural, t.ns, t.name)
		s.store.reconcile()
		s.podDeleted(cur)
	}
	if t.res.kind == "Pod" {
		return gone, nil
	}
	return statusObj("Success", 0, "", "", obj{"name": t.name, "group": t.res.group, "kind": t.res.plural,
		"uid": mstr(cur, "metadata", "uid")}), nil
}

// orphan drops the owner reference to uid from its dependents.
func (s *Server) orphan(uid string) {
	for _, k := range sortedKeys(s.store.objs) {
		o := s.store.objs[k]
		if !ownedBy(o, uid) {
			continue
		}
		o = copyObj(o)
		var keep []interface{}
		for _, ref := range mlist(o, "metadata", "ownerReferences") {
			if mstr(ref, "uid") != uid {
				keep = append(keep, ref)
			}
		}
		if keep == nil {
			delete(meta(o), "ownerReferences")
		} else {
			meta(o)["ownerReferences"] = keep
		}
		s.store.put(o)
	}
}

// lookup copies one object out of the store, or answers 404 and returns nil.
func (s *Server) lookup(w http.ResponseWriter, res *resDef, ns, n string) obj {
	s.store.mu.Lock()
	o := copyObj(s.store.get(res.plural, ns, n))
	s.store.mu.Unlock()
	if o == nil {
		writeErr(w, notFound(res, n))
	}
	return o
}

// logs answers pods/NAME/log with fixed lines per container.
func (s *Server) logs(w http.ResponseWriter, r *http.Request, t target) {
	pod := s.lookup(w, t.res, t.ns, t.name)
	if pod == nil {
		return
	}
	container, e := pickContainer(pod, r.URL.Query().Get("container"))
	if e != nil {
		writeErr(w, e)
		return
	}
	start, what := mstr(pod, "status", "startTime"), "lab log line"
	if r.URL.Query().Get("previous") == "true" {
		if restarts(pod, container) == 0 {
			writeErr(w, badRequest(fmt.Sprintf("previous terminated container %q in pod %q not found", container, t.name)))
			return
		}
		what = "lab previous log line"
	}
	var lines []string
	for i := 1; i <= 20; i++ {
		lines = append(lines, fmt.Sprintf("%s level=info container=%s pod=%s msg=\"%s %d\"", start, container, t.name, what, i))
	}
	if n, err := strconv.Atoi(r.URL.Query().Get("tailLines")); err == nil && n >= 0 && n < len(lines) {
		lines = lines[len(lines)-n:]
	}
	w.Header().Set("Content-Type", "text/plain")
	out := strings.Join(lines, "\n")
	if len(lines) > 0 {
		out += "\n"
	}
	if n, err := strconv.Atoi(r.URL.Query().Get("limitBytes")); err == nil && n > 0 && n < len(out) {
		out = out[:n]
	}
	w.Write([]byte(out))
}

// restarts is the container's restartCount in the pod's status.
func restarts(pod obj, container string) int {
	for _, c := range mlist(pod, "status", "containerStatuses") {
		if mstr(c, "name") == container {
			n, _ := mint(c, "restartCount")
			return n
		}
	}
	return 0
}

// pickContainer applies kubectl's default: the only container, or an error
// naming the choices.
func pickContainer(pod obj, want string) (string, *apiErr) {
	var names []string
	for _, c := range mlist(pod, "spec", "containers") {
		names = append(names, mstr(c, "name"))
	}
	if want == "" {
		if len(names) == 1 {
			return names[0], nil
		}
		return "", badRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: [%s]", name(pod), strings.Join(names, " ")))
	}
	for _, n := range names {
		if n == want {
			return n, nil
		}
	}
	return "", badRequest(fmt.Sprintf("container %s is not valid for pod %s", want, name(pod)))
}
