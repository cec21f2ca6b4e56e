#!/usr/bin/env bash
# tests/e2e/tmisim.sh — the TMI simulator the lab runs (tests/lab/services/
# tmisim.sh): health, every metric name the seed runbook queries, pprof, and
# each fault switch moving its metric or server state the way the runbook
# expects, then switching off. Every wait is bounded; faults are started with
# short durations so none outlives the test.
. "$(dirname "$0")/lib.sh"

URL=${RB_TEST_TMISIM_URL:-}
PPROF=${RB_TEST_TMISIM_PPROF_URL:-}
DSN=${RB_TEST_TMISIM_PG_DSN:-}
TMI=${RB_TEST_TMISIM_PG_URL:-}
if [ -z "$URL" ] || [ -z "$PPROF" ] || [ -z "$DSN" ] || [ -z "$TMI" ]; then
    fail "RB_TEST_TMISIM_URL/_PPROF_URL/_PG_DSN/_PG_URL not set: the tmisim lab service did not start"
    done_testing; exit 1
fi

# metric SERIES: the value of one exact series ("name" or 'name{a="b"}'), 0 if absent.
metric() { curl -fsS --max-time 10 "$URL/metrics" | awk -v s="$1" '$1 == s { v = $2 } END { print v + 0 }'; }
# cmp A OP B: numeric comparison (floats) by awk.
cmp() { awk -v a="$1" -v b="$3" "BEGIN { exit !(a $2 b) }"; }
# eventually SECONDS COMMAND...: retry COMMAND every 0.5 s until it passes.
eventually() {
    local end=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do [ "$SECONDS" -ge "$end" ] && return 1; sleep 0.5; done
}
fault() { curl -fsS --max-time 30 -X POST "$URL/admin/faults/$1?$2" >"$T_TMP/fault.json"; }
fault_off() { [ "$(metric "tmisim_fault_active{fault=\"$1\"}")" = 0 ]; }
sql() { psql "$DSN" -XAtqc "$1"; }
metric_at_least() { cmp "$(metric "$1")" '>=' "$2"; }
metric_below() { cmp "$(metric "$1")" '<' "$2"; }
sql_is() { [ "$(sql "$1")" = "$2" ]; }
sql_at_least() { cmp "$(sql "$1")" '>=' "$2"; }
# req_time PATH: seconds one GET takes (status in $T_TMP/status)
req_time() { curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 30 "$URL$1" | { read -r c t; echo "$c" >"$T_TMP/status"; echo "$t"; }; }

# --- the simulator's own unit tests (DSN forms, SCRAM, exposition) ---------
go_unit() { (cd "$ROOT/tests/lab/tmisim" && GOPROXY=off GOFLAGS= GOCACHE="$T_TMP/gocache" GOPATH="$T_TMP/gopath" go test .); }
check "go test of tests/lab/tmisim passes" go_unit

# --- start conditions -------------------------------------------------------
curl -sS --max-time 10 "$URL/health" >"$T_TMP/health"
contains "/health reports status ok" "$T_TMP/health" '"status":"ok"'
curl -fsS --max-time 10 "$URL/api/v1/threat_models/2" >"$T_TMP/model"
contains "GET /api/v1/threat_models/{id} returns the model" "$T_TMP/model" '"id":2'
curl -fsS --max-time 10 "$URL/api/v1/threat_models?limit=3" >"$T_TMP/list"
contains "GET /api/v1/threat_models lists models" "$T_TMP/list" '"id":3'
curl -sS --max-time 10 -X POST -d '{"name":"e2e model","owner":"e2e@tmisim"}' "$URL/api/v1/threat_models" >"$T_TMP/created"
contains "POST /api/v1/threat_models creates a model" "$T_TMP/created" '"owner":"e2e@tmisim"'
check "database tmi has thousands of threat models" sql_at_least "SELECT count(*) FROM threat_models" 1000
curl -sS --max-time 30 -X POST "$URL/admin/cache/warmup" >"$T_TMP/warmup"
contains "POST /admin/cache/warmup fills the cache" "$T_TMP/warmup" '"warmed":'

curl -fsS --max-time 10 "$URL/metrics" >"$T_TMP/metrics"
for name in http_request_duration_seconds_bucket http_requests_total http_request_size_bytes_bucket \
    process_cpu_seconds_total go_memstats_heap_inuse_bytes go_memstats_heap_alloc_bytes go_goroutines \
    'go_gc_duration_seconds{quantile="0.5"}' 'go_gc_duration_seconds{quantile="0.95"}' \
    go_gc_duration_seconds_count db_query_duration_seconds_bucket \
    db_connections_active db_connections_max db_slow_queries_total redis_cache_hits_total \
    redis_cache_operations_total redis_operation_duration_seconds_bucket redis_memory_used_bytes \
    redis_memory_max_bytes; do
    if grep -qE "^${name//[\{\}\"]/.}[{ ]" "$T_TMP/metrics"; then ok "/metrics has $name"; else fail "/metrics has $name"; fi
done
if command -v promtool >/dev/null; then
    check "promtool check metrics accepts /metrics" promtool check metrics <"$T_TMP/metrics"
fi
check "db_connections_max is the pool size" metric_at_least db_connections_max 1
check "redis_memory_used_bytes comes from Redis INFO" metric_at_least redis_memory_used_bytes 1
curl -fsS --max-time 10 "$PPROF/debug/pprof/goroutine?debug=1" >"$T_TMP/gdump"
contains "pprof port serves a goroutine profile" "$T_TMP/gdump" "goroutine profile:"
curl -fsS --max-time 10 "$URL/admin/faults" >"$T_TMP/faults"
lacks "no fault is on at start" "$T_TMP/faults" '"on":true'
expect_rc "an unknown fault is refused" 22 curl -fsS -X POST "$URL/admin/faults/nope?on=1"
expect_rc "a bad fault parameter is refused" 22 curl -fsS -X POST "$URL/admin/faults/cpu_burn?on=1&workers=999"

# --- slow endpoint: one endpoint's latency > 2 s ---------------------------
SLOW='http_request_duration_seconds_bucket{endpoint="/api/v1/threat_models/{id}",method="GET",status="200",le="2.5"}'
SLOWALL='http_request_duration_seconds_count{endpoint="/api/v1/threat_models/{id}",method="GET",status="200"}'
fault slow_endpoint "on=1&delay=2.6&for=60"
before_fast=$(metric "$SLOW"); before_all=$(metric "$SLOWALL")
t=$(req_time /api/v1/threat_models/3)
check "slow_endpoint: GET /api/v1/threat_models/{id} takes > 2 s ($t s)" cmp "$t" '>' 2
t2=$(req_time /api/v1/threat_models)
check "slow_endpoint: other endpoints stay fast ($t2 s)" cmp "$t2" '<' 1
slow_seen() { cmp "$(($(printf '%.0f' "$(metric "$SLOWALL")") - $(printf '%.0f' "$(metric "$SLOW")")))" '>' \
    "$(($(printf '%.0f' "$before_all") - $(printf '%.0f' "$before_fast")))"; }
check "slow_endpoint: the histogram counts requests above 2.5 s" slow_seen
fault slow_endpoint "on=0"
t=$(req_time /api/v1/threat_models/3)
check "slow_endpoint off: the endpoint is fast again ($t s)" cmp "$t" '<' 1

# --- error burst: 5xx ------------------------------------------------------
E500='http_requests_total{endpoint="/api/v1/threat_models/{id}",status="500",method="GET"}'
before=$(metric "$E500")
fault error_burst "on=1&rate=1&for=60"
req_time /api/v1/threat_models/4 >/dev/null
contains "error_burst: the API answers 500" "$T_TMP/status" 500
check "error_burst: http_requests_total{status=\"500\"} grows" metric_at_least "$E500" "$(awk -v b="$before" 'BEGIN{print b+1}')"
req_time /health >/dev/null
contains "error_burst: /health is not affected" "$T_TMP/status" 200
fault error_burst "on=0"
req_time /api/v1/threat_models/4 >/dev/null
contains "error_burst off: the API answers 200" "$T_TMP/status" 200

# --- CPU burn: rate(process_cpu_seconds_total) near one core ---------------
# Idle, the simulator uses ~0.005 CPU-seconds a second; a burning worker gets
# up to one core, less when the CI machine is busy: wait for 1.5 s of CPU.
c0=$(metric process_cpu_seconds_total)
fault cpu_burn "on=1&workers=1&for=30"
check "cpu_burn: process_cpu_seconds_total gains 1.5 s within 10 s (from $c0)" \
    eventually 10 metric_at_least process_cpu_seconds_total "$(awk -v c="$c0" 'BEGIN{print c+1.5}')"
curl -fsS --max-time 40 "$PPROF/debug/pprof/profile?seconds=1" -o "$T_TMP/cpu.prof"
pprof_top() { GOFLAGS= GOPROXY=off go tool pprof -top "$1" >"$2" 2>&1; }
check "cpu_burn: go tool pprof reads the CPU profile" pprof_top "$T_TMP/cpu.prof" "$T_TMP/cpu.top"
contains "cpu_burn: main.cpuBurner is in the profile" "$T_TMP/cpu.top" "main.cpuBurner"
fault cpu_burn "on=0"
c0=$(metric process_cpu_seconds_total); sleep 2; c1=$(metric process_cpu_seconds_total)
check "cpu_burn off: CPU use falls ($c0 -> $c1 in 2 s)" cmp "$(awk -v a="$c0" -v b="$c1" 'BEGIN{print b-a}')" '<' 0.6

# --- memory growth: heap in use grows to the cap, released when off --------
h0=$(metric go_memstats_heap_inuse_bytes)
fault memory_growth "on=1&step_mb=32&cap_mb=96&for=60"
check "memory_growth: go_memstats_heap_inuse_bytes grows by >= 90 MiB" \
    eventually 15 metric_at_least go_memstats_heap_inuse_bytes "$(awk -v h="$h0" 'BEGIN{print h + 90*1048576}')"
check "memory_growth: go_memstats_heap_alloc_bytes grows too" \
    metric_at_least go_memstats_heap_alloc_bytes "$(awk -v h="$h0" 'BEGIN{print h + 80*1048576}')"
fault memory_growth "on=0"
check "memory_growth off: heap in use drops back" \
    eventually 15 metric_below go_memstats_heap_inuse_bytes "$(awk -v h="$h0" 'BEGIN{print h + 40*1048576}')"

# --- goroutine leak: go_goroutines > 5000, main.leakyWorker in the dump ----
fault goroutine_leak "on=1&n=6000&for=60"
check "goroutine_leak: go_goroutines > 5000" eventually 10 metric_at_least go_goroutines 6000
curl -fsS --max-time 30 "$PPROF/debug/pprof/goroutine?debug=2" >"$T_TMP/g2"
contains "goroutine_leak: the debug=2 dump names main.leakyWorker" "$T_TMP/g2" "main.leakyWorker"
contains "goroutine_leak: leaked goroutines wait on a channel" "$T_TMP/g2" "[chan receive"
fault goroutine_leak "on=0"
check "goroutine_leak off: go_goroutines back under 1000" eventually 10 metric_below go_goroutines 1000

# --- PostgreSQL lock: a blocked updater in pg_locks ------------------------
BLOCKED="SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE NOT l.granted AND a.datname = 'tmi'"
fault pg_lock "on=1&id=1&waiters=2&for=60"
check "pg_lock: updaters wait on a lock (pg_locks not granted)" eventually 10 sql_at_least "$BLOCKED" 1
check "pg_lock: the holder is idle in transaction" eventually 5 sql_is \
    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tmisim-lock-holder' AND state = 'idle in transaction'" 1
fault pg_lock "on=0"
check "pg_lock off: no lock is waited on" eventually 10 sql_is "$BLOCKED" 0
check "pg_lock off: the holder session is gone" eventually 10 sql_is \
    "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'tmisim-lock-%'" 0
fault pg_lock "on=1&id=1&waiters=1&for=60"
eventually 10 sql_is "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tmisim-lock-holder' AND state = 'idle in transaction'" 1
psql "$TMI" -XAtqc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'tmisim-lock-holder'" \
    >"$T_TMP/terminated" 2>&1
contains "pg_lock: role tmi (the seed's psql -U tmi) may terminate the holder" "$T_TMP/terminated" t
check "pg_lock: terminating the holder (the runbook's fix) ends the fault" eventually 10 fault_off pg_lock
curl -fsS "$URL/admin/faults" >"$T_TMP/faults"
contains "pg_lock: the fault says why it ended" "$T_TMP/faults" "lock holder session ended"

# --- pooled sessions ended by an operator: the API reconnects --------------
curl -fsS "$URL/api/v1/threat_models?limit=1" >/dev/null
psql "$TMI" -XAtqc "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'tmisim' AND state = 'idle'" \
    >"$T_TMP/terminated" 2>&1
check "idle pool sessions can be terminated as role tmi" test "$(cat "$T_TMP/terminated")" -ge 1
for i in 1 2 3; do req_time "/api/v1/threat_models?limit=1" >/dev/null; cat "$T_TMP/status"; done >"$T_TMP/statuses"
check "after pg_terminate_backend of its pool the API still answers 200" test "$(grep -c '^200$' "$T_TMP/statuses")" = 3

# --- long query: pg_sleep visible in pg_stat_activity ----------------------
LONGQ="SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep%tmisim long_query%' AND application_name = 'tmisim-long-query'"
fault long_query "on=1&sessions=1&for=60"
check "long_query: an active pg_sleep query runs in a background session" eventually 10 sql_is "$LONGQ" 1
fault long_query "on=0"
check "long_query off: the query is cancelled" eventually 10 sql_is "$LONGQ" 0

# --- slow queries: db_query_duration and db_slow_queries_total -------------
s0=$(metric db_slow_queries_total)
fault slow_queries "on=1&delay=0.7&for=60"
t=$(req_time "/api/v1/threat_models?limit=1")
check "slow_queries: a list request waits on PostgreSQL ($t s)" cmp "$t" '>=' 0.7
check "slow_queries: db_slow_queries_total grows" metric_at_least db_slow_queries_total "$(awk -v s="$s0" 'BEGIN{print s+1}')"
fault slow_queries "on=0"
t=$(req_time "/api/v1/threat_models?limit=1")
check "slow_queries off: list is fast again ($t s)" cmp "$t" '<' 0.5

# --- sequential scans: pg_stat_user_tables.seq_scan grows ------------------
SEQ="SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'threat_models'"
q0=$(sql "$SEQ")
fault seqscan "on=1&rps=20&for=60"
check "seqscan: threat_models seq_scan grows by >= 20" eventually 15 sql_at_least "$SEQ" $((q0 + 20))
fault seqscan "on=0"
check "seqscan: the queries are timed as seqscan_report" \
    metric_at_least 'db_query_duration_seconds_count{query="seqscan_report"}' 20

# --- pool exhaustion: every pool session busy ------------------------------
fault pool_exhaustion "on=1&for=60"
check "pool_exhaustion: db_connections_active reaches db_connections_max" \
    eventually 15 metric_at_least db_connections_active "$(metric db_connections_max)"
check "pool_exhaustion: the busy sessions show in pg_stat_activity" eventually 10 sql_at_least \
    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%tmisim pool_exhaustion%'" 2
t=$(curl -s -o /dev/null -w '%{time_total}' --max-time 3 "$URL/api/v1/threat_models?limit=1")
check "pool_exhaustion: an API request waits for a session ($t s)" cmp "$t" '>=' 2.5
curl -fsS -X POST "$URL/admin/config?DB_MAX_CONNECTIONS=20" >/dev/null
t=$(req_time "/api/v1/threat_models?limit=1")
check "pool_exhaustion: the seed's fix (DB_MAX_CONNECTIONS=20) serves requests again ($t s)" cmp "$t" '<' 1
fault pool_exhaustion "on=0"
curl -fsS -X POST "$URL/admin/config?DB_MAX_CONNECTIONS=10" >/dev/null
check "pool_exhaustion off: sessions are released" eventually 10 metric_below db_connections_active 3
t=$(req_time "/api/v1/threat_models?limit=1")
check "pool_exhaustion off: the API answers at once ($t s)" cmp "$t" '<' 1

# --- Redis memory pressure --------------------------------------------------
m0=$(metric redis_memory_used_bytes)
fault redis_memory "on=1&mb=24&for=60"
check "redis_memory: redis_memory_used_bytes grows by >= 20 MiB" \
    eventually 15 metric_at_least redis_memory_used_bytes "$(awk -v m="$m0" 'BEGIN{print m + 20*1048576}')"
fault redis_memory "on=0"
check "redis_memory off: the filler keys are deleted" \
    eventually 10 metric_below redis_memory_used_bytes "$(awk -v m="$m0" 'BEGIN{print m + 8*1048576}')"

# --- cache misses: hit rate drops, warmup restores it ----------------------
KEY=tmisim:threat_model:5
curl -fsS --max-time 30 -X POST "$URL/admin/cache/warmup" >/dev/null
curl -fsS "$URL/api/v1/threat_models/5" >/dev/null
fault cache_misses "on=1&for=60"
h0=$(metric redis_cache_hits_total); o0=$(metric redis_cache_operations_total)
for i in 1 2 3 4 5; do curl -fsS "$URL/api/v1/threat_models/5" >/dev/null; done
h1=$(metric redis_cache_hits_total); o1=$(metric redis_cache_operations_total)
check "cache_misses: lookups go on (ops $o0 -> $o1)" cmp "$o1" '>=' "$(awk -v o="$o0" 'BEGIN{print o+5}')"
check "cache_misses: no hits while on (hits $h0 -> $h1)" cmp "$h1" '==' "$h0"
curl -fsS --max-time 30 -X POST "$URL/admin/cache/warmup" >/dev/null
curl -fsS "$URL/api/v1/threat_models/5" >/dev/null
check "cache_misses: the seed's warmup brings hits back" metric_at_least redis_cache_hits_total "$(awk -v h="$h1" 'BEGIN{print h+1}')"
fault cache_misses "on=0"

# --- run-time settings (what `kubectl set env` changes) and restart -------
cfg() { curl -fsS --max-time 10 -X POST "$URL/admin/config?$1" >"$T_TMP/config.json"; }
check "config: DB_MAX_CONNECTIONS=4 is accepted" cfg "DB_MAX_CONNECTIONS=4&GOGC=50&OTEL_TRACING_BATCH_SIZE=256"
check "config: db_connections_max follows DB_MAX_CONNECTIONS" test "$(metric db_connections_max)" = 4
contains "config: GOGC=50 is in force" "$T_TMP/config.json" '"GOGC":50'
contains "config: OTEL_* variables are recorded" "$T_TMP/config.json" '"OTEL_TRACING_BATCH_SIZE":"256"'
expect_rc "config: a bad value is refused" 22 curl -fsS -X POST "$URL/admin/config?DB_MAX_CONNECTIONS=zero"
check "config: back to DB_MAX_CONNECTIONS=10 GOGC=100" cfg "DB_MAX_CONNECTIONS=10&GOGC=100"
check "config: db_connections_max is 10 again" test "$(metric db_connections_max)" = 10
fault goroutine_leak "on=1&n=2000&for=60"
eventually 10 metric_at_least go_goroutines 2000
curl -fsS --max-time 30 -X POST "$URL/admin/restart" >"$T_TMP/restart.json"
lacks "restart: every fault is off" "$T_TMP/restart.json" '"on":true'
check "restart: the leaked goroutines are gone" eventually 10 metric_below go_goroutines 1000

# --- bounded duration, and everything off at the end -----------------------
fault cpu_burn "on=1&for=60"; fault goroutine_leak "on=1&n=50&for=60"
curl -fsS --max-time 30 -X POST "$URL/admin/faults/all?on=0" >"$T_TMP/faults"
lacks "POST /admin/faults/all?on=0 switches every fault off" "$T_TMP/faults" '"on":true'
fault error_burst "on=1&rate=0.5&for=1"
check "a fault ends by itself after its duration" eventually 10 fault_off error_burst
curl -fsS "$URL/admin/faults" >"$T_TMP/faults"
contains "the fault says its duration elapsed" "$T_TMP/faults" "duration elapsed"
lacks "every fault is off at the end" "$T_TMP/faults" '"on":true'
curl -fsS "$URL/metrics" >"$T_TMP/metrics"
nfaults=$(grep -o '"name":"[a-z_]*"' "$T_TMP/faults" | wc -l)
check "tmisim_fault_active lists every fault ($nfaults) at 0" \
    test "$(grep -c '^tmisim_fault_active{fault="[a-z_]*"} 0$' "$T_TMP/metrics")" = "$nfaults"
done_testing
