// store.go: the object store (every object as unstructured JSON keyed by
// resource/namespace/name), resourceVersion and uid counters, watchers, and a
// deterministic pseudo-random source so that names made by the controllers
// are the same after every /__lab/reset for the same sequence of requests.
package main

import (
	"fmt"
	"sync"
	"time"
)

type watchEvent struct {
	typ string
	o   obj
}

type watcher struct {
	plural, ns string
	match      func(obj) bool
	ch         chan watchEvent
}

type Store struct {
	mu       sync.Mutex
	objs     map[string]obj
	rv       int64
	uidN     int
	ipN      int
	rng      uint64
	epoch    time.Time
	frozen   time.Time /* while non-zero, now() answers it (fixture loading) */
	watchers map[*watcher]bool
}

func key(plural, ns, n string) string { return plural + "/" + ns + "/" + n }

func NewStore() *Store {
	s := &Store{epoch: time.Now().Add(-2 * time.Hour).Truncate(time.Second), watchers: map[*watcher]bool{}}
	s.reset()
	return s
}

// reset restores the fixture; callers hold no lock.
func (s *Store) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objs = map[string]obj{}
	s.rv, s.uidN, s.ipN, s.rng = 1000, 0, 0, 0x5eed
	/* the fixture's pods, ReplicaSets and Endpoints date from a fixed
	   instant, so the state after every reset is the same */
	s.frozen = s.epoch.Add(time.Minute)
	loadFixture(s)
	s.reconcile()
	s.linkEvents()
	s.frozen = time.Time{}
}

// linkEvents gives the fixture's events the uid of the object they are
// about (made by the controllers after the events were loaded), which
// `kubectl describe` selects them by.
func (s *Store) linkEvents() {
	for _, ev := range s.list("events", "") {
		r := resByKind(mstr(ev, "involvedObject", "kind"))
		if r == nil || mstr(ev, "involvedObject", "uid") != "" {
			continue
		}
		if o := s.get(r.plural, mstr(ev, "involvedObject", "namespace"), mstr(ev, "involvedObject", "name")); o != nil {
			ev = copyObj(ev)
			ev["involvedObject"].(obj)["uid"] = mstr(o, "metadata", "uid")
			s.put(ev)
		}
	}
}

func (s *Store) now() time.Time {
	if !s.frozen.IsZero() {
		return s.frozen
	}
	return time.Now()
}

// rand5 draws the 5-character suffix a ReplicaSet gives its pods.
func (s *Store) randSuffix(n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	out := make([]byte, n)
	for i := range out {
		s.rng ^= s.rng << 13
		s.rng ^= s.rng >> 7
		s.rng ^= s.rng << 17
		out[i] = alphabet[s.rng%uint64(len(alphabet))]
	}
	return string(out)
}

func (s *Store) nextUID() string {
	s.uidN++
	return fmt.Sprintf("1ab00000-0000-4000-8000-%012d", s.uidN)
}

func (s *Store) nextIP() string {
	s.ipN++
	return fmt.Sprintf("10.244.%d.%d", s.ipN/250, 10+s.ipN%250)
}

func (s *Store) get(plural, ns, n string) obj { return s.objs[key(plural, ns, n)] }

// list returns the objects of one resource (all namespaces when ns is "")
// in key order.
func (s *Store) list(plural, ns string) []obj {
	var out []obj
	for _, k := range sortedKeys(s.objs) {
		o := s.objs[k]
		r := resByKind(mstr(o, "kind"))
		if r == nil || r.plural != plural {
			continue
		}
		if ns != "" && mstr(o, "metadata", "namespace") != ns {
			continue
		}
		out = append(out, o)
	}
	return out
}

// put stores o, bumping resourceVersion, and tells the watchers.
func (s *Store) put(o obj) {
	r := resByKind(mstr(o, "kind"))
	k := key(r.plural, mstr(o, "metadata", "namespace"), name(o))
	typ := "MODIFIED"
	if _, ok := s.objs[k]; !ok {
		typ = "ADDED"
	}
	s.rv++
	meta(o)["resourceVersion"] = fmt.Sprint(s.rv)
	s.objs[k] = o
	s.notify(r.plural, typ, o)
}

// putIfChanged stores o only when it differs from the stored copy.
func (s *Store) putIfChanged(o obj) {
	r := resByKind(mstr(o, "kind"))
	cur := s.objs[key(r.plural, mstr(o, "metadata", "namespace"), name(o))]
	if cur != nil {
		meta(o)["resourceVersion"] = mstr(cur, "metadata", "resourceVersion")
		if jsonEqual(cur, o) {
			return
		}
	}
	s.put(o)
}

func (s *Store) remove(plural, ns, n string) {
	k := key(plural, ns, n)
	o, ok := s.objs[k]
	if !ok {
		return
	}
	delete(s.objs, k)
	s.rv++
	o = copyObj(o)
	meta(o)["resourceVersion"] = fmt.Sprint(s.rv)
	s.notify(plural, "DELETED", o)
}

// stamp fills the metadata the server owns on a new object.
func (s *Store) stamp(o obj, at time.Time) {
	m := meta(o)
	m["uid"] = s.nextUID()
	m["creationTimestamp"] = rfc3339(at)
	switch mstr(o, "kind") {
	case "Deployment", "ReplicaSet", "StatefulSet", "Job", "CronJob":
		m["generation"] = float64(1)
	}
}

func (s *Store) notify(plural, typ string, o obj) {
	for w := range s.watchers {
		if w.plural != plural || (w.ns != "" && w.ns != mstr(o, "metadata", "namespace")) || !w.match(o) {
			continue
		}
		select {
		case w.ch <- watchEvent{typ, copyObj(o)}:
		default: /* a stalled watcher loses its stream, as on a real server */
			delete(s.watchers, w)
			close(w.ch)
		}
	}
}

func (s *Store) addWatcher(w *watcher) {
	s.watchers[w] = true
}

func (s *Store) dropWatcher(w *watcher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.watchers[w] {
		delete(s.watchers, w)
		close(w.ch)
	}
}
