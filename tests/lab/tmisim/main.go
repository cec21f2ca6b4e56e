// tmisim — a stand-in for the TMI API the seed performance runbook is about,
// for the rehearsal lab. It serves a small threat-model API backed by a real
// PostgreSQL (database tmi) with a real Redis cache in front, exports the
// seed's metric names on /metrics, serves net/http/pprof, and has fault
// switches (/admin/faults) that produce each symptom the runbook diagnoses.
// Standard library only; everything it talks to must be on 127.0.0.1.
//
//	tmisim -pg-dsn DSN -redis-url redis://127.0.0.1:PORT [-init] [-addr 127.0.0.1:8080]
//	       [-pprof-addr 127.0.0.1:6060] [-addr-file FILE] [-load-rps N]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

type options struct {
	addr, pprofAddr, addrFile, pgDSN, pgDatabase, pgUser, pgPassword, redisURL, rolePassword string
	podsFile                                                                                 string
	init, pgExporter                                                                         bool
	seedRows, dbMaxConns, cacheTTL                                                           int
	slowQuery, faultMax                                                                      time.Duration
	loadRPS                                                                                  float64
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.addr, "addr", "127.0.0.1:8080", "API listen address (port 0 picks a free port)")
	flag.StringVar(&o.pprofAddr, "pprof-addr", "", "extra listener for /debug/pprof/ only, like the seed's :6060")
	flag.StringVar(&o.addrFile, "addr-file", "", "write the bound addresses here as JSON once listening")
	flag.StringVar(&o.pgDSN, "pg-dsn", os.Getenv("TMISIM_PG_DSN"), "PostgreSQL DSN (URL or key=value; env TMISIM_PG_DSN)")
	flag.StringVar(&o.pgDatabase, "pg-database", "tmi", "database to use (overrides the DSN's; empty keeps it)")
	flag.StringVar(&o.pgUser, "pg-user", "", "role the API connects as (empty keeps the DSN's; -init's work uses the DSN's)")
	flag.StringVar(&o.pgPassword, "pg-password", os.Getenv("TMISIM_PG_PASSWORD"), "password of -pg-user (env TMISIM_PG_PASSWORD)")
	flag.StringVar(&o.redisURL, "redis-url", os.Getenv("TMISIM_REDIS_URL"), "Redis URL (env TMISIM_REDIS_URL)")
	flag.StringVar(&o.podsFile, "pods-file", "", "file_sd list of the pods' simulators (pod=NAME on a fault switch)")
	flag.BoolVar(&o.pgExporter, "pg-exporter", false, "also export pg_stat_activity / pg_stat_user_tables metrics")
	flag.BoolVar(&o.init, "init", false, "create database, role tmi, table threat_models and seed rows if missing")
	flag.IntVar(&o.seedRows, "seed-rows", 5000, "rows -init puts in an empty threat_models")
	flag.StringVar(&o.rolePassword, "role-password", "tmi", "password -init gives a new role tmi")
	flag.IntVar(&o.dbMaxConns, "db-max-conns", 10, "PostgreSQL pool size (db_connections_max)")
	flag.IntVar(&o.cacheTTL, "cache-ttl", 3600, "cache entry TTL in seconds")
	flag.DurationVar(&o.slowQuery, "slow-query", 500*time.Millisecond, "queries at least this slow count in db_slow_queries_total")
	flag.DurationVar(&o.faultMax, "fault-max", 15*time.Minute, "longest a fault may stay on")
	flag.Float64Var(&o.loadRPS, "load-rps", 0, fmt.Sprintf("built-in load generator rate (0 = off, at most %d)", maxLoadRPS))
	flag.Parse()
	return o
}

// loopback refuses any address that is not this machine's loopback.
func loopback(what, host string) error {
	if strings.HasPrefix(host, "/") || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s host %q is not 127.0.0.1: the simulator only talks to loopback", what, host)
}

func main() {
	log.SetFlags(log.LstdFlags | log.LUTC)
	o := parseFlags()
	if err := run(o); err != nil {
		log.Fatalf("tmisim: %v", err)
	}
}

