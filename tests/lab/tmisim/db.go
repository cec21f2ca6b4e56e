// db.go — the simulator's PostgreSQL connection pool over pgwire.go: a
// maximum of sessions (db_connections_max, changeable at run time like the
// seed's DB_MAX_CONNECTIONS), the number checked out (db_connections_active),
// and every query timed into db_query_duration_seconds{query} and
// db_slow_queries_total.
package main

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type pgPool struct {
	cfg  pgConfig
	slow time.Duration
	mu   sync.Mutex
	// max, maxIdle and maxLifetime (0: none) change at run time
	// (POST /admin/config DB_MAX_CONNECTIONS=...).
	max, maxIdle int
	maxLifetime  time.Duration
	freed        chan struct{} /* closed and replaced on every release: wakes waiters */
	idle         []*PGConn
	active       int
	duration     *vec
	slowCount    *vec
	errors       *vec
	// slowPrefix, set by the slow_queries fault, is sent before each pool
	// query in the same round trip (e.g. "SELECT pg_sleep(0.8);"); a string.
	slowPrefix atomic.Value
}

func newPGPool(cfg pgConfig, max int, slow time.Duration, reg *registry) *pgPool {
	p := &pgPool{cfg: cfg, max: max, maxIdle: max, slow: slow, freed: make(chan struct{})}
	p.duration = reg.histogram("db_query_duration_seconds", "Duration of PostgreSQL queries by query name.",
		defaultBuckets, "query")
	p.slowCount = reg.counter("db_slow_queries_total", "PostgreSQL queries slower than the slow-query threshold.")
	p.errors = reg.counter("db_query_errors_total", "PostgreSQL queries that failed, by query name.", "query")
	reg.gauge("db_connections_active", "PostgreSQL connections checked out of the pool.", func() float64 {
		p.mu.Lock()
		defer p.mu.Unlock()
		return float64(p.active)
	})
	reg.gauge("db_connections_max", "Maximum size of the PostgreSQL connection pool.", func() float64 {
		p.mu.Lock()
		defer p.mu.Unlock()
		return float64(p.max)
	})
	return p
}

// dial opens a session with pool-wide safety limits, so no pool query can
// run or wait on a lock for ever.
func (p *pgPool) dial() (*PGConn, error) {
	cfg := p.cfg
	cfg.Params = map[string]string{"statement_timeout": "30s", "lock_timeout": "20s"}
	for k, v := range p.cfg.Params {
		cfg.Params[k] = v
	}
	return pgConnect(cfg, 5*time.Second)
}

// expired: a session older than DB_MAX_LIFETIME is closed, not reused.
func (p *pgPool) expired(c *PGConn) bool {
	return p.maxLifetime > 0 && time.Since(c.createdAt) > p.maxLifetime
}

func (p *pgPool) acquire(ctx context.Context) (*PGConn, error) {
	p.mu.Lock()
	for p.active >= p.max {
		freed := p.freed
		p.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return nil, errors.New("db pool: timed out waiting for a connection")
		}
		p.mu.Lock()
	}
	p.active++
	var c *PGConn
	var stale []*PGConn
	for n := len(p.idle); n > 0 && c == nil; n = len(p.idle) {
		c, p.idle = p.idle[n-1], p.idle[:n-1]
		if p.expired(c) {
			stale, c = append(stale, c), nil
		}
	}
	p.mu.Unlock()
	for _, s := range stale {
		s.Close()
	}
	if c != nil {
		return c, nil
	}
	c, err := p.dial()
	if err != nil {
		p.release(nil)
	}
	return c, err
}

func (p *pgPool) release(c *PGConn) {
	p.mu.Lock()
	p.active--
	keep := c != nil && !c.broken && len(p.idle) < p.maxIdle && !p.expired(c)
	if keep {
		p.idle = append(p.idle, c)
	}
	close(p.freed)
	p.freed = make(chan struct{})
	p.mu.Unlock()
	if c != nil && !keep {
		c.Close()
	}
}

// configure changes the limits (a negative value keeps one), trims the idle
// list and wakes waiters, who may now fit.
func (p *pgPool) configure(max, maxIdle int, lifetime time.Duration) {
	p.mu.Lock()
	if max > 0 {
		p.max = max
	}
	if maxIdle >= 0 {
		p.maxIdle = maxIdle
	}
	if lifetime >= 0 {
		p.maxLifetime = lifetime
	}
	var extra []*PGConn
	if len(p.idle) > p.maxIdle {
		extra = append(extra, p.idle[p.maxIdle:]...)
		p.idle = p.idle[:p.maxIdle]
	}
	close(p.freed)
	p.freed = make(chan struct{})
	p.mu.Unlock()
	for _, c := range extra {
		c.Close()
	}
}

func (p *pgPool) limits() (max, maxIdle int, lifetime time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.max, p.maxIdle, p.maxLifetime
}

// Query runs sql on a pooled session under ctx's deadline (30 s at most).
func (p *pgPool) Query(ctx context.Context, name, sql string) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	start := time.Now()
	c, err := p.acquire(ctx)
	if err != nil {
		p.errors.Inc(name)
		return nil, err
	}
	if prefix, _ := p.slowPrefix.Load().(string); prefix != "" {
		sql = prefix + sql
	}
	deadline, _ := ctx.Deadline()
	res, err := c.Query(sql, deadline)
	if endedWhileIdle(c, start, err) {
		/* the server ended this pooled session while it sat idle (an
		   operator's pg_terminate_backend, a restart): the statement never
		   ran, so run it once on a fresh session; the other idle sessions
		   likely went the same way */
		p.release(c)
		p.Close()
		if c, err = p.acquire(ctx); err != nil {
			p.errors.Inc(name)
			return nil, err
		}
		res, err = c.Query(sql, deadline)
	}
	p.release(c)
	d := time.Since(start)
	p.duration.Observe(d.Seconds(), name)
	if d >= p.slow {
		p.slowCount.Inc()
	}
	if err != nil {
		p.errors.Inc(name)
	}
	return res, err
}

// endedWhileIdle: a reused session the server had already closed: the query
// could not be written (broken pipe, reset) or the first read was the
// server's goodbye (a FATAL error queued while idle, end of file).
func endedWhileIdle(c *PGConn, start time.Time, err error) bool {
	if err == nil || !c.broken || !c.createdAt.Before(start) {
		return false
	}
	var pe *PGError
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) ||
		(errors.As(err, &pe) && pe.Severity == "FATAL")
}

// Close ends every idle session (checked-out ones go back to the pool or
// close on release).
func (p *pgPool) Close() {
	p.mu.Lock()
	for _, c := range p.idle {
		c.Close()
	}
	p.idle = nil
	p.mu.Unlock()
}
