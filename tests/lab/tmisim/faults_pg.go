// faults_pg.go — faults in PostgreSQL: a row lock held in an open transaction
// with blocked updaters (pg_lock), pg_sleep in background sessions
// (long_query), slow queries through the pool (slow_queries), unindexed
// reads of threat_models (seqscan) and a pool whose every session is busy
// (pool_exhaustion). Dedicated sessions carry server-side
// timeouts a little past the fault's duration, so nothing outlives the fault
// even if the simulator dies; an operator who ends a session (e.g.
// pg_terminate_backend on the lock holder) ends the fault, which says so.
package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

func pgFaults() []faultDef {
	return []faultDef{
		{"pg_lock", "holds a row lock on threat_models (id, default 1) in an open transaction; " +
			"waiters (default 2) sessions block updating it", preparePGLock},
		{"long_query", "runs pg_sleep in sessions (default 1) background sessions", prepareLongQuery},
		{"slow_queries", "delays every pool query by delay (default 0.8) seconds inside PostgreSQL",
			prepareSlowQueries},
		{"seqscan", "runs rps (default 20) unindexed reads of threat_models a second (created_at, description)",
			prepareSeqScan},
		{"pool_exhaustion", "checks out sessions (default: the pool size) pool sessions and keeps them busy " +
			"in pg_sleep, so API requests queue for a connection", preparePoolExhaustion},
	}
}

// session opens a dedicated (non-pool) session for a fault.
func (a *app) session(role string, d time.Duration, gucs map[string]string) (*PGConn, error) {
	cfg := a.db.cfg
	cfg.Params = map[string]string{"application_name": "tmisim-" + role}
	ms := strconv.FormatInt((d + 30*time.Second).Milliseconds(), 10)
	for k, v := range gucs {
		cfg.Params[k] = fmt.Sprintf(v, ms)
	}
	return pgConnect(cfg, 5*time.Second)
}

// sessionGroup runs one blocking statement per session in goroutines.
type sessionGroup struct {
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []*PGConn
	ended chan string // first early end reason
}

func newSessionGroup() *sessionGroup { return &sessionGroup{ended: make(chan string, 1)} }

func (g *sessionGroup) run(c *PGConn, sql string, deadline time.Time) {
	g.mu.Lock()
	g.conns = append(g.conns, c)
	g.mu.Unlock()
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		_, err := c.Query(sql, deadline)
		why := "statement finished"
		if err != nil {
			why = "statement ended: " + err.Error()
		}
		select {
		case g.ended <- why:
		default:
		}
	}()
}

// stop cancels what still runs server-side, waits (bounded) and closes.
func (g *sessionGroup) stop() {
	g.mu.Lock()
	for _, c := range g.conns {
		c.Cancel()
	}
	g.mu.Unlock()
	waited := make(chan struct{})
	go func() { g.wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
	}
	g.mu.Lock()
	for _, c := range g.conns {
		c.Close()
	}
	g.mu.Unlock()
}

func preparePGLock(a *app, p *params, d time.Duration) faultBody {
	id := p.int("id", 1, 1, 1<<31-1)
	waiters := p.int("waiters", 2, 0, 10)
	return func(ctx context.Context) string {
		holder, err := a.session("lock-holder", d, map[string]string{"idle_in_transaction_session_timeout": "%s"})
		if err != nil {
			return "cannot open session: " + err.Error()
		}
		defer holder.nc.Close()
		/* two round trips, so pg_stat_activity shows the UPDATE as the holder's statement */
		res, err := holder.Query("BEGIN", time.Now().Add(30*time.Second))
		if err == nil {
			res, err = holder.Query(fmt.Sprintf("UPDATE threat_models SET updated_at = now() WHERE id = %d", id),
				time.Now().Add(30*time.Second))
		}
		if err != nil || res.Tag != "UPDATE 1" {
			return fmt.Sprintf("cannot lock threat model %d: %v %s", id, err, res.tagOrEmpty())
		}
		blocked := newSessionGroup()
		for i := 0; i < waiters; i++ {
			w, err := a.session("lock-waiter", d, map[string]string{"lock_timeout": "%s"})
			if err != nil {
				continue
			}
			blocked.run(w, fmt.Sprintf("UPDATE threat_models SET description = description WHERE id = %d", id),
				time.Now().Add(d+40*time.Second))
		}
		holderEnd := make(chan string, 1)
		go func() { holderEnd <- "lock holder session ended: " + holder.WaitClosed(time.Time{}).Error() }()
		why := ""
		select {
		case <-ctx.Done():
		case why = <-holderEnd:
		}
		holder.nc.Close() /* the server rolls the transaction back; the waiters then finish */
		blocked.stop()
		return why
	}
}

