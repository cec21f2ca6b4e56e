// pods.go — one simulator per pod. The lab runs one simulator process per
// tmi-api pod of the Kubernetes stand-in, which lists the pods and their
// processes in a Prometheus file_sd file (-pods-file: targets with labels
// pod, namespace, job). A fault switch with pod=NAME is forwarded to that
// pod's process, pod=all to every process (this one included); without pod
// it applies to the process that received it.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"
)

type podTarget struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// podAddrs reads the pods file: pod name -> 127.0.0.1:PORT.
func podAddrs(path string) (map[string]string, error) {
	if path == "" {
		return nil, fmt.Errorf("pod= needs the pods file (-pods-file): this simulator does not know the pods")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pods file: %v", err)
	}
	var groups []podTarget
	if err := json.Unmarshal(b, &groups); err != nil {
		return nil, fmt.Errorf("pods file %s: %v", path, err)
	}
	out := map[string]string{}
	for _, g := range groups {
		if p := g.Labels["pod"]; p != "" && len(g.Targets) > 0 {
			out[p] = g.Targets[0]
		}
	}
	return out, nil
}

// podsFor is the pods (name -> address) a pod= value selects, sorted names.
func podsFor(path, pod string) (map[string]string, []string, error) {
	all, err := podAddrs(path)
	if err != nil {
		return nil, nil, err
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	if pod == "all" {
		return all, names, nil
	}
	if a, ok := all[pod]; ok {
		return map[string]string{pod: a}, []string{pod}, nil
	}
	return nil, nil, fmt.Errorf("no pod %q (pods: %s)", pod, strings.Join(names, ", "))
}

// forwardToPods sends the request, without pod=, to each selected pod's
// process and answers {"pods": {NAME: its answer}}; the status is the
// worst of theirs.
func (a *app) forwardToPods(w http.ResponseWriter, r *http.Request, pod string) {
	addrs, names, err := podsFor(a.podsFile, pod)
	if err != nil {
		fail(w, http.StatusNotFound, err)
		return
	}
	q := r.URL.Query()
	q.Del("pod")
	client := http.Client{Timeout: 60 * time.Second}
	out, status := map[string]json.RawMessage{}, http.StatusOK
	for _, n := range names {
		u := url.URL{Scheme: "http", Host: addrs[n], Path: r.URL.Path, RawQuery: q.Encode()}
		resp, err := client.Post(u.String(), "text/plain", nil)
		if err != nil {
			out[n], _ = json.Marshal(map[string]string{"error": err.Error()})
			status = http.StatusBadGateway
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if !json.Valid(b) {
			b, _ = json.Marshal(map[string]string{"error": strings.TrimSpace(string(b))})
		}
		out[n] = b
		if resp.StatusCode > status {
			status = resp.StatusCode
		}
	}
	writeJSON(w, status, map[string]interface{}{"pods": out})
}
