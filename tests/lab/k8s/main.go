// k8s-lab: a Kubernetes API server stand-in for the runbook tests (Go
// standard library only). It serves over TLS on 127.0.0.1 with a CA made at
// start, accepts a bearer token or a client certificate signed by that CA,
// keeps namespace tmi in memory (store.go, fixture.go, controllers.go),
// answers discovery, Table, patch, server-side apply, scale, dryRun,
// metrics, proxy and WebSocket exec requests, and appends one JSON line per
// request to a log. A handler that panics gets a 500 and a stack in the log.
//
//	k8s-lab -dir STATE [-proxy proxy.json] [-pod-targets FILE [-pod-targets-app APP,...]]
//	k8s-lab -echo ADDRFILE
//
// The first writes STATE/{ca,server,client}.{crt,key}, STATE/token,
// STATE/requests.log and, once listening, STATE/addr ("127.0.0.1:PORT").
// The second is a plain-HTTP echo backend for proxy tests: it answers every
// request with a JSON description of it and writes its address to ADDRFILE.
package main

import (
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

type Server struct {
	store   *Store
	token   string
	addr    string
	dir     string
	logMu   sync.Mutex
	logPath string
	proxyMu sync.Mutex
	proxies proxyConfig
	faultMu sync.Mutex
	fault   fault
	slots   slotTable
}

// fault is what /__lab/fault sets for every API request until cleared:
// a delay before answering (a hung server) and/or a fixed error status, and
// for exec the only WebSocket subprotocol accepted (ws=v4: an older server).
type fault struct {
	hang   time.Duration
	status int
	ws     string
}

// recorder keeps the status code for the request log and still lets exec
// hijack the connection and watch flush it.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Hijack() (net.Conn, *bufioReadWriter, error) {
	return hijack(r.ResponseWriter)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// authenticate returns the user name, or "" for a 401.
func (s *Server) authenticate(r *http.Request) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		if subtle.ConstantTimeCompare([]byte(strings.TrimPrefix(h, "Bearer ")), []byte(s.token)) == 1 {
			return "token:lab-admin"
		}
		return ""
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		return "cert:" + r.TLS.VerifiedChains[0][0].Subject.CommonName
	}
	return ""
}

func (s *Server) logRequest(r *http.Request, body []byte, user string, status int) {
	entry := obj{"time": time.Now().UTC().Format(time.RFC3339Nano), "method": r.Method, "path": r.URL.Path,
		"query": r.URL.RawQuery, "dryRun": strings.Join(dryRunValues(r, body), ","),
		"contentType": r.Header.Get("Content-Type"), "accept": r.Header.Get("Accept"),
		"userAgent": r.Header.Get("User-Agent"), "user": user, "status": status}
	if len(body) > 0 {
		var v interface{}
		if json.Unmarshal(body, &v) == nil {
			entry["body"] = v
		} else {
			entry["body"] = string(body)
		}
	}
	line, _ := json.Marshal(entry)
	s.logMu.Lock()
	defer s.logMu.Unlock()
	f, err := os.OpenFile(s.logPath, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0644)
	if err != nil {
		log.Printf("request log: %v", err)
		return
	}
	f.Write(append(line, '\n'))
	f.Close()
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/__lab/") {
		s.lab(w, r, body)
		return
	}
	rec := &recorder{ResponseWriter: w, status: 200}
	user := s.authenticate(r)
	defer func() { s.logRequest(r, body, user, rec.status) }()
	defer recoverPanic(rec, r)
	if s.injectFault(rec, r) {
		return
	}
	if user == "" {
		writeErr(rec, &apiErr{401, "Unauthorized", "Unauthorized", nil})
		return
	}
	s.route(rec, r, body)
}

// recoverPanic answers a request whose handler panicked with a 500 Status,
// as the API server's panic filter does, and writes the stack to the
// stand-in's log (stderr) so the bug can be found.
func recoverPanic(w *recorder, r *http.Request) {
	p := recover()
	if p == nil || p == http.ErrAbortHandler {
		if p != nil {
			panic(p)
		}
		return
	}
	log.Printf("panic serving %s %s: %v\n%s", r.Method, r.URL, p, debug.Stack())
	writeErr(w, &apiErr{500, "InternalError", fmt.Sprintf("Internal error occurred: %v", p), nil})
}

// injectFault applies the current fault; true when it answered the request.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request) bool {
	s.faultMu.Lock()
	f := s.fault
	s.faultMu.Unlock()
	if f.hang > 0 {
		select {
		case <-time.After(f.hang):
		case <-r.Context().Done():
			return true
		}
	}
	if f.status != 0 {
		writeErr(w, &apiErr{f.status, http.StatusText(f.status), "lab fault: " + http.StatusText(f.status), nil})
		return true
	}
	return false
}

func (s *Server) setFault(f fault) {
	s.faultMu.Lock()
	s.fault = f
	s.faultMu.Unlock()
}

