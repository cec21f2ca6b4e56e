// api.go — the TMI-like HTTP API: threat models stored in PostgreSQL with a
// Redis cache in front (read-through, TTL), the cache warmup the seed runbook
// POSTs, health, and the request metrics every handler is wrapped in.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

const cachePrefix = "tmisim:threat_model:"

// modelColumns is the JSON shape of one threat model, built by PostgreSQL.
const modelColumns = "id, name, description, owner, status, created_at, updated_at"

type app struct {
	podsFile string // -pods-file (pods.go)
	reg      *registry
	db       *pgPool
	redis    *redisClient
	cacheTTL int
	faults   *faultSet
	load     *loadGen
	settings settings

	httpDuration, httpTotal, httpSize *vec
	cacheHits, cacheOps, cacheMisses  *vec
	redisErrors                       *vec

	// noCachePopulate is set by the cache_misses fault: misses are not
	// written back, so only an explicit warmup refills the cache.
	noCachePopulate atomic.Bool
	// slowEndpoint holds a *slowSpec while the slow_endpoint fault is on.
	slowEndpoint atomic.Value
	// errorRate is the error_burst fault's share of 5xx (as float64 bits).
	errorRate atomic.Uint64
	maxID     atomic.Int64
}

type slowSpec struct {
	endpoint string
	delay    time.Duration
}

func newApp(reg *registry, db *pgPool, redis *redisClient, cacheTTL int) *app {
	a := &app{reg: reg, db: db, redis: redis, cacheTTL: cacheTTL}
	sizes := []float64{100, 500, 1000, 5000, 10000, 50000, 100000, 500000, 1e6}
	a.httpDuration = reg.histogram("http_request_duration_seconds", "HTTP request latency by endpoint.",
		defaultBuckets, "endpoint", "method", "status")
	a.httpTotal = reg.counter("http_requests_total", "HTTP requests by endpoint, status and method.",
		"endpoint", "status", "method")
	a.httpSize = reg.histogram("http_request_size_bytes", "HTTP request body sizes by endpoint.",
		sizes, "endpoint", "method")
	a.cacheHits = reg.counter("redis_cache_hits_total", "Cache lookups answered from Redis.")
	a.cacheMisses = reg.counter("redis_cache_misses_total", "Cache lookups that went to PostgreSQL.")
	a.cacheOps = reg.counter("redis_cache_operations_total", "Cache lookups (hits + misses).")
	a.redisErrors = reg.counter("redis_errors_total", "Redis commands that failed.")
	a.slowEndpoint.Store((*slowSpec)(nil))
	return a
}

// statusWriter remembers the status code a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// instrument wraps a handler with the request metrics and the two faults that
// act on requests: slow_endpoint (latency) and error_burst (5xx on /api/).
func (a *app) instrument(endpoint string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: 200}
		size := r.ContentLength
		if size < 0 {
			size = 0
		}
		a.httpSize.Observe(float64(size), endpoint, r.Method)
		if s, _ := a.slowEndpoint.Load().(*slowSpec); s != nil && s.endpoint == endpoint {
			select {
			case <-time.After(s.delay):
			case <-r.Context().Done():
			}
		}
		if rate := math.Float64frombits(a.errorRate.Load()); rate > 0 && strings.HasPrefix(endpoint, "/api/") &&
			rand.Float64() < rate {
			writeJSON(sw, http.StatusInternalServerError, map[string]string{"error": "injected error burst"})
		} else {
			h(sw, r)
		}
		status := strconv.Itoa(sw.status)
		a.httpDuration.Observe(time.Since(start).Seconds(), endpoint, r.Method, status)
		a.httpTotal.Inc(endpoint, status, r.Method)
	}
}

func writeJSON(w http.ResponseWriter, status int, v interface{}) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeRawJSON writes JSON text PostgreSQL or the cache produced.
func writeRawJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body+"\n")
}

