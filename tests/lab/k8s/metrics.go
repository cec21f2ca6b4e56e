// metrics.go: metrics.k8s.io/v1beta1 PodMetrics and NodeMetrics with fixed,
// plausible usage per container name, in the units metrics-server reports
// (nanocores, Ki), so `kubectl top pods|nodes` works.
package main

import (
	"encoding/json"
	"net/http"
	"time"
)

var containerUsage = map[string][2]string{
	"tmi-api":  {"251043213n", "318012Ki"},
	"postgres": {"84120555n", "524288Ki"},
	"redis":    {"12004411n", "41232Ki"},
}

var nodeUsage = map[string][2]string{
	"lab-node-1": {"912345678n", "4194304Ki"},
	"lab-node-2": {"534567890n", "3145728Ki"},
}

func usage(cpu, mem string) obj { return obj{"cpu": cpu, "memory": mem} }

func podMetrics(p obj, now string) obj {
	var cs []interface{}
	for _, c := range mlist(p, "spec", "containers") {
		u, ok := containerUsage[mstr(c, "name")]
		if !ok {
			u = [2]string{"1000000n", "10240Ki"}
		}
		cs = append(cs, obj{"name": mstr(c, "name"), "usage": usage(u[0], u[1])})
	}
	return obj{"kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
		"metadata": obj{"name": name(p), "namespace": mstr(p, "metadata", "namespace"), "labels": mmap(p, "metadata", "labels"),
			"creationTimestamp": now},
		"timestamp": now, "window": "30s", "containers": cs}
}

func nodeMetrics(n obj, now string) obj {
	u, ok := nodeUsage[name(n)]
	if !ok {
		u = [2]string{"100000000n", "1048576Ki"}
	}
	return obj{"kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
		"metadata":  obj{"name": name(n), "labels": mmap(n, "metadata", "labels"), "creationTimestamp": now},
		"timestamp": now, "window": "30s", "usage": usage(u[0], u[1])}
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request, t target) {
	if r.Method != "GET" {
		writeErr(w, &apiErr{405, "MethodNotAllowed", "the server does not allow this method on the requested resource", nil})
		return
	}
	match, err := buildMatcher(r.URL.Query().Get("labelSelector"), r.URL.Query().Get("fieldSelector"))
	if err != nil {
		writeErr(w, badRequest(err.Error()))
		return
	}
	now := rfc3339(time.Now())
	conv := podMetrics
	if t.res.plural == "nodes" {
		conv = nodeMetrics
	}
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	if t.name != "" {
		o := s.store.get(t.res.plural, t.ns, t.name)
		if o == nil {
			writeErr(w, notFound(t.res, t.name))
			return
		}
		writeJSON(w, 200, conv(o, now))
		return
	}
	items := []interface{}{}
	for _, o := range s.store.list(t.res.plural, t.ns) {
		if match(o) {
			items = append(items, conv(o, now))
		}
	}
	b, _ := json.Marshal(obj{"kind": t.res.kind + "List", "apiVersion": "metrics.k8s.io/v1beta1", "metadata": obj{}, "items": items})
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}
