// api.go: request routing and the verbs (get, list, watch, create, update,
// patch, delete, the scale and status subresources; server-side apply is in
// apply.go) with dryRun=All, resourceVersion preconditions,
// metadata.generation and the namespace rules (a namespaced object only in a
// namespace that exists; none for a cluster-scoped one), decoding and
// defaults (defaults.go) and validation (validate*.go) on every write,
// answering errors as metav1.Status objects the way kubectl expects them.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
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
	dry := false
	for _, v := range dryRunValues(r, body) {
		if v != "All" {
			writeErr(w, badRequest(fmt.Sprintf("unsupported dry run value %q: only All is accepted", v)))
			return
		}
		dry = true
	}
	if t.name == "" && r.Method == "GET" {
		s.list(w, r, t)
		return
	}
	b, code, e := s.write(r, body, t, dry)
	if e != nil {
		writeErr(w, e)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

// write runs one verb on one object under the store's lock (released even
// when a verb panics, so one bad request cannot hang the ones after it) and
// returns the encoded answer.
func (s *Server) write(r *http.Request, body []byte, t target, dry bool) ([]byte, int, *apiErr) {
	var out interface{}
	code := 200
	var e *apiErr
	if r.Method == "POST" || r.Method == "PUT" {
		var e *apiErr
		if body, e = requestJSON(r.Header.Get("Content-Type"), body); e != nil {
			return nil, 0, e
		}
	}
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	switch {
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
	case r.Method == "PATCH" && isApplyPatch(r.Header.Get("Content-Type")):
		out, code, e = s.serverSideApply(r, t, body, dry)
	case r.Method == "PATCH":
		out, e = s.patch(t, r.Header.Get("Content-Type"), body, dry)
	case r.Method == "DELETE":
		out, e = s.delete(r, t, body, dry)
	default:
		e = &apiErr{405, "MethodNotAllowed", "the server does not allow this method on the requested resource", nil}
	}
	if e != nil {
		return nil, 0, e
	}
	if o, ok := out.(obj); ok && r.Method == "GET" && isTableAccept(r.Header.Get("Accept")) && mstr(o, "kind") == t.res.kind {
		out = toTable(t.res.kind, []obj{o}, fmt.Sprint(s.store.rv), r.URL.Query().Get("includeObject"))
	}
	b, _ := json.Marshal(out)
	return b, code, nil
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
	b := s.listed(t, match, isTableAccept(r.Header.Get("Accept")), q.Get("includeObject"))
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

// listed encodes the matching objects as a list or a Table, under the lock.
func (s *Server) listed(t target, match func(obj) bool, table bool, includeObject string) []byte {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	items := []obj{}
	for _, o := range s.store.list(t.res.plural, t.ns) {
		if match(o) {
			items = append(items, o)
		}
	}
	rv := fmt.Sprint(s.store.rv)
	var out obj
	if table {
		out = toTable(t.res.kind, items, rv, includeObject)
	} else {
		out = obj{"kind": t.res.kind + "List", "apiVersion": t.res.apiVersion(), "metadata": obj{"resourceVersion": rv}, "items": items}
	}
	b, _ := json.Marshal(out)
	return b
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
	return s.insert(t, o, dry)
}

// insert stores a new object (create, or server-side apply of a missing one).
func (s *Server) insert(t target, o obj, dry bool) (obj, *apiErr) {
	o["kind"], o["apiVersion"] = t.res.kind, t.res.apiVersion()
	pruneNulls(o)
	m := meta(o)
	if e := s.placeInNamespace(t, o); e != nil {
		return nil, e
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
	if e := admit(t.res, o); e != nil {
		return nil, e
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

// placeInNamespace puts a new object in the request's namespace, which
// must exist (a cluster-scoped object's namespace is cleared, as the server
// does).
func (s *Server) placeInNamespace(t target, o obj) *apiErr {
	m := meta(o)
	if !t.res.namespaced {
		delete(m, "namespace")
		return nil
	}
	if ns := mstr(o, "metadata", "namespace"); ns != "" && ns != t.ns {
		return badRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	if s.store.get("namespaces", "", t.ns) == nil {
		return &apiErr{404, "NotFound", fmt.Sprintf("namespaces %q not found", t.ns), obj{"name": t.ns, "kind": "namespaces"}}
	}
	m["namespace"] = t.ns
	return nil
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
	if e := admit(t.res, next); e != nil {
		return nil, e
	}
	if g, ok := mint(cur, "metadata", "generation"); ok && !jsonEqual(cur["spec"], next["spec"]) {
		m["generation"] = float64(g + 1)
	}
	if e := validateUpdate(cur, next); e != nil {
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
	ensure(next, "spec")["replicas"] = float64(n)
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
