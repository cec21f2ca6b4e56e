#!/usr/bin/env bash
# lab: tmisim tmiprom k8s pg redis
# The TMI fault matrix: each of the lab's 12 faults, injected into one pod
# (the pod-level ones) or the shared PostgreSQL/Redis, must (1) put its owning
# section first in `runbook triage` within a minute, (2) make the owner's
# --investigate-only report the cause (the pod, endpoint and status, query,
# blocker, table and column, key pattern), and (3) for the pod-level faults,
# make the owner's --dry-run plan aim at the culprit (the leaking pod, the
# deployment read from the cluster). Short windows (15 s, 10 s) keep it
# within CI's time; between faults the lab is back to clean (triage exit 0).
. "$(dirname "$0")/lib.sh"
SIM=$RB_TEST_TMISIM_URL
KC=$RB_TEST_K8S_KUBECONFIG
CFG=$T_TMP/config.yaml
SUPER="host=$RB_TEST_PG_SOCKET port=$RB_TEST_PG_PORT user=postgres dbname=tmi"
lab_environments >"$CFG"
W="--set window=15s --set short_window=10s"
# the lab's 512 MiB and 256 MiB limits would need too much memory in CI: the
# memory faults are judged against smaller limits
LIMITS="--set memory_limit_bytes=200000000 --set redis_memory_limit_bytes=40000000"
tri() { timeout 60 "$RUNBOOK" triage tmi --env lab --config "$CFG" $W $LIMITS "$@"; }
rb() { local s=$1; shift; timeout 120 "$RUNBOOK" run "tmi/$s" --env lab --config "$CFG" --audit "$T_TMP/audit.jsonl" $W $LIMITS "$@"; }
fault() { curl -sf -X POST "$SIM/admin/faults/$1?on=1&for=90&$2" >/dev/null || fail "could not inject $1"; }
all_off() { curl -sf -X POST "$SIM/admin/faults/all?on=0&pod=all" >/dev/null; }
trap 'all_off; rm -rf "$T_TMP"' EXIT
# output is redacted where it repeats a credential (the lab's role and password are both "tmi"): match pod suffixes
suffix() { echo "${1#tmi-api-}"; }

# owner_first FAULT OWNER: triage ranks OWNER first within 60 s (exit 4 or a warning)
owner_first() {
    local f=$1 owner=$2 i
    for i in $(seq 30); do
        tri >"$T_TMP/tri.out" 2>&1
        grep -qE "^  1\. [a-z]+ +runbook run tmi/$owner " "$T_TMP/tri.out" && break
        sleep 2
    done
    if grep -qE "^  1\. [a-z]+ +runbook run tmi/$owner " "$T_TMP/tri.out"; then ok "$f: triage ranks $owner first (after ~$((i * 2)) s)"
    else fail "$f: triage does not rank $owner first"; sed 's/^/#   /' "$T_TMP/tri.out" | tail -8; fi
}

# cause FAULT OWNER PATTERN ARGS...: the owner's --investigate-only output has PATTERN (a regex)
cause() {
    local f=$1 owner=$2 pat=$3; shift 3
    for _ in $(seq 6); do  # a fault's rate needs a few scrapes to show over the window
        rb "$owner" --investigate-only "$@" >"$T_TMP/inv.out" 2>&1
        grep -qE -- "$pat" "$T_TMP/inv.out" && break
        sleep 3
    done
    if grep -qE -- "$pat" "$T_TMP/inv.out"; then ok "$f: $owner investigates the cause ($pat)"
    else fail "$f: $owner's investigation lacks '$pat'"; sed 's/^/#   /' "$T_TMP/inv.out" | tail -25; fi
}

# plan FAULT OWNER PATTERN ARGS...: the owner's --dry-run plan has PATTERN and exits 0
plan() {
    local f=$1 owner=$2 pat=$3; shift 3
    rb "$owner" --dry-run "$@" >"$T_TMP/plan.out" 2>&1; local rc=$?
    if [ $rc = 0 ] && grep -qE -- "$pat" "$T_TMP/plan.out"; then ok "$f: $owner's dry-run plan aims at the culprit ($pat)"
    else fail "$f: $owner's plan (exit $rc) lacks '$pat'"; sed 's/^/#   /' "$T_TMP/plan.out" | tail -25; fi
}

# clean: all faults off, then triage back to exit 0 (bounded)
clean() {
    all_off
    for _ in $(seq 30); do tri >/dev/null 2>&1 && return 0; sleep 2; done
    fail "the lab did not triage clean after switching faults off"; tri | tail -5 | sed 's/^/#   /'
}