func run(o options) error {
	if o.pgDSN == "" || o.redisURL == "" {
		return fmt.Errorf("need -pg-dsn and -redis-url (or TMISIM_PG_DSN, TMISIM_REDIS_URL)")
	}
	cfg, err := parseDSN(o.pgDSN)
	if err != nil {
		return err
	}
	reg := &registry{}
	redis, err := newRedis(o.redisURL, reg)
	if err != nil {
		return err
	}
	for what, host := range map[string]string{"PostgreSQL": cfg.Host, "Redis": redis.host(), "listen": hostOf(o.addr),
		"pprof listen": hostOf(o.pprofAddr)} {
		if err := loopback(what, host); err != nil {
			return err
		}
	}
	if o.init {
		if err := initDatabase(cfg, o); err != nil {
			return fmt.Errorf("init: %v", err)
		}
	}
	if o.pgDatabase != "" {
		cfg.Database = o.pgDatabase
	}
	if o.pgUser != "" { /* an application role, so an operator's pg_terminate_backend may end its sessions */
		cfg.User, cfg.Password = o.pgUser, o.pgPassword
	}
	registerProcessMetrics(reg, redis)
	a := newApp(reg, newPGPool(cfg, o.dbMaxConns, o.slowQuery, reg), redis, o.cacheTTL)
	a.faults = newFaultSet(a, o.faultMax, append(processFaults(), pgFaults()...))
	a.podsFile = o.podsFile
	if o.pgExporter {
		reg.add(&pgExporter{cfg: cfg})
	}
	a.settingsFromEnv()
	if err := a.loadMaxID(); err != nil {
		return fmt.Errorf("database %s: %v", cfg.Database, err)
	}
	return serve(a, o)
}

func hostOf(addr string) string {
	if addr == "" {
		return "127.0.0.1"
	}
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

func (a *app) loadMaxID() error {
	res, err := a.db.Query(context.Background(), "max_id", "SELECT coalesce(max(id), 0) FROM threat_models")
	if err != nil {
		return err
	}
	var id int64
	fmt.Sscan(firstValue(res), &id)
	a.maxID.Store(id)
	return nil
}

func pprofRoutes(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// serve listens, writes -addr-file, runs until SIGTERM/SIGINT, then switches
// every fault off (releasing locks and sessions) before exiting.
func serve(a *app, o options) error {
	mux := http.NewServeMux()
	a.routes(mux)
	pprofRoutes(mux)
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	servers := []*http.Server{{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	listeners := []net.Listener{ln}
	addrs := map[string]string{"addr": ln.Addr().String(), "pg_dsn": a.db.cfg.keyValue()}
	if o.pprofAddr != "" {
		pln, err := net.Listen("tcp", o.pprofAddr)
		if err != nil {
			return err
		}
		pmux := http.NewServeMux()
		pprofRoutes(pmux)
		servers = append(servers, &http.Server{Handler: pmux, ReadHeaderTimeout: 10 * time.Second})
		listeners = append(listeners, pln)
		addrs["pprof_addr"] = pln.Addr().String()
	}
	for i := range servers {
		go servers[i].Serve(listeners[i])
	}
	a.load = newLoadGen("http://"+ln.Addr().String(), a, o.loadRPS)
	stopLoad := make(chan struct{})
	go a.load.run(stopLoad)
	if err := writeAddrFile(o.addrFile, addrs); err != nil {
		return err
	}
	log.Printf("tmisim: listening on %s, pprof on %s (load %.3g rps)", addrs["addr"], addrs["pprof_addr"], o.loadRPS)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	log.Printf("tmisim: %v: switching faults off", <-sig)
	close(stopLoad)
	a.faults.stopAll()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for _, s := range servers {
		s.Shutdown(ctx)
	}
	a.db.Close()
	return nil
}

// writeAddrFile writes the bound addresses as key=value lines (values never
// hold a newline), atomically (rename), so a reader never sees half a file.
func writeAddrFile(path string, addrs map[string]string) error {
	if path == "" {
		return nil
	}
	var b strings.Builder
	for _, k := range []string{"addr", "pprof_addr", "pg_dsn"} {
		if v, ok := addrs[k]; ok {
			fmt.Fprintf(&b, "%s=%s\n", k, v)
		}
	}
	if err := os.WriteFile(path+".tmp", []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
