// exporter.go — what a postgres_exporter beside the database would export,
// so Prometheus (and `runbook triage`) can see database faults that no
// application metric shows: sessions waiting on a lock, the age of the
// oldest running (state active) query, and each table's sequential-scan
// counter. Read on a dedicated session (not the pool, whose metrics it would
// disturb) at most once every two seconds, at scrape time. One simulator of
// the lab exports them (-pg-exporter), as one exporter would.
package main

import (
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
)

const exporterSQL = `SELECT 'blocked', '', count(*)::float8 FROM pg_stat_activity
 WHERE wait_event_type = 'Lock' AND datname = current_database()
UNION ALL SELECT 'oldest', '', greatest(0, coalesce(max(extract(epoch FROM now() - query_start)), 0))::float8
 FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() AND datname = current_database()
UNION ALL SELECT 'seq_scan', relname, seq_scan::float8 FROM pg_stat_user_tables`

type pgExporter struct {
	cfg  pgConfig
	mu   sync.Mutex
	conn *PGConn
	at   time.Time
	rows [][3]string
	up   bool
}

// read refreshes the rows when they are older than two seconds.
func (e *pgExporter) read() ([][3]string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if time.Since(e.at) < 2*time.Second {
		return e.rows, e.up
	}
	e.at = time.Now()
	if e.conn == nil {
		cfg := e.cfg
		cfg.Params = map[string]string{"application_name": "tmisim-exporter", "statement_timeout": "5000"}
		c, err := pgConnect(cfg, 5*time.Second)
		if err != nil {
			e.up = false
			return e.rows, e.up
		}
		e.conn = c
	}
	res, err := e.conn.Query(exporterSQL, time.Now().Add(5*time.Second))
	if err != nil {
		e.conn.Close()
		e.conn, e.up = nil, false
		return e.rows, e.up
	}
	e.rows = e.rows[:0]
	for _, r := range res.Rows {
		if len(r) == 3 && r[0] != nil && r[1] != nil && r[2] != nil {
			e.rows = append(e.rows, [3]string{*r[0], *r[1], *r[2]})
		}
	}
	e.up = true
	return e.rows, e.up
}

func (e *pgExporter) write(w io.Writer) {
	rows, up := e.read()
	header(w, "pg_up", "1 if the exporter's last read of PostgreSQL worked.", "gauge")
	fmt.Fprintf(w, "pg_up %d\n", map[bool]int{false: 0, true: 1}[up])
	families := []struct{ key, name, help, typ string }{
		{"blocked", "pg_stat_activity_blocked_sessions", "Sessions of this database waiting on a lock.", "gauge"},
		{"oldest", "pg_stat_activity_oldest_active_seconds", "Age of the oldest running (state active) query.", "gauge"},
		{"seq_scan", "pg_stat_user_tables_seq_scan_total", "Sequential scans started on the table.", "counter"},
	}
	for _, f := range families {
		header(w, f.name, f.help, f.typ)
		for _, r := range rows {
			if r[0] != f.key {
				continue
			}
			v, _ := strconv.ParseFloat(r[2], 64)
			labels := ""
			if r[1] != "" {
				labels = labelText([]string{"relname"}, []string{r[1]}, "", "")
			}
			fmt.Fprintf(w, "%s%s %s\n", f.name, labels, fmtFloat(v))
		}
	}
}
