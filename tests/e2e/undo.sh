#!/usr/bin/env bash
# lab: k8s redis pg
# runbook undo RUN (issue 14, item 5) against the lab's real servers: a run
# scales a deployment, sets env, image and limits (Kubernetes stand-in), CONFIG
# SETs a Redis parameter and ALTER SYSTEM SETs work_mem (PostgreSQL 15), then
# VACUUMs (cannot be inverted). `undo --dry-run` and `undo -o FILE` send
# nothing; an undo after someone changed the state is refused with nothing
# sent; `undo --yes` restores each value (read back with kubectl, redis-cli,
# psql); a second undo is refused; the audit chain verifies throughout.
# "Nothing sent" is read on the servers: the stand-in's request log, Redis
# INFO commandstats, PostgreSQL's statement log.
. "$(dirname "$0")/lib.sh"

if [ -z "${RB_TEST_K8S_KUBECONFIG:-}" ] || [ -z "${RB_TEST_REDIS_URL:-}" ] || [ -z "${RB_TEST_PG_DSN:-}" ]; then
    fail "the k8s, redis and pg lab services are not running"
    done_testing; exit
fi
export HOME=$T_TMP/home   # kubectl's discovery cache; no ~/.kube/config
mkdir -p "$HOME"
unset KUBECONFIG KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT
KC="--kubeconfig $RB_TEST_K8S_KUBECONFIG --context lab -n tmi"
kc() { timeout 30 kubectl --request-timeout=10s $KC "$@"; }
rcli() { redis-cli -p "$RB_TEST_REDIS_PORT" -a "$RB_TEST_REDIS_PASSWORD" --no-auth-warning "$@"; }
psu() { psql "$RB_TEST_PG_SUPERDSN" -qAtc "$1"; }
AUD=$T_TMP/audit.jsonl
TARGETS="--set redis=$RB_TEST_REDIS_URL --set postgres=$RB_TEST_PG_DSN"
is() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1 (got '$2', want '$3')"; fi; }

cleanup() {
    kc delete deployment undo-demo --wait=false >/dev/null 2>&1
    rcli CONFIG SET maxmemory-samples 5 >/dev/null 2>&1
    psu "ALTER SYSTEM RESET work_mem" >/dev/null 2>&1; psu "SELECT pg_reload_conf()" >/dev/null 2>&1
    rm -rf "$T_TMP"
}
trap cleanup EXIT

# --- the state before: a deployment of our own, Redis and PostgreSQL defaults
cleanup_first() { kc delete deployment undo-demo --wait=false >/dev/null 2>&1; mkdir -p "$HOME"; }
cleanup_first
kc apply -f - >/dev/null <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: { name: undo-demo, namespace: tmi, labels: { app: undo-demo } }
spec:
  replicas: 2
  selector: { matchLabels: { app: undo-demo } }
  template:
    metadata: { labels: { app: undo-demo } }
    spec:
      containers:
      - name: app
        image: registry.lab/undo-demo:1.0
        env: [ { name: LOG_LEVEL, value: info }, { name: KEEP, value: "1" } ]
        resources: { limits: { cpu: 500m, memory: 256Mi } }
YAML
rcli CONFIG SET maxmemory-samples 5 >/dev/null
psu "ALTER SYSTEM RESET work_mem" >/dev/null; psu "SELECT pg_reload_conf()" >/dev/null

dep() { kc get deployment undo-demo -o json | jq -c "$1"; }
envs() { dep '[.spec.template.spec.containers[0].env[] | "\(.name)=\(.value)"] | sort'; }
samples() { rcli CONFIG GET maxmemory-samples | tail -1; }
auto_work_mem() { psu "SELECT coalesce((SELECT setting FROM pg_file_settings WHERE name = 'work_mem' AND sourcefile LIKE '%postgresql.auto.conf'), 'unset')"; }
show_work_mem() { # the value in force once the reload went through (up to 5 s)
    local want=$1 got
    for _ in $(seq 50); do got=$(psu "SHOW work_mem"); [ "$got" = "$want" ] && break; sleep 0.1; done
    echo "$got"
}