func (r *Result) tagOrEmpty() string {
	if r == nil {
		return ""
	}
	return r.Tag
}

func prepareLongQuery(a *app, p *params, d time.Duration) faultBody {
	sessions := p.int("sessions", 1, 1, 5)
	return func(ctx context.Context) string {
		g := newSessionGroup()
		for i := 0; i < sessions; i++ {
			c, err := a.session("long-query", d, map[string]string{"statement_timeout": "%s"})
			if err != nil {
				return "cannot open session: " + err.Error()
			}
			g.run(c, fmt.Sprintf("SELECT pg_sleep(%d) /* tmisim long_query */", int(d.Seconds())+1),
				time.Now().Add(d+40*time.Second))
		}
		why := ""
		select {
		case <-ctx.Done():
		case why = <-g.ended:
		}
		g.stop()
		return why
	}
}

func preparePoolExhaustion(a *app, p *params, d time.Duration) faultBody {
	max, _, _ := a.db.limits()
	n := p.int("sessions", max, 1, 200)
	return func(ctx context.Context) string {
		g := newSessionGroup()
		var held []*PGConn
		/* pool sessions have a 30 s statement_timeout; these are closed,
		   not returned, at the end, so lifting it here stays here */
		sql := fmt.Sprintf("SET statement_timeout = %d; SELECT pg_sleep(%d) /* tmisim pool_exhaustion */",
			(d + 30*time.Second).Milliseconds(), int(d.Seconds())+1)
		for i := 0; i < n; i++ {
			actx, cancel := context.WithTimeout(ctx, 10*time.Second)
			c, err := a.db.acquire(actx)
			cancel()
			if err != nil {
				break
			}
			held = append(held, c)
			g.run(c, sql, time.Now().Add(d+40*time.Second))
		}
		why := ""
		select {
		case <-ctx.Done():
		case why = <-g.ended:
		}
		g.stop()
		for _, c := range held {
			a.db.release(c) /* closed by stop: the pool dials afresh */
		}
		return why
	}
}

func prepareSlowQueries(a *app, p *params, d time.Duration) faultBody {
	delay := p.float("delay", 0.8, 0.05, 10)
	return func(ctx context.Context) string {
		a.db.slowPrefix.Store(fmt.Sprintf("SELECT pg_sleep(%g); ", delay))
		return untilDone(ctx, func() { a.db.slowPrefix.Store("") })
	}
}

// seqScanSQL filters on columns without an index, so every run is a
// sequential scan of threat_models (pg_stat_user_tables.seq_scan grows).
const seqScanSQL = "SELECT count(*) FROM threat_models WHERE created_at > now() - interval '1 day' " +
	"OR description LIKE '%tmisim-seqscan%'"

func prepareSeqScan(a *app, p *params, d time.Duration) faultBody {
	rps := p.float("rps", 20, 0.1, 200)
	return func(ctx context.Context) string {
		tick := time.NewTicker(time.Duration(float64(time.Second) / rps))
		defer tick.Stop()
		inflight := make(chan struct{}, 4) /* never more than 4 at once */
		for {
			select {
			case <-ctx.Done():
				return ""
			case <-tick.C:
			}
			select {
			case inflight <- struct{}{}:
				go func() {
					a.db.Query(ctx, "seqscan_report", seqScanSQL)
					<-inflight
				}()
			default:
			}
		}
	}
}
