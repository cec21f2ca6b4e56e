// faults.go — the fault switchboard: POST /admin/faults/{name}?on=1|0[&for=S]
// [&param=value...][&pod=NAME|all], POST /admin/faults/all?on=0 and GET
// /admin/faults (pod=: pods.go). Each
// fault runs in its own goroutine under a context that ends when it is
// switched off or when its duration (at most -fault-max) passes; the fault's
// body cleans up before the switch reports it off. State is also exported as
// tmisim_fault_active{fault}.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// params reads a fault's query parameters, remembering the effective values
// and the first invalid one.
type params struct {
	q         url.Values
	effective map[string]string
	err       error
}

func (p *params) float(name string, def, min, max float64) float64 {
	v := def
	if s := p.q.Get(name); s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < min || f > max {
			if p.err == nil {
				p.err = fmt.Errorf("parameter %s=%q: want a number from %g to %g", name, s, min, max)
			}
			return def
		}
		v = f
	}
	p.effective[name] = strconv.FormatFloat(v, 'g', -1, 64)
	return v
}

func (p *params) int(name string, def, min, max int) int {
	return int(p.float(name, float64(def), float64(min), float64(max)))
}

func (p *params) str(name, def string, allowed ...string) string {
	v := p.q.Get(name)
	if v == "" {
		v = def
	}
	for _, a := range allowed {
		if v == a {
			p.effective[name] = v
			return v
		}
	}
	if p.err == nil {
		p.err = fmt.Errorf("parameter %s=%q: want one of %s", name, v, strings.Join(allowed, ", "))
	}
	return def
}

// faultBody runs until ctx ends or the fault ends by itself; it returns why
// it ended early ("" when switched off or timed out) after cleaning up.
type faultBody func(ctx context.Context) string

type faultDef struct {
	name, help string
	// prepare validates parameters (p.err) and returns the body to run.
	prepare func(a *app, p *params, d time.Duration) faultBody
}

type faultState struct {
	Name    string            `json:"name"`
	Help    string            `json:"help"`
	On      bool              `json:"on"`
	Since   *time.Time        `json:"since,omitempty"`
	Until   *time.Time        `json:"until,omitempty"`
	Params  map[string]string `json:"params,omitempty"`
	LastEnd string            `json:"last_end,omitempty"`
	cancel  context.CancelFunc
	done    chan struct{}
}

type faultSet struct {
	app  *app
	max  time.Duration
	mu   sync.Mutex
	defs map[string]faultDef
	st   map[string]*faultState
}

func newFaultSet(a *app, max time.Duration, defs []faultDef) *faultSet {
	fs := &faultSet{app: a, max: max, defs: map[string]faultDef{}, st: map[string]*faultState{}}
	for _, d := range defs {
		fs.defs[d.name] = d
		fs.st[d.name] = &faultState{Name: d.name, Help: d.help}
	}
	a.reg.add(fs)
	return fs
}

// write exports tmisim_fault_active{fault} (a registry collector).
func (fs *faultSet) write(w io.Writer) {
	header(w, "tmisim_fault_active", "1 while the simulator's fault is switched on.", "gauge")
	for _, s := range fs.list() {
		on := 0
		if s.On {
			on = 1
		}
		fmt.Fprintf(w, "tmisim_fault_active{fault=\"%s\"} %d\n", s.Name, on)
	}
}

func (fs *faultSet) list() []faultState {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	out := make([]faultState, 0, len(fs.st))
	for _, s := range fs.st {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// stop switches a fault off and waits (bounded) for its cleanup.
func (fs *faultSet) stop(name string) {
	fs.mu.Lock()
	s := fs.st[name]
	cancel, done := s.cancel, s.done
	fs.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
	}
}

// stopAll switches every fault off at once and waits for all cleanups.
func (fs *faultSet) stopAll() {
	var wg sync.WaitGroup
	for name := range fs.defs {
		wg.Add(1)
		go func(name string) { defer wg.Done(); fs.stop(name) }(name)
	}
	wg.Wait()
}

// start switches a fault on (restarting it if it was on) with q's parameters.
func (fs *faultSet) start(name string, q url.Values) (faultState, error) {
	def := fs.defs[name]
	p := &params{q: q, effective: map[string]string{}}
	d := time.Duration(p.float("for", 300, 1, fs.max.Seconds()) * float64(time.Second))
	body := def.prepare(fs.app, p, d)
	if p.err != nil {
		return faultState{}, p.err
	}
	fs.stop(name)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	now := time.Now().UTC()
	until := now.Add(d)
	done := make(chan struct{})
	fs.mu.Lock()
	s := fs.st[name]
	s.On, s.Since, s.Until, s.Params, s.LastEnd, s.cancel, s.done = true, &now, &until, p.effective, "", cancel, done
	snapshot := *s
	fs.mu.Unlock()
	go func() {
		why := body(ctx)
		if why == "" && ctx.Err() == context.DeadlineExceeded {
			why = "duration elapsed"
		} else if why == "" {
			why = "switched off"
		}
		cancel()
		fs.mu.Lock()
		s.On, s.LastEnd, s.cancel = false, why, nil
		fs.mu.Unlock()
		close(done)
	}()
	return snapshot, nil
}

func (a *app) listFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]interface{}{"faults": a.faults.list()})
}

func (a *app) switchFault(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/admin/faults/")
	if pod := r.URL.Query().Get("pod"); pod != "" && r.Method == http.MethodPost {
		a.forwardToPods(w, r, pod)
		return
	}
	if name == "all" && r.Method == http.MethodPost && r.URL.Query().Get("on") == "0" {
		a.faults.stopAll() /* what a pod restart would do */
		a.listFaults(w, r)
		return
	}
	if _, ok := a.faults.defs[name]; !ok {
		fail(w, http.StatusNotFound, fmt.Errorf("no fault %q (GET /admin/faults lists them)", name))
		return
	}
	if r.Method != http.MethodPost {
		fail(w, http.StatusMethodNotAllowed, fmt.Errorf("use POST /admin/faults/%s?on=1|0", name))
		return
	}
	switch r.URL.Query().Get("on") {
	case "1", "true":
		st, err := a.faults.start(name, r.URL.Query())
		if err != nil {
			fail(w, http.StatusBadRequest, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	case "0", "false":
		a.faults.stop(name)
		for _, s := range a.faults.list() {
			if s.Name == name {
				writeJSON(w, http.StatusOK, s)
			}
		}
	default:
		fail(w, http.StatusBadRequest, fmt.Errorf("want on=1 or on=0"))
	}
}
