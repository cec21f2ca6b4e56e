#!/usr/bin/env bash
# rb.k8s end to end against the Kubernetes API stand-in:
#  - through the runner (tests/e2e/k8s/section.lua with --kubeconfig, --context,
#    -n): every write refused in investigate, only dryRun=All requests under
#    --dry-run with the server's answer in the plan, each write applied once
#    with --yes, audited, and the token in no output or audit line;
#  - in-cluster credentials from a service account directory (RUNBOOK_SA_ROOT);
#  - fidelity: one scenario (get pods, scale, set env, set resources, rollout
#    restart, delete pod, the three patch types, top pods, the pod proxy,
#    exec) driven once with kubectl and once with rb.k8s
#    (tests/e2e/k8s/scenario.lua) from a fresh /__lab/reset: the stand-in's
#    objects must match, ignoring uids, timestamps and resourceVersions.
. "$(dirname "$0")/lib.sh"

if [ -z "${RB_TEST_K8S_KUBECONFIG:-}" ]; then
    fail "k8s lab service is not running (no RB_TEST_K8S_KUBECONFIG)"
    done_testing; exit
fi
export HOME=$T_TMP/home   # kubectl's discovery cache; no ~/.kube/config
mkdir -p "$HOME"
unset KUBECONFIG KUBERNETES_SERVICE_HOST KUBERNETES_SERVICE_PORT
FX=$ROOT/tests/e2e/k8s/section.lua
AUD=$T_TMP/audit.jsonl
TOKEN=$(cat "$RB_TEST_K8S_TOKEN_FILE")

lab() { curl -sf --max-time 10 --cacert "$RB_TEST_K8S_CA" "$RB_TEST_K8S_URL/__lab/$1" "${@:2}"; }
st() { lab state | jq -r "$1"; }
deploy() { st ".objects[\"deployments/tmi/tmi-api\"] | $1"; }
is() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1 (got '$2', want '$3')"; fi; }
# requests JQ-FILTER: how many request-log lines since the last reset match
requests() { jq -c "select($1)" "$RB_TEST_K8S_LOG" | wc -l; }
rb() { "$RUNBOOK" run "$FX" --audit "$AUD" --kubeconfig "$RB_TEST_K8S_KUBECONFIG" --context lab -n tmi "$@"; }
expect_rb() { local n=$1 rc=$2; shift 2; expect_rc "$n" "$rc" rb "$@"; cat "$T_TMP/out" "$T_TMP/err" >>"$T_TMP/all"; }

# --- investigate: reads run, every write kind refused before it is sent ----
lab reset >/dev/null
expect_rb "investigate reads run" 0 --investigate-only --step "Pods and usage"
contains "the pod count is checked" "$T_TMP/out" "tmi-api pods = 3"
for wo in scale:patch delete:delete exec:exec patch:patch; do   # the write and the request it is (its op)
    w=${wo%%:*}
    expect_rb "investigate: $w fails the step" 1 --investigate-only --step "Sneaky write" --set sneaky=$w
    contains "investigate: $w refused by name" "$T_TMP/out" "write refused in investigate: k8s.${wo#*:}"
done
is "investigate: nothing but GET reached the server" "$(requests '.method != "GET"')" 0

# --- --dry-run: only dryRun=All, the plan shows the server's answer ---------
lab reset >/dev/null
lab state | jq -S .objects >"$T_TMP/before.json"
expect_rb "resolve --dry-run exits 0" 0 --resolve-only --dry-run
contains "the plan names the scale" "$T_TMP/out" "k8s.patch /apis/apps/v1/namespaces/tmi/deployments/tmi-api/scale"
contains "the plan shows the new replica count" "$T_TMP/out" "spec.replicas: 3 -> 5"
contains "the plan shows the env added" "$T_TMP/out" "env[GOGC]: added 50"
contains "the plan shows the limit changed" "$T_TMP/out" "resources.limits.memory: 512Mi -> 1Gi"
contains "the plan shows the restart annotation" "$T_TMP/out" "kubectl.kubernetes.io"
contains "the run says nothing was changed" "$T_TMP/out" "nothing was changed"
is "--dry-run: four writes, all dryRun=All" "$(requests '.method != "GET" and .dryRun == "All"')" 4
is "--dry-run: no other write" "$(requests '.method != "GET" and .dryRun != "All"')" 0
lab state | jq -S .objects >"$T_TMP/after.json"
check "--dry-run: the objects are unchanged" cmp "$T_TMP/before.json" "$T_TMP/after.json"

