// proxy.go: pods/NAME[:PORT]/proxy/PATH and services/NAME[:PORT]/proxy/PATH
// forwarded to real local processes. The map (from -proxy at start, or
// POST /__lab/proxy) is {"pods"|"services": {NAME-or-app-label: {PORT-or-"*":
// TARGET}}}, TARGET being a local port number, an http://127.0.0.1:PORT URL,
// "$VAR" (looked up when a request comes, in LABDIR/*.env then the
// environment, so services started after this one can be named; a value
// that is a comma list is a pool: each pod gets its own backend, slots.go) or
// a list of these (the first that resolves wins). An unmapped or unresolved backend
// answers 503 like a dead one.
package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

type proxyConfig map[string]map[string]map[string]interface{}

// labEnv reads the KEY=value lines of the lab's env files (LABDIR/*.env).
func (s *Server) labEnv() []string {
	var out []string
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(s.dir), "*.env"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "=") {
				out = append(out, strings.TrimSpace(line))
			}
		}
	}
	return out
}

// envValue finds VAR in the lab's env files, then in the environment.
func (s *Server) envValue(name string) string {
	for _, line := range s.labEnv() {
		if strings.HasPrefix(line, name+"=") {
			return strings.TrimPrefix(line, name+"=")
		}
	}
	return os.Getenv(name)
}

// portOf is the 127.0.0.1 port of one backend ("http://127.0.0.1:P", "127.0.0.1:P", "P"), or 0.
func portOf(t string) int {
	for _, prefix := range []string{"http://127.0.0.1:", "127.0.0.1:", ""} {
		if strings.HasPrefix(t, prefix) {
			if p, err := strconv.Atoi(strings.TrimRight(strings.TrimPrefix(t, prefix), "/")); err == nil && p > 0 {
				return p
			}
		}
	}
	return 0
}

// resolvePorts turns a TARGET into its pool of 127.0.0.1 ports (one port
// unless it names a comma list); nil when it does not resolve.
func (s *Server) resolvePorts(v interface{}) []int {
	switch t := v.(type) {
	case float64:
		return []int{int(t)}
	case []interface{}:
		for _, x := range t {
			if p := s.resolvePorts(x); len(p) > 0 {
				return p
			}
		}
	case string:
		if strings.HasPrefix(t, "$") {
			t = s.envValue(t[1:])
		}
		var out []int
		for _, b := range splitPool(t) {
			if p := portOf(b); p > 0 {
				out = append(out, p)
			}
		}
		return out
	}
	return nil
}

// resolvePort is the port of slot (modulo the pool's size) of a TARGET, or 0.
func (s *Server) resolvePort(v interface{}, slot int) int {
	ps := s.resolvePorts(v)
	if len(ps) == 0 {
		return 0
	}
	return ps[slot%len(ps)]
}

func (s *Server) addProxies(add proxyConfig) {
	s.proxyMu.Lock()
	defer s.proxyMu.Unlock()
	for kind, names := range add {
		if s.proxies[kind] == nil {
			s.proxies[kind] = map[string]map[string]interface{}{}
		}
		for n, ports := range names {
			if s.proxies[kind][n] == nil {
				s.proxies[kind][n] = map[string]interface{}{}
			}
			for p, local := range ports {
				s.proxies[kind][n][p] = local
			}
		}
	}
}

// proxyTarget finds the TARGET for an object and a port (number or name), or nil.
func (s *Server) proxyTarget(plural string, o obj, port string) interface{} {
	s.proxyMu.Lock()
	defer s.proxyMu.Unlock()
	for _, key := range []string{name(o), labelsOf(o)["app"]} {
		ports := s.proxies[plural][key]
		if v, ok := ports[port]; ok && key != "" {
			return v
		}
		if v, ok := ports["*"]; ok && key != "" {
			return v
		}
	}
	return nil
}

// lookupProxy finds the local port for an object, a port and a pool slot (slots.go).
func (s *Server) lookupProxy(plural string, o obj, port string, slot int) int {
	return s.resolvePort(s.proxyTarget(plural, o, port), slot)
}

func firstPort(plural string, o obj) string {
	if plural == "services" {
		if ps := mlist(o, "spec", "ports"); len(ps) > 0 {
			return mstr(ps[0], "port")
		}
	}
	for _, c := range mlist(o, "spec", "containers") {
		if ps := mlist(c, "ports"); len(ps) > 0 {
			return mstr(ps[0], "containerPort")
		}
	}
	return "80"
}

// portNumber resolves a named port of a service or a pod's containers.
func portNumber(plural string, o obj, port string) string {
	var ports []interface{}
	if plural == "services" {
		ports = mlist(o, "spec", "ports")
	} else {
		for _, c := range mlist(o, "spec", "containers") {
			ports = append(ports, mlist(c, "ports")...)
		}
	}
	for _, p := range ports {
		if mstr(p, "name") == port {
			if n := mstr(p, "port"); n != "" {
				return n
			}
			return mstr(p, "containerPort")
		}
	}
	return port
}

var hopHeaders = []string{"Authorization", "Connection", "Keep-Alive", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func (s *Server) proxy(w http.ResponseWriter, r *http.Request, body []byte, t target) {
	if t.res.plural != "pods" && t.res.plural != "services" {
		writeErr(w, &apiErr{404, "NotFound", "the server could not find the requested resource", nil})
		return
	}
	parts := strings.Split(t.name, ":")
	objName, port := parts[0], ""
	switch len(parts) {
	case 2:
		port = parts[1]
	case 3:
		objName, port = parts[1], parts[2]
	}
	o := s.lookup(w, t.res, t.ns, objName)
	if o == nil {
		return
	}
	if port == "" {
		port = firstPort(t.res.plural, o)
	}
	s.assignSlots()
	local := s.lookupProxy(t.res.plural, o, port, s.slotOf(t.res.plural, o))
	if local == 0 {
		ip := mstr(o, "status", "podIP")
		if t.res.plural == "services" {
			ip = mstr(o, "spec", "clusterIP")
		}
		writeErr(w, &apiErr{503, "ServiceUnavailable",
			fmt.Sprintf("error trying to reach service: dial tcp %s:%s: connect: connection refused", ip,
				portNumber(t.res.plural, o, port)), nil})
		return
	}
	/* the path after .../NAME/proxy, trailing slash kept */
	ep := r.URL.EscapedPath()
	marker := "/" + t.name + "/proxy"
	rest := "/"
	if i := strings.Index(ep, marker); i >= 0 && len(ep) > i+len(marker) {
		rest = ep[i+len(marker):]
	}
	url := fmt.Sprintf("http://127.0.0.1:%d%s", local, rest)
	if r.URL.RawQuery != "" {
		url += "?" + r.URL.RawQuery
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, url, bytes.NewReader(body))
	if err != nil {
		writeErr(w, badRequest(err.Error()))
		return
	}
	req.Header = r.Header.Clone()
	for _, h := range hopHeaders {
		req.Header.Del(h)
	}
	client := &http.Client{Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		writeErr(w, &apiErr{503, "ServiceUnavailable", "error trying to reach service: " + err.Error(), nil})
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, h := range hopHeaders {
		w.Header().Del(h)
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}
