#!/usr/bin/env bash
# lab: tmisim tmiprom k8s pg redis
# The TMI runbook end to end, one block per section, on the lab (real
# PostgreSQL, Redis and Prometheus, the TMI simulator, the Kubernetes API
# stand-in whose tmi-api pods proxy to the simulator): inject the section's
# fault -> --investigate-only reports Critical on the right check (exit 4) ->
# --dry-run changes nothing (checked on each server) -> --yes changes what
# the seed intends (checked with the real kubectl, psql, redis-cli) -> the
# audit chain verifies. A clean lab triages with nothing critical.
. "$(dirname "$0")/lib.sh"
SIM=$RB_TEST_TMISIM_URL
KC=$RB_TEST_K8S_KUBECONFIG
AUD=$T_TMP/audit.jsonl
CFG=$T_TMP/config.yaml
SUPER="host=$RB_TEST_PG_SOCKET port=$RB_TEST_PG_PORT user=postgres dbname=tmi"
REDIS_PASS=$(printf '%s' "$RB_TEST_REDIS_URL" | sed -E 's|redis://:([^@]*)@.*|\1|')
lab_environments >"$CFG"
rb() { local s=$1; shift; timeout 120 "$RUNBOOK" run "tmi/$s" --env lab --config "$CFG" --audit "$AUD" --set window=15s "$@"; }
kube() { timeout 20 kubectl --kubeconfig "$KC" -n tmi "$@"; }
fault() { curl -sf -X POST "$SIM/admin/faults/$1?on=${2:-1}&${3:-}" >/dev/null; }
all_off() { curl -sf -X POST "$SIM/admin/faults/all?on=0&pod=all" >/dev/null; }
lab_reset() { curl -sfk -H "Authorization: Bearer $(cat "$RB_TEST_K8S_TOKEN_FILE")" "$RB_TEST_K8S_URL/__lab/reset" >/dev/null; }
redis_get() { redis-cli -p "$RB_TEST_REDIS_PORT" --no-auth-warning -a "$REDIS_PASS" CONFIG GET "$1" | tail -1; }
psql_super() { psql "$SUPER" -Atc "$1"; }
k8s_writes() { python3 -c '
import json, sys
n = d = 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["method"] != "GET":
        n += 1
        d += e.get("dryRun") == "All"
print(n, d)' "$RB_TEST_K8S_LOG"; }

# eventually_critical SECTION "CHECK" ARGS...: --investigate-only until it exits 4 naming CHECK (bounded)
eventually_critical() {
    local s=$1 check=$2 rc=0; shift 2
    for _ in $(seq 30); do
        rb "$s" --investigate-only "$@" >"$T_TMP/inv.out" 2>&1; rc=$?
        [ $rc = 4 ] && grep -qF "[CRIT] $check" "$T_TMP/inv.out" && break
        sleep 3
    done
    if [ $rc = 4 ] && grep -qF "[CRIT] $check" "$T_TMP/inv.out"; then ok "$s: --investigate-only reports '$check' critical (exit 4)"
    else fail "$s: no critical '$check' (exit $rc)"; sed 's/^/#   /' "$T_TMP/inv.out" | tail -25; fi
}

# dry_run SECTION ARGS...: exit 0, the banner, and no write reached the API server
dry_run() {
    local s=$1 before after; shift
    before=$(k8s_writes)
    expect_rc "$s: --dry-run exits 0" 0 rb "$s" --dry-run "$@"
    contains "$s: --dry-run says nothing was changed" "$T_TMP/out" "DRY RUN — nothing was changed."
    after=$(k8s_writes)
    set -- $before; local n0=$1 d0=$2; set -- $after
    [ $(( $1 - n0 )) = $(( $2 - d0 )) ] && ok "$s: every API write under --dry-run was dryRun=All ($(( $1 - n0 )))" \
        || fail "$s: --dry-run sent $(( ($1 - n0) - ($2 - d0) )) real API write(s)"
}

# the simulator and Redis are shared with later suites: put back what the sections change
SIM_CONFIG0=$(curl -sf "$SIM/admin/config" | python3 -c 'import json,sys,urllib.parse as u
d = json.load(sys.stdin); print(u.urlencode({k: v for k, v in d.items() if k != "env"}))')
POLICY0=$(redis_get maxmemory-policy)
restore() {
    all_off; lab_reset
    curl -sf -X POST "$SIM/admin/config?$SIM_CONFIG0" >/dev/null
    curl -sf -X POST "$SIM/admin/restart" >/dev/null
    curl -sf -X POST "$SIM/admin/cache/warmup" >/dev/null
    redis-cli -p "$RB_TEST_REDIS_PORT" --no-auth-warning -a "$REDIS_PASS" CONFIG SET maxmemory-policy "$POLICY0" >/dev/null
}
trap 'restore; rm -rf "$T_TMP"' EXIT
all_off; lab_reset
# --- a clean lab: nothing critical
# a freshly started lab needs two scrapes inside the window before rates exist (exit 5: cannot tell yet)
for _ in $(seq 30); do
    timeout 60 "$RUNBOOK" triage tmi --env lab --config "$CFG" --set window=15s >/dev/null 2>&1
    [ $? = 0 ] && break; sleep 1
done
expect_rc "clean lab: triage exits 0" 0 timeout 60 "$RUNBOOK" triage tmi --env lab --config "$CFG" --set window=15s
lacks "clean lab: triage finds nothing critical" "$T_TMP/out" "[CRIT]"

# --- performance-indicators: an error burst
fault error_burst 1 "rate=0.6"
eventually_critical performance-indicators "Error rate"
all_off
dry_run performance-indicators
expect_rc "performance-indicators: --yes exits 0 (no resolve steps)" 0 rb performance-indicators --yes

# --- high-response-time: a slow endpoint
fault slow_endpoint 1 "delay=3"
eventually_critical high-response-time "slowest endpoint p95"
all_off
dry_run high-response-time
[ "$(kube get deploy tmi-api -o jsonpath='{.spec.replicas}')" = 3 ] && ok "high-response-time: --dry-run left 3 replicas" || fail "dry run changed replicas"
expect_rc "high-response-time: --yes exits 0" 0 rb high-response-time --resolve-only --yes
[ "$(kube get deploy tmi-api -o jsonpath='{.spec.replicas}')" = 5 ] && ok "high-response-time: scaled to 5 (kubectl)" || fail "not scaled to 5"
grep '"event":"result"' "$AUD" | grep -qF 'cache\/warmup' && ok "high-response-time: the warmup POST was sent and audited" || fail "warmup not audited"
lab_reset

# --- high-cpu: a CPU burn
fault cpu_burn 1 "workers=2"
eventually_critical high-cpu "CPU utilization" --set profile_seconds=1
all_off
dry_run high-cpu --set profile_seconds=1
expect_rc "high-cpu: --yes exits 0" 0 rb high-cpu --resolve-only --yes
[ "$(kube get deploy tmi-api -o jsonpath='{.spec.replicas}')" = 6 ] && ok "high-cpu: scaled to 6" || fail "not scaled to 6"
[ "$(kube get deploy tmi-api -o jsonpath='{.spec.template.spec.containers[0].resources.limits.cpu}')" = 1 ] \
    || [ "$(kube get deploy tmi-api -o jsonpath='{.spec.template.spec.containers[0].resources.limits.cpu}')" = 1000m ] \
    && ok "high-cpu: CPU limit is 1000m" || fail "CPU limit not set"
lab_reset

# --- high-memory: memory growth against a 200 MB limit
fault memory_growth 1 "step_mb=32&cap_mb=256"
eventually_critical high-memory "Memory usage" --set memory_limit_bytes=200000000
all_off
dry_run high-memory
[ -z "$(kube get deploy tmi-api -o jsonpath='{.spec.template.spec.containers[0].env[?(@.name=="GOGC")].value}')" ] \
    && ok "high-memory: --dry-run set no GOGC" || fail "dry run set GOGC"
expect_rc "high-memory: --yes exits 0" 0 rb high-memory --resolve-only --yes
c='{.spec.template.spec.containers[0]'
[ "$(kube get deploy tmi-api -o jsonpath="$c.resources.limits.memory}")" = 1Gi ] && ok "high-memory: memory limit 1Gi" || fail "memory limit not 1Gi"
[ "$(kube get deploy tmi-api -o jsonpath="$c.env[?(@.name==\"GOGC\")].value}")" = 50 ] && ok "high-memory: GOGC=50" || fail "GOGC not 50"
[ "$(kube get deploy tmi-api -o jsonpath="$c.env[?(@.name==\"OTEL_TRACING_BATCH_SIZE\")].value}")" = 256 ] && ok "high-memory: OTEL_TRACING_BATCH_SIZE=256" || fail "OTEL batch not set"
sim_config() { # KEY VALUE: the simulator's /admin/config reaches it (the stand-in applies pod templates to it)
    for _ in $(seq 20); do curl -sf "$SIM/admin/config" | grep -q "\"$1\":$2" && return 0; sleep 0.5; done; return 1; }
sim_config GOGC 50 && ok "high-memory: the simulator runs with GOGC=50 after the rollout" || fail "GOGC not applied to the simulator"
kube get deploy tmi-api -o jsonpath='{.spec.template.metadata.annotations}' | grep -q restartedAt \
    && ok "high-memory: rollout restart annotated the template" || fail "no restartedAt annotation"
lab_reset

# --- database: a row lock with waiters
fault pg_lock 1 "waiters=2"
eventually_critical database "blocked queries" --set postgres_url="$SUPER"
all_off
wm=$(psql_super "SHOW work_mem")
# statements that are $1 (not the EXPLAIN of a read, not the plan's privilege check naming it)
pg_writes() { grep -v -e EXPLAIN -e has_parameter_privilege "$RB_TEST_PG_LOG" | grep -c "$1" || true; }
alter0=$(pg_writes "ALTER SYSTEM"); vac0=$(pg_writes "VACUUM ANALYZE")
dry_run database --set postgres_url="$SUPER"
[ "$(psql_super "SHOW work_mem")" = "$wm" ] && ok "database: --dry-run left work_mem ($wm)" || fail "dry run changed work_mem"
[ "$(pg_writes "ALTER SYSTEM")" = "$alter0" ] && [ "$(pg_writes "VACUUM ANALYZE")" = "$vac0" ] \
    && ok "database: --dry-run ran no ALTER SYSTEM or VACUUM (statement log)" || fail "database: dry run reached the server"
expect_rc "database: --yes exits 0" 0 rb database --resolve-only --yes --set postgres_url="$SUPER"
[ "$(psql_super "SHOW work_mem")" = 8MB ] && ok "database: work_mem is 8MB after reload" || fail "work_mem $(psql_super 'SHOW work_mem')"
[ "$(pg_writes "VACUUM ANALYZE")" = $((vac0 + 1)) ] && ok "database: VACUUM ANALYZE ran once" || fail "VACUUM ANALYZE count $(pg_writes 'VACUUM ANALYZE') (was $vac0)"
[ "$(pg_writes "ALTER SYSTEM")" = $((alter0 + 2)) ] && ok "database: two ALTER SYSTEM statements ran" || fail "ALTER SYSTEM count"
[ "$(kube get deploy tmi-api -o jsonpath="$c.env[?(@.name==\"DB_MAX_CONNECTIONS\")].value}")" = 50 ] && ok "database: DB_MAX_CONNECTIONS=50" || fail "DB env not set"
sim_config DB_MAX_CONNECTIONS 50 && ok "database: the simulator's pool is resized to 50" || fail "pool size not applied"
psql "$SUPER" -qc "ALTER SYSTEM RESET work_mem" -c "ALTER SYSTEM RESET shared_buffers" -c "SELECT pg_reload_conf()" >/dev/null
lab_reset

# --- cache: misses
fault cache_misses 1
eventually_critical cache "Cache hit rate"
all_off
to=$(redis_get timeout)
dry_run cache
[ "$(redis_get timeout)" = "$to" ] && ok "cache: --dry-run left timeout ($to)" || fail "dry run changed timeout"
expect_rc "cache: --yes exits 0" 0 rb cache --resolve-only --yes
[ "$(redis_get timeout)" = 300 ] && ok "cache: timeout 300" || fail "timeout $(redis_get timeout)"
[ "$(redis_get maxmemory-policy)" = allkeys-lru ] && ok "cache: maxmemory-policy allkeys-lru" || fail "policy $(redis_get maxmemory-policy)"
redis-cli -p "$RB_TEST_REDIS_PORT" --no-auth-warning -a "$REDIS_PASS" CONFIG SET timeout "$to" >/dev/null
curl -sf -X POST "$SIM/admin/cache/warmup" >/dev/null   # the cache the later sections expect

# --- network-latency: Redis unreachable
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
NET="--set postgres_host=127.0.0.1 --set postgres_port=$RB_TEST_PG_PORT --set redis_host=127.0.0.1"
eventually_critical network-latency "redis failed connects (of 5)" $NET --set redis_port="$closed"
dry_run network-latency $NET --set redis_port="$RB_TEST_REDIS_PORT"

# --- goroutine-leaks: parked goroutines in one pod (not the first in sort order)
leaker=$(kube get pods -l app=tmi-api -o jsonpath='{.items[*].metadata.name}' | tr ' ' '\n' | sort | tail -1)
fault goroutine_leak 1 "n=6000&pod=$leaker"
eventually_critical goroutine-leaks "Goroutines" --set growth_interval=1
expect_rc "triage with a goroutine leak exits 4" 4 timeout 60 "$RUNBOOK" triage tmi --env lab --config "$CFG" --set window=15s
contains "triage ranks goroutine-leaks first" "$T_TMP/out" "1. critical runbook run tmi/goroutine-leaks"
others=$(kube get pods -l app=tmi-api -o jsonpath='{.items[*].metadata.name}' | tr ' ' '\n' | grep -vx "$leaker")
dry_run goroutine-leaks
kube get pod "$leaker" >/dev/null 2>&1 && ok "goroutine-leaks: --dry-run deleted no pod" || fail "dry run deleted $leaker"
expect_rc "goroutine-leaks: --yes exits 0" 0 rb goroutine-leaks --resolve-only --yes --set watch_seconds=10
kube get pod "$leaker" >/dev/null 2>&1 && fail "goroutine-leaks: $leaker still there" || ok "goroutine-leaks: the leaking pod $leaker was deleted"
for p in $others; do kube get pod "$p" >/dev/null 2>&1 || fail "goroutine-leaks: $p (not leaking) was deleted"; done
ok "goroutine-leaks: the pods that do not leak are still there"
contains "goroutine-leaks: the replacement pod's goroutine count is good" "$T_TMP/out" "[ OK ] goroutines on"
[ "$(kube get pods -l app=tmi-api -o name | wc -l)" = 3 ] && ok "goroutine-leaks: a replacement keeps 3 pods" || fail "pods: $(kube get pods -l app=tmi-api -o name | wc -l)"
all_off; lab_reset

# --- performance-optimization: tuning
dry_run performance-optimization --set watch_samples=1
kube get configmap profiling-config >/dev/null 2>&1 && fail "performance-optimization: dry run created the ConfigMap" \
    || ok "performance-optimization: --dry-run created no ConfigMap"
expect_rc "performance-optimization: --yes exits 0" 0 rb performance-optimization --yes --set watch_samples=1
[ "$(kube get deploy tmi-api -o jsonpath="$c.env[?(@.name==\"ENABLE_PPROF\")].value}")" = true ] && ok "performance-optimization: ENABLE_PPROF=true" || fail "ENABLE_PPROF not set"
[ "$(kube get deploy tmi-api -o jsonpath="$c.env[?(@.name==\"GOMAXPROCS\")].value}")" = 4 ] && ok "performance-optimization: GOMAXPROCS=4" || fail "GOMAXPROCS not set"
[ "$(kube get configmap profiling-config -o jsonpath='{.data.profiles}')" = "cpu,heap,goroutine,mutex,block" ] \
    && ok "performance-optimization: the profiling ConfigMap is applied (kubectl)" || fail "profiling-config not applied"
kube get job load-test >/dev/null 2>&1 && ok "performance-optimization: the load-test Job is applied (kubectl)" || fail "load-test job not applied"
expect_rc "performance-optimization: applying again only configures" 0 rb performance-optimization --resolve-only --yes --step "Set up continuous profiling"
contains "performance-optimization: a second apply reports configured" "$T_TMP/out" "configmaps/profiling-config configured"
lab_reset

# --- alerting rules from the same thresholds
expect_rc "export-alerts tmi" 0 "$RUNBOOK" export-alerts tmi -o "$T_TMP/rules.yml"
check "promtool accepts the rules" promtool check rules "$T_TMP/rules.yml"
contains "the seed's HighResponseTime alert is there" "$T_TMP/rules.yml" "alert: HighResponseTime"
contains "the seed's HighCPUUsage alert is there" "$T_TMP/rules.yml" "alert: HighCPUUsage"
contains "HighCPUUsage has the seed's expression" "$T_TMP/rules.yml" "(max(rate(process_cpu_seconds_total[5m]) * 100)) > 85"

check "the audit chain of every run verifies" "$RUNBOOK" audit verify "$AUD"
lacks "no Redis password in the audit log" "$AUD" "$REDIS_PASS"
done_testing