# --- --yes: each write applied once, audited ---------------------------------
lab reset >/dev/null
expect_rb "resolve --yes exits 0" 0 --resolve-only --yes
is "--yes: four writes sent for real" "$(requests '.method != "GET" and .dryRun != "All"')" 4
is "--yes: the scale went once, through the scale subresource" \
    "$(requests '.method == "PATCH" and .dryRun != "All" and (.path | endswith("/scale"))')" 1
is "--yes: replicas" "$(deploy .spec.replicas)" 5
is "--yes: env" "$(deploy '[.spec.template.spec.containers[0].env[] | .name] | join(",")')" \
    "LOG_LEVEL,DB_POOL_MAX,REDIS_URL,GOGC,OTEL_TRACING_BATCH_SIZE"
is "--yes: memory limit" "$(deploy '.spec.template.spec.containers[0].resources.limits.memory')" 1Gi
[ -n "$(deploy '.spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"] // empty')" ] \
    && ok "--yes: restartedAt set" || fail "--yes: restartedAt set"
is "audit: one intent per write" "$(jq -c 'select(.event == "intent" and .action.binding == "k8s")' "$AUD" | wc -l)" 4
is "audit: one ok result per write" "$(jq -c 'select(.event == "result" and .ok == true)' "$AUD" | wc -l)" 4
check "audit chain verifies" "$RUNBOOK" audit verify "$AUD"
lacks "the token is in no output" "$T_TMP/all" "$TOKEN"
lacks "the token is in no audit line" "$AUD" "$TOKEN"

# --- a different restartedAt at apply time is stopped as unplanned ----------
lab reset >/dev/null
expect_rb "restart with a fixed time applies" 0 --resolve-only --yes --step "Restart the pods" \
    --set restart_at=2026-01-01T00:00:00Z
is "restartedAt is the param" "$(deploy '.spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]')" \
    2026-01-01T00:00:00Z

# --- insecure-skip-tls-verify: works, warned on stderr, recorded as a finding --
sed -e "s|certificate-authority: .*|insecure-skip-tls-verify: true|" "$RB_TEST_K8S_KUBECONFIG" >"$T_TMP/insecure.kubeconfig"
expect_rc "insecure cluster: reads work" 0 "$RUNBOOK" run "$FX" --audit "$T_TMP/insecure.jsonl" \
    --kubeconfig "$T_TMP/insecure.kubeconfig" --investigate-only --step "Pods and usage"
contains "insecure cluster: warned on stderr" "$T_TMP/err" "TLS verification disabled for $RB_TEST_K8S_URL"
is "insecure cluster: a finding in the audit log" \
    "$(jq -c 'select(.event == "finding" and .finding.name == "tls verification disabled")' "$T_TMP/insecure.jsonl" | wc -l)" 1