// lab serves the test-only endpoints (no credentials needed, TLS still).
func (s *Server) lab(w http.ResponseWriter, r *http.Request, body []byte) {
	switch r.URL.Path {
	case "/__lab/fault":
		var f fault
		q := r.URL.Query()
		if v := q.Get("hang"); v != "" {
			secs, err := strconv.ParseFloat(v, 64)
			if err != nil || secs < 0 || secs > 600 {
				http.Error(w, "hang=SECONDS (0..600)", http.StatusBadRequest)
				return
			}
			f.hang = time.Duration(secs * float64(time.Second))
		}
		if v := q.Get("status"); v != "" {
			code, err := strconv.Atoi(v)
			if err != nil || code < 400 || code > 599 {
				http.Error(w, "status=CODE (400..599)", http.StatusBadRequest)
				return
			}
			f.status = code
		}
		if v := q.Get("ws"); v != "" {
			if v != "v4" && v != "v5" {
				http.Error(w, "ws=v4|v5", http.StatusBadRequest)
				return
			}
			f.ws = v + ".channel.k8s.io"
		}
		s.setFault(f)
		writeJSON(w, 200, obj{"ok": true, "hangSeconds": f.hang.Seconds(), "status": f.status, "ws": f.ws})
	case "/__lab/reset":
		s.setFault(fault{})
		s.store.reset()
		s.logMu.Lock()
		os.WriteFile(s.logPath, nil, 0644)
		s.logMu.Unlock()
		writeJSON(w, 200, obj{"ok": true})
	case "/__lab/state":
		s.store.mu.Lock()
		var objs interface{} = s.store.objs
		if r.URL.Query().Get("normalize") != "" {
			objs = deepCopy(objs)
			normalizeTimes(objs)
		}
		b, _ := json.Marshal(obj{"resourceVersion": fmt.Sprint(s.store.rv), "objects": objs})
		s.store.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	case "/__lab/proxy":
		var add proxyConfig
		if err := json.Unmarshal(body, &add); r.Method != "POST" || err != nil {
			http.Error(w, "POST a JSON proxy map", http.StatusBadRequest)
			return
		}
		s.addProxies(add)
		writeJSON(w, 200, obj{"ok": true})
	case "/__lab/healthz":
		w.Write([]byte("ok"))
	default:
		http.NotFound(w, r)
	}
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// runEcho serves the echo backend on a kernel-chosen 127.0.0.1 port.
func runEcho(addrFile string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(addrFile, []byte(ln.Addr().String()), 0644); err != nil {
		return err
	}
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		writeJSON(w, 200, obj{"echo": true, "method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery,
			"headers": r.Header, "body": string(body)})
	}))
}

func main() {
	dir := flag.String("dir", "", "state directory (certificates, token, request log, addr)")
	proxyFile := flag.String("proxy", "", "JSON map of pod/service names to 127.0.0.1 ports for .../proxy/")
	echoAddr := flag.String("echo", "", "run the echo backend instead, writing its address to this file")
	podTargets := flag.String("pod-targets", "", "keep this Prometheus file_sd file listing each proxied pod (slots.go)")
	podTargetsApp := flag.String("pod-targets-app", "", "only pods with these app labels (comma list) in -pod-targets")
	flag.Parse()
	if *echoAddr != "" {
		log.Fatal(runEcho(*echoAddr))
	}
	if *dir == "" {
		log.Fatal("usage: k8s-lab -dir STATE [-proxy proxy.json]")
	}
	if err := os.MkdirAll(*dir, 0755); err != nil {
		log.Fatal(err)
	}
	p, err := makePKI(*dir)
	if err != nil {
		log.Fatal(err)
	}
	s := &Server{store: NewStore(), token: randomHex(24), dir: *dir, logPath: filepath.Join(*dir, "requests.log"),
		proxies: proxyConfig{}}
	if *proxyFile != "" {
		b, err := os.ReadFile(*proxyFile)
		var cfg proxyConfig
		if err == nil {
			err = json.Unmarshal(b, &cfg)
		}
		if err != nil {
			log.Fatalf("proxy config %s: %v", *proxyFile, err)
		}
		s.addProxies(cfg)
	}
	if err := os.WriteFile(s.logPath, nil, 0644); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*dir, "token"), []byte(s.token), 0600); err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	s.addr = ln.Addr().String()
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{p.server}, ClientAuth: tls.VerifyClientCertIfGiven,
		ClientCAs: p.clientCA, NextProtos: []string{"http/1.1"}, MinVersion: tls.VersionTLS12}
	/* HTTP/1.1 only: exec upgrades the connection, which HTTP/2 cannot */
	srv := &http.Server{Handler: s, TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	if err := writeFileAtomic(filepath.Join(*dir, "addr"), []byte(s.addr), 0644); err != nil {
		log.Fatal(err)
	}
	if *podTargets != "" {
		go s.keepPodTargets(*podTargets, *podTargetsApp)
	}
	log.Printf("k8s-lab listening on https://%s", s.addr)
	log.Fatal(srv.Serve(tls.NewListener(ln, tlsCfg)))
}