func fail(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func (a *app) routes(mux *http.ServeMux) {
	mux.HandleFunc("/health", a.instrument("/health", a.health))
	mux.HandleFunc("/api/v1/threat_models", a.instrument("/api/v1/threat_models", a.threatModels))
	mux.HandleFunc("/api/v1/threat_models/", a.instrument("/api/v1/threat_models/{id}", a.threatModel))
	mux.HandleFunc("/admin/cache/warmup", a.instrument("/admin/cache/warmup", a.warmup))
	mux.HandleFunc("/admin/faults", a.instrument("/admin/faults", a.listFaults))
	mux.HandleFunc("/admin/faults/", a.instrument("/admin/faults/{name}", a.switchFault))
	mux.HandleFunc("/admin/load", a.instrument("/admin/load", a.setLoad))
	mux.HandleFunc("/admin/config", a.instrument("/admin/config", a.config))
	mux.HandleFunc("/admin/restart", a.instrument("/admin/restart", a.restart))
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		a.reg.write(w)
	})
}

func (a *app) health(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	st := map[string]string{"status": "ok", "database": "ok", "cache": "ok"}
	code := http.StatusOK
	if _, err := a.db.Query(ctx, "health", "SELECT 1"); err != nil {
		st["database"], st["status"], code = err.Error(), "degraded", http.StatusServiceUnavailable
	}
	if _, err := a.redis.Do("PING"); err != nil {
		st["cache"], st["status"], code = err.Error(), "degraded", http.StatusServiceUnavailable
	}
	writeJSON(w, code, st)
}

// threatModels: GET lists (limit/offset), POST creates.
func (a *app) threatModels(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		limit := queryInt(r, "limit", 20, 1, 100)
		offset := queryInt(r, "offset", 0, 0, 1<<30)
		res, err := a.db.Query(r.Context(), "list_threat_models", fmt.Sprintf(
			"SELECT coalesce(json_agg(t), '[]')::text FROM (SELECT %s FROM threat_models ORDER BY id LIMIT %d OFFSET %d) t",
			modelColumns, limit, offset))
		if err != nil {
			fail(w, http.StatusInternalServerError, err)
			return
		}
		writeRawJSON(w, http.StatusOK, firstValue(res))
	case http.MethodPost:
		in, err := readModel(w, r)
		if err != nil {
			fail(w, http.StatusBadRequest, err)
			return
		}
		if in.Name == "" || in.Owner == "" {
			fail(w, http.StatusBadRequest, fmt.Errorf("name and owner are required"))
			return
		}
		res, err := a.db.Query(r.Context(), "insert_threat_model", fmt.Sprintf(
			"INSERT INTO threat_models (name, description, owner) VALUES (%s, %s, %s) RETURNING id, row_to_json(threat_models)::text",
			quoteLiteral(in.Name), quoteLiteral(in.Description), quoteLiteral(in.Owner)))
		if err != nil {
			fail(w, http.StatusInternalServerError, err)
			return
		}
		if id, err := strconv.ParseInt(firstValue(res), 10, 64); err == nil && id > a.maxID.Load() {
			a.maxID.Store(id)
		}
		writeRawJSON(w, http.StatusCreated, *res.Rows[0][1])
	default:
		fail(w, http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed", r.Method))
	}
}

type modelInput struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Owner       string `json:"owner"`
	Status      string `json:"status"`
}

func readModel(w http.ResponseWriter, r *http.Request) (modelInput, error) {
	var in modelInput
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in)
	return in, err
}

func firstValue(res *Result) string {
	if res == nil || len(res.Rows) == 0 || len(res.Rows[0]) == 0 || res.Rows[0][0] == nil {
		return ""
	}
	return *res.Rows[0][0]
}

func queryInt(r *http.Request, name string, def, min, max int) int {
	v, err := strconv.Atoi(r.URL.Query().Get(name))
	if err != nil {
		return def
	}
	if v < min {
		return min
	}
	if v > max {
		return max
	}
	return v
}