# --- in-cluster service account ------------------------------------------------
SA=$T_TMP/sa
mkdir -p "$SA"
cp "$RB_TEST_K8S_CA" "$SA/ca.crt"
cp "$RB_TEST_K8S_TOKEN_FILE" "$SA/token"
echo tmi >"$SA/namespace"
cat >"$T_TMP/incluster.lua" <<'LUA'
local k8s = require "rb.k8s"
local c = assert(k8s.client())
local info = c:info()
print(info.context, info.namespace, info.auth, #assert(c:get("pods")))
LUA
port=${RB_TEST_K8S_URL##*:}
expect_rc "in-cluster: service account files" 0 env KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT="$port" \
    RUNBOOK_SA_ROOT="$SA" "$RUNBOOK" lua "$T_TMP/incluster.lua"
contains "in-cluster: namespace file, token file, 5 pods" "$T_TMP/out" "in-cluster	tmi	tokenFile	5"
expect_rc "in-cluster: no service account, no kubeconfig: config error" 1 "$RUNBOOK" lua "$T_TMP/incluster.lua"
contains "in-cluster: the error says why" "$T_TMP/err" "not in a cluster"

# --- fidelity: kubectl and rb.k8s leave the same objects -------------------
"$RB_TEST_K8S_BIN" -echo "$T_TMP/echo.addr" >/dev/null 2>&1 &
echo_pid=$!
trap 'kill $echo_pid 2>/dev/null; rm -rf "$T_TMP"' EXIT
for _ in $(seq 1 100); do [ -s "$T_TMP/echo.addr" ] && break; sleep 0.05; done
proxy_map() { lab proxy -X POST -d "{\"pods\":{\"tmi-api\":{\"9999\":\"http://$(cat "$T_TMP/echo.addr")\"}}}" >/dev/null; }
# normalized STATE-FILE: objects without what differs between two runs
normalized() {
    jq -S '.objects | walk(if type == "object" then
        del(.uid, .resourceVersion, .creationTimestamp, .startTime, .lastTransitionTime, .lastUpdateTime,
            .lastProbeTime, .startedAt, .deletionTimestamp, .managedFields)
        | if has("kubectl.kubernetes.io/restartedAt") then .["kubectl.kubernetes.io/restartedAt"] = "T" else . end
      else . end)' "$1"
}
kc() { timeout 30 kubectl --kubeconfig "$RB_TEST_K8S_KUBECONFIG" --request-timeout=20s -n tmi "$@"; }
api_pods() { kc get pods -l app=tmi-api -o name | sed 's,^pod/,,' | sort; }

mkdir -p "$T_TMP/kubectl" "$T_TMP/rb"
lab reset >/dev/null; proxy_map
{
    api_pods >"$T_TMP/kubectl/pods.txt" &&
    kc get pods | sed -E 's/[[:space:]]+[^[:space:]]+$//' >"$T_TMP/kubectl/get.txt" &&
    kc scale deployment tmi-api --replicas=5 &&
    kc set env deployment/tmi-api LOG_LEVEL=debug FEATURE_X=on &&
    kc set resources deployment/tmi-api -c tmi-api --limits=cpu=2,memory=1Gi &&
    kc rollout restart deployment/tmi-api &&
    kc rollout status deployment/tmi-api --timeout=20s &&
    kc delete pod "$(api_pods | head -1)" &&
    kc patch deployment tmi-api --type strategic \
        -p '{"spec":{"template":{"spec":{"containers":[{"name":"tmi-api","env":[{"name":"SMP","value":"1"}]}]}}}}' &&
    kc patch deployment tmi-api --type merge -p '{"metadata":{"labels":{"tier":"api"}}}' &&
    kc patch deployment tmi-api --type json -p '[{"op":"replace","path":"/spec/replicas","value":4}]' &&
    kc top pods --no-headers | awk '{print $1, $2, $3}' >"$T_TMP/kubectl/top.txt" &&
    kc get --raw "/api/v1/namespaces/tmi/pods/$(api_pods | head -1):9999/proxy/fidelity?x=1" \
        | jq -r '"200 \(.method) \(.path)"' >"$T_TMP/kubectl/proxy.txt" &&
    kc exec postgres-0 -- sh -c 'echo out; echo err >&2' >"$T_TMP/kubectl/exec.txt" 2>&1
} >"$T_TMP/kubectl.log" 2>&1 && ok "fidelity: the kubectl scenario ran" \
    || { fail "fidelity: the kubectl scenario ran"; sed 's/^/#   /' "$T_TMP/kubectl.log" | tail -5; }
lab state >"$T_TMP/kubectl.state"

lab reset >/dev/null; proxy_map
expect_rc "fidelity: the rb.k8s scenario ran" 0 env KUBECONFIG="$RB_TEST_K8S_KUBECONFIG" \
    "$RUNBOOK" lua "$ROOT/tests/e2e/k8s/scenario.lua" "$T_TMP/rb"
lab state >"$T_TMP/rb.state"

normalized "$T_TMP/kubectl.state" >"$T_TMP/kubectl.norm"
normalized "$T_TMP/rb.state" >"$T_TMP/rb.norm"
if diff -u "$T_TMP/kubectl.norm" "$T_TMP/rb.norm" >"$T_TMP/fidelity.diff"; then
    ok "fidelity: the same objects after kubectl and after rb.k8s"
else
    fail "fidelity: the same objects after kubectl and after rb.k8s"; head -40 "$T_TMP/fidelity.diff" | sed 's/^/#   /'
fi
is "fidelity: 4 tmi-api pods either way" "$(jq '[.objects[] | select(.kind == "Pod" and .metadata.labels.app == "tmi-api")] | length' "$T_TMP/rb.state")" 4
# exec's stdout and stderr arrive on two channels: their interleaving is not ordered
for side in kubectl rb; do sort -o "$T_TMP/$side/exec.txt" "$T_TMP/$side/exec.txt"; done
for f in pods get top proxy exec; do
    check "fidelity: $f output is the same" cmp "$T_TMP/kubectl/$f.txt" "$T_TMP/rb/$f.txt"
done
is "fidelity: rb.k8s sent each patch type" "$(requests '.method == "PATCH"' )" 7

done_testing
