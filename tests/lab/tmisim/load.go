// load.go — the built-in load generator: calls the simulator's own API on
// 127.0.0.1 at a bounded rate (at most maxLoadRPS, at most 16 requests in
// flight) so metrics move without outside traffic. Off (0 rps) by default;
// -load-rps or POST /admin/load?rps=N sets the rate.
package main

import (
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"strings"
	"sync"
	"time"
)

const maxLoadRPS = 100

type loadGen struct {
	base   string
	app    *app
	client *http.Client
	mu     sync.Mutex
	rps    float64
	wake   chan struct{}
}

func newLoadGen(base string, a *app, rps float64) *loadGen {
	g := &loadGen{base: base, app: a, client: &http.Client{Timeout: 15 * time.Second}, wake: make(chan struct{}, 1)}
	g.setRate(rps)
	return g
}

func (g *loadGen) rate() float64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.rps
}

func (g *loadGen) setRate(rps float64) {
	if rps < 0 {
		rps = 0
	}
	if rps > maxLoadRPS {
		rps = maxLoadRPS
	}
	g.mu.Lock()
	g.rps = rps
	g.mu.Unlock()
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// run issues requests until stop is closed.
func (g *loadGen) run(stop <-chan struct{}) {
	inflight := make(chan struct{}, 16)
	for {
		wait := time.Hour
		if rps := g.rate(); rps > 0 {
			wait = time.Duration(float64(time.Second) / rps)
		}
		select {
		case <-stop:
			return
		case <-g.wake:
			continue
		case <-time.After(wait):
		}
		select {
		case inflight <- struct{}{}:
			go func() { g.one(); <-inflight }()
		default: /* saturated (a slow fault is on): skip rather than pile up */
		}
	}
}

// one sends a request chosen like a client's mix: mostly reads of a hot set.
func (g *loadGen) one() {
	maxID := g.app.maxID.Load()
	if maxID < 1 {
		maxID = 1
	}
	id := rand.Int63n(maxID) + 1
	if hot := int64(500); maxID > hot && rand.Intn(10) < 8 {
		id = rand.Int63n(hot) + 1
	}
	var method, path, body string
	switch n := rand.Intn(100); {
	case n < 65:
		method, path = "GET", fmt.Sprintf("/api/v1/threat_models/%d", id)
	case n < 85:
		method, path = "GET", fmt.Sprintf("/api/v1/threat_models?limit=20&offset=%d", rand.Intn(100)*20)
	case n < 93:
		method, path = "PUT", fmt.Sprintf("/api/v1/threat_models/%d", id+1) /* id 1 is the lock fault's row */
		body = fmt.Sprintf(`{"status":"review-%d"}`, rand.Intn(5))
	case n < 95:
		method, path = "POST", "/api/v1/threat_models"
		body = `{"name":"load generator model","description":"created by tmisim load","owner":"load@tmisim.local"}`
	default:
		method, path = "GET", "/health"
	}
	req, err := http.NewRequest(method, g.base+path, strings.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := g.client.Do(req)
	if err != nil {
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