// threatModel: GET reads through the cache, PUT updates and invalidates.
func (a *app) threatModel(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/api/v1/threat_models/"), 10, 64)
	if err != nil || id < 1 {
		fail(w, http.StatusNotFound, fmt.Errorf("no such threat model"))
		return
	}
	switch r.Method {
	case http.MethodGet:
		a.getModel(w, r, id)
	case http.MethodPut:
		a.putModel(w, r, id)
	default:
		fail(w, http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed", r.Method))
	}
}

// queryModel runs sql, which yields one model as JSON; on failure (500) or
// no row (404) it answers the request itself and returns false.
func (a *app) queryModel(w http.ResponseWriter, r *http.Request, name, sql string) (string, bool) {
	res, err := a.db.Query(r.Context(), name, sql)
	if err != nil {
		fail(w, http.StatusInternalServerError, err)
		return "", false
	}
	body := firstValue(res)
	if body == "" {
		fail(w, http.StatusNotFound, fmt.Errorf("no such threat model"))
		return "", false
	}
	return body, true
}

func (a *app) getModel(w http.ResponseWriter, r *http.Request, id int64) {
	key := cachePrefix + strconv.FormatInt(id, 10)
	a.cacheOps.Inc()
	v, err := a.redis.Do("GET", key)
	if err != nil {
		a.redisErrors.Inc()
	}
	if s, ok := v.(string); ok && err == nil {
		a.cacheHits.Inc()
		writeRawJSON(w, http.StatusOK, s)
		return
	}
	a.cacheMisses.Inc()
	body, ok := a.queryModel(w, r, "get_threat_model", fmt.Sprintf(
		"SELECT row_to_json(t)::text FROM (SELECT %s FROM threat_models WHERE id = %d) t", modelColumns, id))
	if !ok {
		return
	}
	if !a.noCachePopulate.Load() {
		if _, err := a.redis.Do("SET", key, body, "EX", strconv.Itoa(a.cacheTTL)); err != nil {
			a.redisErrors.Inc()
		}
	}
	writeRawJSON(w, http.StatusOK, body)
}

func (a *app) putModel(w http.ResponseWriter, r *http.Request, id int64) {
	in, err := readModel(w, r)
	if err != nil {
		fail(w, http.StatusBadRequest, err)
		return
	}
	set := []string{"updated_at = now()"}
	for col, v := range map[string]string{"name": in.Name, "description": in.Description, "status": in.Status} {
		if v != "" {
			set = append(set, col+" = "+quoteLiteral(v))
		}
	}
	body, ok := a.queryModel(w, r, "update_threat_model", fmt.Sprintf(
		"UPDATE threat_models SET %s WHERE id = %d RETURNING row_to_json(threat_models)::text",
		strings.Join(set, ", "), id))
	if !ok {
		return
	}
	if _, err := a.redis.Do("DEL", cachePrefix+strconv.FormatInt(id, 10)); err != nil {
		a.redisErrors.Inc()
	}
	writeRawJSON(w, http.StatusOK, body)
}

// warmup loads every threat model (up to limit) into Redis in pipelines.
func (a *app) warmup(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		fail(w, http.StatusMethodNotAllowed, fmt.Errorf("use POST"))
		return
	}
	start := time.Now()
	limit := queryInt(r, "limit", 20000, 1, 100000)
	res, err := a.db.Query(r.Context(), "cache_warmup", fmt.Sprintf(
		"SELECT id, row_to_json(t)::text FROM (SELECT %s FROM threat_models ORDER BY id LIMIT %d) t",
		modelColumns, limit))
	if err != nil {
		fail(w, http.StatusInternalServerError, err)
		return
	}
	ttl := strconv.Itoa(a.cacheTTL)
	var batch [][]string
	warmed := 0
	for i, row := range res.Rows {
		batch = append(batch, []string{"SET", cachePrefix + *row[0], *row[1], "EX", ttl})
		if len(batch) == 500 || i == len(res.Rows)-1 {
			if _, err := a.redis.Pipeline(batch); err != nil {
				a.redisErrors.Inc()
				fail(w, http.StatusBadGateway, err)
				return
			}
			warmed += len(batch)
			batch = batch[:0]
		}
	}
	writeJSON(w, http.StatusOK, map[string]interface{}{"warmed": warmed, "ms": time.Since(start).Milliseconds()})
}

func (a *app) setLoad(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		rps, err := strconv.ParseFloat(r.URL.Query().Get("rps"), 64)
		if err != nil {
			fail(w, http.StatusBadRequest, fmt.Errorf("rps must be a number"))
			return
		}
		a.load.setRate(rps)
	}
	writeJSON(w, http.StatusOK, map[string]float64{"rps": a.load.rate()})
}
