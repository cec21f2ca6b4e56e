// lifecycle.go: what happens to the real process behind stand-in pods when a
// cluster would replace them. Each tmi-api pod proxies to its own local
// process (a TMI simulator, slots.go); deleting such a pod restarts its
// process's state (POST /admin/restart) for the replacement, and changing its
// deployment's pod template (set env, set resources, rollout restart)
// restarts every process of the pool (POST /admin/restart) after applying the template's env (POST
// /admin/config?K=V), so a resolve step's effect shows on the real process
// as it would after a real rollout. Pods without a proxy mapping are left alone.
package main

import (
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// backendPort is the local port a pod's first container port proxies to
// (its slot's, for a pool), or 0. The caller holds s.store.mu.
func (s *Server) backendPort(pod obj) int {
	s.assignSlotsLocked()
	return s.lookupProxy("pods", pod, firstPort("pods", pod), s.slotOf("pods", pod))
}

// templatePod is a pod-shaped view of a deployment's template, for lookups.
func templatePod(d obj) obj {
	tmpl := mmap(d, "spec", "template")
	labels := mmap(tmpl, "metadata", "labels")
	return obj{"metadata": obj{"name": name(d), "labels": labels}, "spec": mmap(tmpl, "spec")}
}

// notifyBackend posts to the backend's admin paths in order before the API
// call returns (bounded), so the replacement is "running" when the client
// sees the write succeed, as a fresh process would be.
func notifyBackend(port int, paths ...string) {
	c := http.Client{Timeout: 3 * time.Second}
	for _, p := range paths {
		resp, err := c.Post(fmt.Sprintf("http://127.0.0.1:%d%s", port, p), "text/plain", nil)
		if err == nil {
			resp.Body.Close()
		}
	}
}

func (s *Server) podDeleted(pod obj) {
	if mstr(pod, "kind") != "Pod" {
		return
	}
	if port := s.backendPort(pod); port > 0 {
		notifyBackend(port, "/admin/restart")
	}
}

func (s *Server) templateChanged(cur, next obj) {
	if mstr(next, "kind") != "Deployment" || jsonEqual(mmap(cur, "spec", "template"), mmap(next, "spec", "template")) {
		return
	}
	pod := templatePod(next)
	ports := s.resolvePorts(s.proxyTarget("pods", pod, firstPort("pods", pod)))
	q := url.Values{}
	for _, c := range mlist(next, "spec", "template", "spec", "containers") {
		for _, e := range mlist(c, "env") {
			if n := mstr(e, "name"); n != "" {
				q.Set(n, mstr(e, "value"))
			}
		}
		break
	}
	for _, port := range ports { /* a rollout replaces every pod: each backend of the pool */
		notifyBackend(port, "/admin/config?"+q.Encode(), "/admin/restart")
	}
}