# --- the run to undo
S=$T_TMP/book/changes.lua
mkdir -p "$T_TMP/book"
cat >"$S" <<'LUA'
local rb = require "rb"
local k8s = require "rb.k8s"
local redis = require "rb.redis"
local pg = require "rb.pg"
local S = rb.section { id = "changes", title = "Changes to undo", params = { redis = "", postgres = "" } }
S:resolve("Scale up", function() assert(k8s.scale("deployment/undo-demo", 5)) end)
S:resolve("Debug logging", function() assert(k8s.set_env("deployment/undo-demo", { LOG_LEVEL = "debug", TRACE = "1" })) end)
S:resolve("New image and memory", function()
  assert(k8s.set_image("deployment/undo-demo", { app = "registry.lab/undo-demo:1.1" }))
  assert(k8s.set_resources("deployment/undo-demo", { limits = { memory = "512Mi" } }))
end)
S:resolve("Redis sampling", function(ctx)
  local c <close> = assert(redis.connect(ctx.params.redis))
  assert(c:config_set("maxmemory-samples", 7))
end)
S:resolve("work_mem", function(ctx)
  local c <close> = assert(pg.connect(ctx.params.postgres))
  assert(c:alter_system("work_mem", "64MB"))
  assert(c:reload_conf())
  assert(c:vacuum_analyze())
end)
return S
LUA

expect_rc "the run applies its changes (exit 0)" 0 "$RUNBOOK" run "$S" --yes --audit "$AUD" $KC $TARGETS
RUN=$(jq -r 'select(.event == "run_start") | .run' "$AUD" | tail -1)
is "kubectl: scaled to 5" "$(dep .spec.replicas)" 5
is "kubectl: env changed" "$(envs)" '["KEEP=1","LOG_LEVEL=debug","TRACE=1"]'
is "kubectl: image changed" "$(dep '.spec.template.spec.containers[0].image')" '"registry.lab/undo-demo:1.1"'
is "redis-cli: maxmemory-samples 7" "$(samples)" 7
is "psql: work_mem 64MB in postgresql.auto.conf" "$(auto_work_mem)" 64MB
is "the run's intents keep the state before" \
    "$(jq -c 'select(.event == "intent" and .before != null) | .before.binding' "$AUD" | tr -d '"\n')" "k8sk8sk8sk8sredispg"
check "audit chain verifies after the run" "$RUNBOOK" audit verify "$AUD"

