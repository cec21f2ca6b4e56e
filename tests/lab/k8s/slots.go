// slots.go: pods that differ. A proxy TARGET may name a pool of backends (a
// "$VAR" whose value is a comma list, e.g. one TMI simulator process per
// pod); each live pod of an app then owns one slot of the pool: the lowest
// slot no other live pod of its app and namespace holds, in creation order,
// kept for the pod's life. A replacement pod takes over the slot (and so the
// process, which podDeleted has restarted) of the pod it replaces, as a new
// container would start fresh. Services spread requests over the pool.
//
// With -pod-targets FILE the stand-in keeps FILE, a Prometheus file_sd list,
// in step with the pods: one target per proxied pod (of the apps named by
// -pod-targets-app, e.g. tmi-api: pods that serve /metrics), labels job (its
// app label), namespace and pod, so Prometheus scrapes each pod as its own
// target, as kubernetes_sd would.
package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

type slotTable struct {
	mu   sync.Mutex
	live map[string]int // uid of a live pod -> its slot
	ever map[string]int // every uid that ever held a slot (a deleted pod's backend)
	rr   int            // round robin for services
}

// assignSlotsLocked gives every live pod without a slot the lowest free one
// of its app; the caller holds s.store.mu.
func (s *Server) assignSlotsLocked() {
	pods := s.store.list("pods", "")
	sort.SliceStable(pods, func(i, j int) bool {
		return mstr(pods[i], "metadata", "uid") < mstr(pods[j], "metadata", "uid")
	})
	t := &s.slots
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ever == nil {
		t.ever = map[string]int{}
	}
	live, used := map[string]int{}, map[string]map[int]bool{}
	group := func(p obj) string { return mstr(p, "metadata", "namespace") + "/" + labelsOf(p)["app"] }
	for _, p := range pods {
		uid := mstr(p, "metadata", "uid")
		if v, ok := t.live[uid]; ok {
			live[uid] = v
			if used[group(p)] == nil {
				used[group(p)] = map[int]bool{}
			}
			used[group(p)][v] = true
		}
	}
	for _, p := range pods {
		uid, g := mstr(p, "metadata", "uid"), group(p)
		if _, ok := live[uid]; ok {
			continue
		}
		if used[g] == nil {
			used[g] = map[int]bool{}
		}
		n := 0
		for used[g][n] {
			n++
		}
		live[uid], t.ever[uid] = n, n
		used[g][n] = true
	}
	t.live = live
}

// assignSlots is assignSlotsLocked for callers that do not hold the store lock.
func (s *Server) assignSlots() {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	s.assignSlotsLocked()
}

// slotOf is the pool slot of a pod (live or deleted) or the next round-robin
// slot for a service.
func (s *Server) slotOf(plural string, o obj) int {
	t := &s.slots
	t.mu.Lock()
	defer t.mu.Unlock()
	if plural != "pods" {
		t.rr++
		return t.rr
	}
	uid := mstr(o, "metadata", "uid")
	if v, ok := t.live[uid]; ok {
		return v
	}
	return t.ever[uid]
}

// podTargets is the file_sd content for the live proxied pods of the apps
// (app labels) given, or of every app when none is.
func (s *Server) podTargets(apps map[string]bool) []byte {
	s.store.mu.Lock()
	s.assignSlotsLocked()
	pods := s.store.list("pods", "")
	s.store.mu.Unlock()
	type group struct {
		Targets []string          `json:"targets"`
		Labels  map[string]string `json:"labels"`
	}
	out := []group{}
	for _, p := range pods {
		if len(apps) > 0 && !apps[labelsOf(p)["app"]] {
			continue
		}
		port := s.lookupProxy("pods", p, firstPort("pods", p), s.slotOf("pods", p))
		if port == 0 {
			continue
		}
		out = append(out, group{[]string{fmt.Sprintf("127.0.0.1:%d", port)},
			map[string]string{"job": labelsOf(p)["app"], "namespace": mstr(p, "metadata", "namespace"), "pod": name(p)}})
	}
	b, _ := json.Marshal(out)
	return append(b, '\n')
}

// keepPodTargets rewrites path whenever the proxied pods of apps (a comma
// list of app labels; empty: all) or their backends change (checked every
// half second).
func (s *Server) keepPodTargets(path, apps string) {
	want := map[string]bool{}
	for _, a := range splitPool(apps) {
		want[a] = true
	}
	var last []byte
	for {
		if b := s.podTargets(want); string(b) != string(last) {
			if err := writeFileAtomic(path, b, 0644); err == nil {
				last = b
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// splitPool is the backends of a pool value ("a,b,c"), or the value alone.
func splitPool(v string) []string {
	var out []string
	for _, x := range strings.Split(v, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