PODS=($(kubectl --kubeconfig "$KC" -n tmi get pods -l app=tmi-api -o jsonpath='{.items[*].metadata.name}'))
[ "${#PODS[@]}" = 3 ] && ok "the lab has 3 tmi-api pods" || fail "pods: ${PODS[*]}"
POD=${PODS[1]}; S=$(suffix "$POD")
clean

# --- the pod-level faults, in one pod
fault goroutine_leak "n=6000&pod=$POD"
owner_first goroutine_leak goroutine-leaks
cause goroutine_leak goroutine-leaks "goroutine dump of pod .*$S" --set growth_interval=1
grep -qF main.leakyWorker "$T_TMP/inv.out" && ok "goroutine_leak: the dump shows main.leakyWorker" || fail "no leakyWorker"
plan goroutine_leak goroutine-leaks "k8s.delete .*/pods/.*$S" --set growth_interval=1
n=$(grep -c "k8s.delete" "$T_TMP/plan.out")
[ "$n" = 1 ] && ok "goroutine_leak: the plan deletes that one pod only" || fail "goroutine_leak: $n deletions planned"
clean
rb goroutine-leaks --resolve-only --dry-run >"$T_TMP/plan.out" 2>&1
grep -q "nothing to restart" "$T_TMP/plan.out" && ! grep -q "k8s.delete" "$T_TMP/plan.out" \
    && ok "no leak: the plan deletes nothing and says so" || { fail "no leak: plan"; tail -8 "$T_TMP/plan.out" | sed 's/^/#   /'; }

fault cpu_burn "workers=2&pod=$POD"
owner_first cpu_burn high-cpu
cause cpu_burn high-cpu "CPU profile of pod .*$S" --set profile_seconds=2
grep -qF main.cpuBurner "$T_TMP/inv.out" && ok "cpu_burn: the profile shows main.cpuBurner" || fail "no cpuBurner"
plan cpu_burn high-cpu "-api: 3 -> 6 replicas" --set profile_seconds=1
clean

fault memory_growth "step_mb=32&cap_mb=256&pod=$POD"
owner_first memory_growth high-memory
cause memory_growth high-memory "heap profile of pod .*$S"
grep -qF main.memoryHog "$T_TMP/inv.out" && ok "memory_growth: the heap profile shows main.memoryHog" || fail "no memoryHog"
grep -qE "memory limit of .* \(from the cluster\): 512Mi" "$T_TMP/inv.out" && ok "memory_growth: memory % uses the cluster's limit" || fail "no cluster limit"
plan memory_growth high-memory "memory limit 512Mi -> 1Gi"
clean

fault slow_endpoint "delay=3&pod=$POD"
owner_first slow_endpoint high-response-time
cause slow_endpoint high-response-time "slowest endpoint p95 \(/api/v1/threat_models/\{id\}\)"
grep -qE "^ +[^ ]*$S +[0-9]" "$T_TMP/inv.out" && ok "slow_endpoint: p95 by pod lists the pod" || fail "no per-pod p95"
plan slow_endpoint high-response-time "-api: 3 -> 5 replicas"
clean

fault error_burst "rate=0.6&pod=$POD"
owner_first error_burst high-response-time
cause error_burst high-response-time "/api/v1/threat_models[^ ]* +500 "
clean

# --- the shared PostgreSQL
fault slow_queries "delay=0.8"
owner_first slow_queries database
cause slow_queries database "\[(WARN|CRIT)\] 95th percentile database query time"
clean

fault pg_lock "waiters=2"
owner_first pg_lock database
cause pg_lock database "blocked by pid [0-9]+ .*idle in transaction.*UPDATE threat_models"
plan pg_lock database "may ALTER SYSTEM shared_buffers and work_mem" --set postgres_url="$SUPER"
clean

fault long_query "sessions=1"
owner_first long_query database
cause long_query database "pid [0-9]+  active  [0-9]+ s .*pg_sleep" --set long_query_age="5 seconds"
clean

fault seqscan "rps=20"
owner_first seqscan database
cause seqscan database "threat_models: [0-9.]+ sequential scans/s .*unindexed column\(s\): .*created_at"
clean

fault pool_exhaustion ""
owner_first pool_exhaustion database
cause pool_exhaustion database "\[CRIT\] Database connection pool usage"
clean

# --- the shared Redis
fault redis_memory "mb=40"
owner_first redis_memory cache
cause redis_memory cache "tmisim:filler:\*"
clean

fault cache_misses ""
owner_first cache_misses cache
cause cache_misses cache "\[(WARN|CRIT)\] Cache hit rate"
all_off
curl -sf -X POST "$SIM/admin/cache/warmup" >/dev/null
clean
done_testing