# Marks on the servers' own logs, and what was sent since.
k8s_mark() { K8S_MARK=$(wc -l <"$RB_TEST_K8S_LOG"); }
k8s_writes() { tail -n +$((K8S_MARK + 1)) "$RB_TEST_K8S_LOG" | jq -c 'select(.method != "GET" and .dryRun != "All" and (.path | contains("undo-demo")))' | wc -l; }
set_calls() { rcli INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_config|set:calls=\([0-9]*\),.*/\1/p'; }
pg_mark() { PG_MARK=$(wc -l <"$RB_TEST_PG_LOG"); }
pg_alters() { tail -n +$((PG_MARK + 1)) "$RB_TEST_PG_LOG" | grep -c "ALTER SYSTEM" || true; }
marks() { k8s_mark; pg_mark; SETS=$(set_calls); }
nothing_sent() { # NAME: no write reached any server since marks
    is "$1: no write reached the Kubernetes API" "$(k8s_writes)" 0
    is "$1: no CONFIG SET reached Redis" "$(set_calls)" "$SETS"
    is "$1: no ALTER SYSTEM reached PostgreSQL" "$(pg_alters)" 0
}

# --- --dry-run: the inverse planned, nothing sent
marks
expect_rc "undo --dry-run plans the inverse (exit 0)" 0 "$RUNBOOK" undo "$RUN" --dry-run --audit "$AUD" $KC $TARGETS
contains "... it scales back" "$T_TMP/out" "Scale deployments.apps/undo-demo back to 2"
contains "... it puts the env back" "$T_TMP/out" "env[LOG_LEVEL].value: debug -> info"
contains "... it removes the variable the run added" "$T_TMP/out" "env[TRACE]: 1 -> absent"
contains "... it sets the image back" "$T_TMP/out" "image: registry.lab/undo-demo:1.1 -> registry.lab/undo-demo:1.0"
contains "... it CONFIG SETs Redis back" "$T_TMP/out" "CONFIG SET maxmemory-samples back to 5"
contains "... it RESETs work_mem" "$T_TMP/out" "ALTER SYSTEM RESET work_mem"
contains "... VACUUM is listed as not invertible" "$T_TMP/out" "VACUUM and ANALYZE cannot be inverted"
contains "... the reload too, with the reason" "$T_TMP/out" "a configuration reload"
contains "... the server checked the patches (dryRun=All)" "$T_TMP/out" "server (dryRun=All): spec.replicas: 5 -> 2"
nothing_sent "undo --dry-run"

# --- -o FILE: the inverse as a plan file for approvals
marks
expect_rc "undo -o FILE writes the inverse's plan (exit 0)" 0 "$RUNBOOK" undo "$RUN" -o "$T_TMP/undo-plan.json" --audit "$AUD" $KC $TARGETS
is "... with the four Kubernetes writes, Redis and PostgreSQL" \
    "$(jq '[.steps[].actions[]] | length' "$T_TMP/undo-plan.json")" 7
expect_rc "show-plan reads it" 0 "$RUNBOOK" show-plan "$T_TMP/undo-plan.json"
contains "... showing the Redis write" "$T_TMP/out" '["maxmemory-samples","5"]'
nothing_sent "undo -o FILE"

# --- someone changed the state since: the whole undo is refused
kc scale deployment undo-demo --replicas=4 >/dev/null
marks
expect_rc "undo after someone scaled the deployment is refused (exit 3)" 3 "$RUNBOOK" undo "$RUN" --yes --audit "$AUD" $KC $TARGETS
contains "... naming what changed" "$T_TMP/err" "spec.replicas is 4, expected 5"
contains "... and that nothing was sent" "$T_TMP/err" "undo refused, nothing was sent"
nothing_sent "refused undo"
is "kubectl: still 4 replicas" "$(dep .spec.replicas)" 4
is "redis-cli: still 7" "$(samples)" 7
is "psql: work_mem still set" "$(auto_work_mem)" 64MB
rcli CONFIG SET maxmemory-samples 6 >/dev/null
kc scale deployment undo-demo --replicas=5 >/dev/null
marks
expect_rc "undo after someone changed Redis is refused (exit 3)" 3 "$RUNBOOK" undo "$RUN" --yes --audit "$AUD" $KC $TARGETS
contains "... naming the parameter" "$T_TMP/err" "Redis maxmemory-samples changed since run $RUN: it is 6 now, the run left 7"
nothing_sent "undo refused on Redis"
rcli CONFIG SET maxmemory-samples 7 >/dev/null
check "audit chain verifies after the refusals" "$RUNBOOK" audit verify "$AUD"

# --- undo: every value back, each write sent once
marks
expect_rc "undo --yes restores the state (exit 0)" 0 "$RUNBOOK" undo "$RUN" --yes --audit "$AUD" $KC $TARGETS
is "kubectl: 2 replicas again" "$(dep .spec.replicas)" 2
is "kubectl: env as before" "$(envs)" '["KEEP=1","LOG_LEVEL=info"]'
is "kubectl: image as before" "$(dep '.spec.template.spec.containers[0].image')" '"registry.lab/undo-demo:1.0"'
is "kubectl: limits as before" "$(dep '.spec.template.spec.containers[0].resources.limits')" '{"cpu":"500m","memory":"256Mi"}'
is "redis-cli: maxmemory-samples 5 again" "$(samples)" 5
is "psql: work_mem no longer in postgresql.auto.conf" "$(auto_work_mem)" unset
is "psql: work_mem in force is the default again" "$(show_work_mem 4MB)" 4MB
is "each Kubernetes inverse sent once" "$(k8s_writes)" 4
is "one CONFIG SET sent" "$(set_calls)" $((SETS + 1))
is "one ALTER SYSTEM sent" "$(pg_alters)" 1
check "audit chain verifies after the undo" "$RUNBOOK" audit verify "$AUD"
UNDO=$(jq -r 'select(.event == "run_start") | .run' "$AUD" | tail -1)
is "the undo run is audited as section undo-RUN" \
    "$(jq -r "select(.event == \"run_start\" and .run == \"$UNDO\") | .section" "$AUD")" "undo-$RUN"

# --- a second undo: the state is no longer what the run left
marks
expect_rc "a second undo is refused (exit 3)" 3 "$RUNBOOK" undo "$RUN" --yes --audit "$AUD" $KC $TARGETS
nothing_sent "second undo"

# --- bad input
expect_rc "an unknown run is an error (exit 2)" 2 "$RUNBOOK" undo 0123456789abcdef --audit "$AUD"
contains "... naming it" "$T_TMP/err" "no run 0123456789abcdef in the audit"
expect_rc "a run id with a path in it is refused (exit 2)" 2 "$RUNBOOK" undo ../x --audit "$AUD"
check "audit chain verifies at the end" "$RUNBOOK" audit verify "$AUD"
done_testing
