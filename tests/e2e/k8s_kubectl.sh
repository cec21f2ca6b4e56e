#!/usr/bin/env bash
# tests/e2e/k8s_kubectl.sh — proves the Kubernetes API stand-in
# (tests/lab/k8s, started by tests/lab/services/k8s.sh) with the real kubectl:
# the seed's commands (get, scale, set env, set resources, rollout restart,
# delete pod, the three patch types, top, get --raw through the proxy, exec)
# change the stand-in's objects as a cluster would, --dry-run=server changes
# nothing, bad credentials fail, and the state after /__lab/reset is the same
# every time. The kinds deploy/ needs beyond workloads (ServiceAccount,
# Secret, CronJob, Role, RoleBinding, ClusterRole, ClusterRoleBinding) are
# discovered, created, applied (client- and server-side), printed, refused
# with the server's 422 reason when invalid, and deleted with their
# namespace. Outcomes are read back from /__lab/state and the request log.
. "$(dirname "$0")/lib.sh"

if [ -z "${RB_TEST_K8S_KUBECONFIG:-}" ]; then
    fail "k8s lab service is not running (no RB_TEST_K8S_KUBECONFIG)"
    done_testing; exit
fi
export HOME=$T_TMP/home   # kubectl's discovery cache
mkdir -p "$HOME"
unset KUBECONFIG

kc() { timeout 30 kubectl --kubeconfig "$RB_TEST_K8S_KUBECONFIG" --request-timeout=20s -n tmi "$@"; }
lab() { curl -sf --max-time 10 --cacert "$RB_TEST_K8S_CA" "$RB_TEST_K8S_URL/__lab/$1" "${@:2}"; }
# st [-c] JQ: evaluate JQ over the stand-in's state ({resourceVersion, objects});
# raw output, or compact JSON with -c
st() { if [ "$1" = -c ]; then lab state | jq -c "$2"; else lab state | jq -r "$1"; fi; }
tmi_pods() { st '[.objects[] | select(.kind=="Pod" and .metadata.labels.app=="tmi-api") | .metadata.name] | sort | join(" ")'; }
tmi_count() { st '[.objects[] | select(.kind=="Pod" and .metadata.labels.app=="tmi-api")] | length'; }
deploy() { if [ "$1" = -c ]; then st -c ".objects[\"deployments/tmi/tmi-api\"] | $2"; else st ".objects[\"deployments/tmi/tmi-api\"] | $1"; fi; }
# is NAME GOT WANT
is() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1 (got '$2', want '$3')"; fi; }
# log_since N JQ-FILTER: request-log lines after line N that match
log_since() { tail -n +"$(($1 + 1))" "$RB_TEST_K8S_LOG" | jq -c "select($2)"; }
log_lines() { wc -l <"$RB_TEST_K8S_LOG"; }

# --- reset is deterministic ------------------------------------------------
lab reset >/dev/null
lab state >"$T_TMP/state0.json"
kc scale deployment tmi-api --replicas=2 >/dev/null 2>&1
lab reset >/dev/null
lab state >"$T_TMP/state1.json"
check "state after /__lab/reset is identical every time" cmp "$T_TMP/state0.json" "$T_TMP/state1.json"
is "initial tmi-api pods" "$(tmi_count)" 3

# --- get -----------------------------------------------------------------
n=$(log_lines)
expect_rc "get pods (table)" 0 kc get pods
contains "table has kubectl's columns" "$T_TMP/out" "NAME                       READY   STATUS    RESTARTS   AGE"
is "table lists 5 pods" "$(grep -c ' Running ' "$T_TMP/out")" 5
contains "table lists postgres-0" "$T_TMP/out" "postgres-0 "
is "kubectl asked for a Table" "$(log_since "$n" '.path=="/api/v1/namespaces/tmi/pods" and (.accept|test("as=Table"))' | wc -l)" 1
expect_rc "get pods -o json" 0 kc get pods -o json
is "json list has 5 items" "$(jq '.items | length' "$T_TMP/out")" 5
is "json pods are Running" "$(jq -r '[.items[].status.phase] | unique | join(",")' "$T_TMP/out")" Running
expect_rc "unknown resource fails" 1 kc get frobnicators
contains "unknown resource message" "$T_TMP/err" 'the server doesn'"'"'t have a resource type "frobnicators"'

# --- scale ---------------------------------------------------------------
expect_rc "scale deployment to 5" 0 kc scale deployment tmi-api --replicas=5
contains "scale output" "$T_TMP/out" "deployment.apps/tmi-api scaled"
is "5 tmi-api pods after scale" "$(tmi_count)" 5
is "deployment status follows" "$(deploy '[.spec.replicas, .status.readyReplicas] | join(",")')" "5,5"
expect_rc "scale to 5 went through the scale subresource" 0 grep -q '"path":"/apis/apps/v1/namespaces/tmi/deployments/tmi-api/scale"' "$RB_TEST_K8S_LOG"
gen0=$(deploy .metadata.generation)

# --- set env / set resources ---------------------------------------------
before=$(tmi_pods)
expect_rc "set env" 0 kc set env deployment/tmi-api LOG_LEVEL=debug FEATURE_X=on
is "env merged by name, order kept" "$(deploy '[.spec.template.spec.containers[0].env[] | .name + "=" + .value] | join(" ")')" \
    "LOG_LEVEL=debug DB_POOL_MAX=20 REDIS_URL=redis://redis:6379/0 FEATURE_X=on"
is "generation bumped by the spec change" "$(deploy .metadata.generation)" $((gen0 + 1))
is "still 5 pods" "$(tmi_count)" 5
is "new pods carry the new env" "$(st '[.objects[] | select(.kind=="Pod" and .metadata.labels.app=="tmi-api") | .spec.containers[0].env[0].value] | unique | join(",")')" debug
[ "$(tmi_pods)" != "$before" ] && ok "set env replaced the pods" || fail "set env replaced the pods"
expect_rc "set resources --limits" 0 kc set resources deployment/tmi-api -c tmi-api --limits=cpu=2,memory=1Gi
is "limits set, requests kept" "$(deploy '.spec.template.spec.containers[0].resources | [.limits.cpu, .limits.memory, .requests.cpu, .requests.memory] | join(",")')" "2,1Gi,250m,256Mi"
expect_rc "negative replicas refused by the server" 1 kc patch deployment tmi-api --type merge -p '{"spec":{"replicas":-1}}'
contains "422 message" "$T_TMP/err" 'spec.replicas: Invalid value: -1: must be greater than or equal to 0'
expect_rc "bad quantity refused by the server" 1 kc patch deployment tmi-api --type json \
    -p '[{"op":"replace","path":"/spec/template/spec/containers/0/resources/limits/cpu","value":"lots"}]'
contains "quantity message" "$T_TMP/err" 'resources.limits[cpu]: Invalid value: "lots"'
is "refused writes changed nothing" "$(deploy '[.spec.replicas, .spec.template.spec.containers[0].resources.limits.cpu] | join(",")')" "5,2"

# --- create deployment, then set env on a container that has none --------
# (the stand-in once panicked merging env into a container without env: the
# PATCH got EOF and, the store's lock left held, every later request hung)
expect_rc "create deployment (its container has no env)" 0 kc create deployment env-less --image=busybox
expect_rc "set env on it" 0 kc set env deployment/env-less A=B
is "env added to the container" "$(st -c '.objects["deployments/tmi/env-less"].spec.template.spec.containers[0].env')" '[{"name":"A","value":"B"}]'
expect_rc "the next request is answered" 0 kc get deployment env-less --request-timeout=5s
expect_rc "set env again merges by name" 0 kc set env deployment/env-less A=C D=E
is "env merged" "$(st '.objects["deployments/tmi/env-less"].spec.template.spec.containers[0].env | map(.name + "=" + .value) | join(" ")')" "A=C D=E"
expect_rc "delete it" 0 kc delete deployment env-less

# --- rollout restart / delete pod ----------------------------------------
before=$(tmi_pods)
expect_rc "rollout restart" 0 kc rollout restart deployment/tmi-api
[ -n "$(deploy '.spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"] // empty')" ] \
    && ok "restartedAt annotation set" || fail "restartedAt annotation set"
after=$(tmi_pods)
common=$(comm -12 <(tr ' ' '\n' <<<"$before") <(tr ' ' '\n' <<<"$after") | wc -l)
is "rollout restart replaced every pod" "$common" 0
expect_rc "rollout status" 0 kc rollout status deployment/tmi-api --timeout=20s
victim=${after%% *}
expect_rc "delete pod" 0 kc delete pod "$victim"
contains "delete output" "$T_TMP/out" "pod \"$victim\" deleted"
is "pod gone, replaced: still 5" "$(tmi_count)" 5
case " $(tmi_pods) " in *" $victim "*) fail "deleted pod is gone";; *) ok "deleted pod is gone";; esac
is "delete sent Background propagation" "$(log_since 0 ".method==\"DELETE\" and .body.propagationPolicy==\"Background\" and (.path|endswith(\"/$victim\"))" | wc -l)" 1

# --- patch, each type ----------------------------------------------------
expect_rc "patch --type strategic" 0 kc patch deployment tmi-api --type strategic \
    -p '{"spec":{"template":{"spec":{"containers":[{"name":"tmi-api","env":[{"name":"SMP","value":"1"}]}]}}}}'
is "strategic patch merged env by name" "$(deploy '[.spec.template.spec.containers[0].env[].name] | join(" ")')" \
    "LOG_LEVEL DB_POOL_MAX REDIS_URL FEATURE_X SMP"
expect_rc "patch --type merge" 0 kc patch deployment tmi-api --type merge -p '{"metadata":{"labels":{"tier":"api"}}}'
is "merge patch added a label" "$(deploy .metadata.labels.tier)" api
expect_rc "patch --type json" 0 kc patch deployment tmi-api --type json -p '[{"op":"replace","path":"/spec/replicas","value":4}]'
is "json patch scaled to 4" "$(tmi_count)" 4
expect_rc "failed json patch test op" 1 kc patch deployment tmi-api --type json -p '[{"op":"test","path":"/spec/replicas","value":9},{"op":"replace","path":"/spec/replicas","value":9}]'
is "failed json patch changed nothing" "$(tmi_count)" 4
# patch directives and operations beyond the common case
cpatch() { kc patch deployment tmi-api --type "$1" -p "$2"; }
env_names() { deploy '[.spec.template.spec.containers[0].env[].name] | join(" ")'; }
check "strategic \$patch: delete removes one env entry" cpatch strategic \
    '{"spec":{"template":{"spec":{"containers":[{"name":"tmi-api","env":[{"name":"SMP","$patch":"delete"}]}]}}}}'
is "SMP gone, the rest kept" "$(env_names)" "LOG_LEVEL DB_POOL_MAX REDIS_URL FEATURE_X"
check "strategic \$patch: replace swaps a whole map" cpatch strategic \
    '{"spec":{"template":{"spec":{"containers":[{"name":"tmi-api","resources":{"$patch":"replace","limits":{"cpu":"3"}}}]}}}}'
is "resources replaced" "$(deploy -c .spec.template.spec.containers[0].resources)" '{"limits":{"cpu":"3"}}'
check "strategic \$setElementOrder reorders" cpatch strategic \
    '{"spec":{"template":{"spec":{"containers":[{"name":"tmi-api","$setElementOrder/env":[{"name":"REDIS_URL"},{"name":"LOG_LEVEL"},{"name":"DB_POOL_MAX"},{"name":"FEATURE_X"}]}]}}}}'
is "env in the given order" "$(env_names)" "REDIS_URL LOG_LEVEL DB_POOL_MAX FEATURE_X"
check "strategic \$deleteFromPrimitiveList" kc patch namespace default --type strategic -p '{"spec":{"$deleteFromPrimitiveList/finalizers":["kubernetes"]}}'
is "finalizer removed" "$(st -c '.objects["namespaces//default"].spec.finalizers')" "[]"
check "merge patch null deletes" cpatch merge '{"metadata":{"labels":{"tier":null}}}'
is "label removed" "$(deploy '.metadata.labels.tier // "none"')" none
check "merge patch replaces lists whole" cpatch merge \
    "$(deploy -c '{spec:{template:{spec:{containers:[.spec.template.spec.containers[0] | .env = [{name:"ONLY",value:"1"}]]}}}}')"
is "env list replaced" "$(env_names)" ONLY
check "json patch add to the end of a list" cpatch json '[{"op":"add","path":"/spec/template/spec/containers/0/env/-","value":{"name":"B","value":"2"}}]'
check "json patch copy and move" cpatch json \
    '[{"op":"copy","from":"/spec/template/spec/containers/0/env/1","path":"/spec/template/spec/containers/0/env/0"},{"op":"move","from":"/metadata/labels/app","path":"/metadata/labels/moved"}]'
is "copy inserted, list order" "$(env_names)" "B ONLY B"
is "move renamed a label" "$(deploy '.metadata.labels | keys | join(",")')" moved
check "json patch remove" cpatch json '[{"op":"remove","path":"/spec/template/spec/containers/0/env/0"},{"op":"move","from":"/metadata/labels/moved","path":"/metadata/labels/app"}]'
is "removed by index" "$(env_names)" "ONLY B"
expect_rc "json patch on a missing path fails" 1 cpatch json '[{"op":"replace","path":"/spec/nothing/here","value":1}]'
expect_rc "unsupported patch body fails" 1 cpatch merge '[1,2]'
for t in strategic-merge-patch merge-patch json-patch; do
    is "log shows application/$t+json" "$(log_since 0 ".method==\"PATCH\" and .contentType==\"application/$t+json\"" | head -1 | wc -l)" 1
done

# --- top -----------------------------------------------------------------
expect_rc "top pods" 0 kc top pods
contains "top shows usage" "$T_TMP/out" "252m"
is "top lists every pod" "$(grep -c -- '-' "$T_TMP/out")" 6
expect_rc "top nodes" 0 kc top nodes
contains "top nodes" "$T_TMP/out" "lab-node-1"

# --- get --raw through the pod and service proxy -------------------------
"$RB_TEST_K8S_BIN" -echo "$T_TMP/echo.addr" >/dev/null 2>&1 &
echo_pid=$!
trap 'kill $echo_pid 2>/dev/null; rm -rf "$T_TMP"' EXIT
for _ in $(seq 50); do [ -s "$T_TMP/echo.addr" ] && break; sleep 0.1; done
echo_addr=$(cat "$T_TMP/echo.addr")
lab proxy -X POST -d "{\"pods\":{\"redis\":{\"6379\":\"http://$echo_addr\"}},\"services\":{\"redis\":{\"*\":$(cut -d: -f2 <<<"$echo_addr")}}}" >/dev/null
expect_rc "get --raw pods/NAME:PORT/proxy" 0 kc get --raw '/api/v1/namespaces/tmi/pods/redis-0:6379/proxy/debug/pprof/?debug=1'
is "backend saw the path" "$(jq -r .path "$T_TMP/out")" /debug/pprof/
is "backend saw the query" "$(jq -r .query "$T_TMP/out" | cut -d'&' -f1)" debug=1
is "credentials not forwarded" "$(jq -r '.headers.Authorization // "none"' "$T_TMP/out")" none
expect_rc "get --raw services/NAME:PORT/proxy" 0 kc get --raw '/api/v1/namespaces/tmi/services/redis:6379/proxy/info'
is "service proxy reached the backend" "$(jq -r .path "$T_TMP/out")" /info
# k8s.sh maps tmi-api's pprof port to the TMI simulator (another lab service)
[ -n "${RB_TEST_TMISIM_PPROF_URL:-}" ] && ok "tmisim lab service is up" || fail "tmisim lab service is up (the proxy checks below need it)"
expect_rc "pod proxy reaches the TMI simulator's pprof" 0 kc get --raw "/api/v1/namespaces/tmi/pods/${pod0:=$(tmi_pods | cut -d' ' -f1)}:6060/proxy/debug/pprof/goroutine?debug=1"
contains "goroutine profile through the proxy" "$T_TMP/out" "goroutine profile: total"
expect_rc "service proxy reaches the TMI simulator" 0 kc get --raw "/api/v1/namespaces/tmi/services/tmi-api-service:http/proxy/metrics"
contains "simulator metrics through the proxy" "$T_TMP/out" "# TYPE"
expect_rc "unmapped backend fails" 1 kc get --raw '/api/v1/namespaces/tmi/pods/postgres-0:5432/proxy/'
contains "503 like a dead backend" "$T_TMP/err" "ServiceUnavailable"

# --- exec ----------------------------------------------------------------
pod=$(tmi_pods); pod=${pod%% *}
expect_rc "exec echo hi" 0 kc exec "$pod" -- echo hi
is "exec stdout" "$(cat "$T_TMP/out")" hi
expect_rc "exec exit code propagates" 3 kc exec postgres-0 -- sh -c 'echo to-err >&2; exit 3'
contains "exec stderr" "$T_TMP/err" "to-err"
contains "exec status" "$T_TMP/err" "command terminated with exit code 3"
if echo piped | timeout 30 kubectl --kubeconfig "$RB_TEST_K8S_KUBECONFIG" -n tmi exec -i "$pod" -- cat >"$T_TMP/out" 2>&1; then
    is "exec -i feeds stdin" "$(cat "$T_TMP/out")" piped
else
    fail "exec -i feeds stdin"; sed 's/^/#   /' "$T_TMP/out"
fi
expect_rc "exec sees the lab's env" 0 kc exec redis-0 -- sh -c 'echo "$HOSTNAME ${RB_TEST_K8S_URL:+has-lab-env}"'
is "exec env" "$(cat "$T_TMP/out")" "redis-0 has-lab-env"
is "exec went over websocket (101)" "$(log_since 0 '.status==101 and (.path|endswith("/exec"))' | head -1 | wc -l)" 1

# --- --dry-run=server changes nothing ------------------------------------
rv=$(st .resourceVersion); n=$(log_lines)
expect_rc "scale --dry-run=server" 0 kc scale deployment tmi-api --replicas=9 --dry-run=server
contains "dry-run output" "$T_TMP/out" "(server dry run)"
expect_rc "set env --dry-run=server" 0 kc set env deployment/tmi-api LOG_LEVEL=trace --dry-run=server
expect_rc "delete pod --dry-run=server" 0 kc delete pod redis-0 --dry-run=server
expect_rc "patch --dry-run=server" 0 kc patch deployment tmi-api --type merge -p '{"spec":{"replicas":1}}' --dry-run=server -o jsonpath='{.spec.replicas}'
is "dry-run patch returns the would-be object" "$(cat "$T_TMP/out")" 1
expect_rc "run pod --dry-run=server" 0 kc run dry-pod --image=busybox --restart=Never --dry-run=server
is "state unchanged by dry runs" "$(st .resourceVersion)" "$rv"
is "every write sent dryRun=All" "$(log_since "$n" '.method!="GET" and .dryRun!="All"' | wc -l)" 0
is "5 dry-run writes logged" "$(log_since "$n" '.method!="GET" and .dryRun=="All"' | wc -l)" 5

# --- create ----------------------------------------------------------------
expect_rc "run pod (POST)" 0 kc run lab-pod --image=busybox --restart=Never -- sleep 1
is "created pod is Running" "$(st '.objects["pods/tmi/lab-pod"].status.phase')" Running
expect_rc "create existing fails" 1 kc run lab-pod --image=busybox --restart=Never
contains "AlreadyExists" "$T_TMP/err" "AlreadyExists"

cat >"$T_TMP/dep.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: load-test, namespace: tmi}
spec:
  replicas: 2
  selector: {matchLabels: {app: load-test}}
  template:
    metadata: {labels: {app: load-test}}
    spec: {containers: [{name: load, image: busybox}]}
YAML
expect_rc "apply -f creates (server-side field validation, no --validate=false)" 0 kc apply -f "$T_TMP/dep.yaml"
contains "apply output" "$T_TMP/out" "deployment.apps/load-test created"
sed -i 's/replicas: 2/replicas: 3/' "$T_TMP/dep.yaml"
expect_rc "apply -f again patches" 0 kc apply -f "$T_TMP/dep.yaml"
contains "apply output" "$T_TMP/out" "deployment.apps/load-test configured"
is "applied deployment runs 3 pods" "$(st '[.objects[] | select(.kind=="Pod" and .metadata.labels.app=="load-test")] | length')" 3
is "apply asked for Strict validation" "$(log_since 0 '.method=="POST" and (.query|test("fieldValidation=Strict"))' | head -1 | wc -l)" 1
expect_rc "delete deployment" 0 kc delete deployment load-test
is "pods of a deleted deployment are collected" "$(st '[.objects[] | select(.metadata.labels.app=="load-test")] | length')" 0

# --- credentials ---------------------------------------------------------
n=$(log_lines)
expect_rc "bad token fails" 1 kc --token not-the-token get pods
contains "Unauthorized" "$T_TMP/err" "Unauthorized"
is "401 logged" "$(log_since "$n" '.status==401' | head -1 | wc -l)" 1
expect_rc "client-certificate context" 0 kc --context lab-cert get deployment tmi-api
is "authenticated by certificate" "$(log_since "$n" '.user=="cert:lab-admin"' | head -1 | wc -l)" 1
expect_rc "tokenFile context" 0 kc --context lab-tokenfile get pods
is "no credentials: 401" "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$RB_TEST_K8S_CA" "$RB_TEST_K8S_URL/api/v1/namespaces/tmi/pods")" 401

# --- faults: a hung or failing API server -------------------------------
lab "fault?hang=30" >/dev/null
t0=$(date +%s)
expect_rc "hung server: kubectl gives up at its request timeout" 1 \
    timeout 30 kubectl --kubeconfig "$RB_TEST_K8S_KUBECONFIG" --request-timeout=1s -n tmi get deployment tmi-api
t1=$(date +%s)
[ $((t1 - t0)) -lt 15 ] && ok "gave up within the bound ($((t1 - t0)) s)" || fail "gave up within the bound ($((t1 - t0)) s)"
lab "fault?status=503" >/dev/null
expect_rc "failing server: kubectl fails" 1 kc get deployment tmi-api
lab fault >/dev/null
expect_rc "fault cleared" 0 kc get deployment tmi-api

# --- the kinds deploy/ needs: ServiceAccount, Secret, CronJob, RBAC -------
K=$ROOT/tests/e2e/k8s/kinds.yaml
kn() { kc -n kc-kinds "$@"; }
squeeze() { tr -s ' ' <"$T_TMP/out" | sed 's/ $//' >"$T_TMP/outs"; }
expect_rc "api-resources" 0 kc api-resources
squeeze
for want in "serviceaccounts sa v1 true ServiceAccount" "secrets v1 true Secret" "cronjobs cj batch/v1 true CronJob" \
            "roles rbac.authorization.k8s.io/v1 true Role" "rolebindings rbac.authorization.k8s.io/v1 true RoleBinding" \
            "clusterroles rbac.authorization.k8s.io/v1 false ClusterRole" \
            "clusterrolebindings rbac.authorization.k8s.io/v1 false ClusterRoleBinding"; do
    grep -qxF "$want" "$T_TMP/outs" && ok "discovery: $want" || fail "discovery lacks: $want"
done
expect_rc "create namespace kc-kinds" 0 kc create namespace kc-kinds
expect_rc "a namespace that does not exist refuses objects" 1 kc -n kc-nowhere create serviceaccount x
contains "... with the server's 404" "$T_TMP/err" 'namespaces "kc-nowhere" not found'
rv=$(st .resourceVersion); n=$(log_lines)
expect_rc "apply --dry-run=server of each kind" 0 kn apply --dry-run=server -f "$K"
is "7 objects accepted in the dry run" "$(grep -c 'created (server dry run)' "$T_TMP/out")" 7
is "the dry run stored nothing" "$(st .resourceVersion)" "$rv"
is "every dry-run write sent dryRun=All" "$(log_since "$n" '.method!="GET" and .dryRun!="All"' | wc -l)" 0
n=$(log_lines)
expect_rc "apply creates each kind" 0 kn apply -f "$K"
is "7 created" "$(grep -c ' created$' "$T_TMP/out")" 7
is "stored in kc-kinds, the cluster-scoped ones in no namespace" \
    "$(st '[.objects | keys[] | select(test("^(serviceaccounts|secrets|cronjobs|roles|rolebindings)/kc-kinds/kc-|^cluster[a-z]+//kc-"))] | length')" 7
is "Secret: stringData merged into data as base64, not kept" \
    "$(st -c '.objects["secrets/kc-kinds/kc-secret"] | [.data.token, .data.raw, .type, has("stringData")]')" '["czNjcmV0","aGVsbG8=","Opaque",false]'
is "CronJob: the server's defaults" \
    "$(st -c '.objects["cronjobs/kc-kinds/kc-cron"] | [.spec.concurrencyPolicy, .spec.suspend, .spec.successfulJobsHistoryLimit, .spec.failedJobsHistoryLimit, .metadata.generation]')" \
    '["Allow",false,3,1,1]'
is "ClusterRole created at the cluster path, -n ignored" \
    "$(log_since "$n" '.method=="POST" and (.path|endswith("/clusterroles"))' | jq -r .path)" /apis/rbac.authorization.k8s.io/v1/clusterroles
is "ClusterRole has no namespace" "$(st '.objects["clusterroles//kc-clusterrole"].metadata | has("namespace")')" false
expect_rc "a cluster-scoped object is found from any namespace" 0 kc -n default get clusterrole kc-clusterrole
curl -s --max-time 10 --cacert "$RB_TEST_K8S_CA" -H "Authorization: Bearer $(cat "$RB_TEST_K8S_TOKEN_FILE")" \
    -H 'Content-Type: application/json' -X POST "$RB_TEST_K8S_URL/apis/rbac.authorization.k8s.io/v1/clusterroles" \
    -d '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"kc-cr-ns","namespace":"tmi"}}' >/dev/null
is "the server drops the namespace a cluster-scoped object is sent with" "$(st -c '.objects["clusterroles//kc-cr-ns"].metadata | has("namespace")')" false
expect_rc "delete it" 0 kc delete clusterrole kc-cr-ns

expect_rc "get prints each kind's columns" 0 kn get sa,secret,cronjob,role,rolebinding -o wide
squeeze
contains "ServiceAccount: NAME SECRETS AGE" "$T_TMP/outs" "NAME SECRETS AGE"
contains "ServiceAccount row" "$T_TMP/outs" "serviceaccount/kc-sa 0 "
contains "Secret row: type, data count" "$T_TMP/outs" "secret/kc-secret Opaque 2 "
contains "CronJob columns" "$T_TMP/outs" "NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE CONTAINERS IMAGES SELECTOR"
contains "CronJob row" "$T_TMP/outs" "cronjob.batch/kc-cron */15 * * * * <none> False 0 <none> "
contains "Role: NAME CREATED AT" "$T_TMP/outs" "NAME CREATED AT"
contains "RoleBinding row: Kind/name, service account ns/name" "$T_TMP/outs" "rolebinding.rbac.authorization.k8s.io/kc-rb Role/kc-role "
contains "RoleBinding wide: the service account" "$T_TMP/outs" " kc-kinds/kc-sa"
expect_rc "get clusterrolebinding -o wide" 0 kc get clusterrolebinding kc-crb -o wide
squeeze
contains "ClusterRoleBinding row" "$T_TMP/outs" "kc-crb ClusterRole/kc-clusterrole "

sed 's/s3cret/n3w/' "$K" >"$T_TMP/kinds2.yaml"
expect_rc "apply again" 0 kn apply -f "$T_TMP/kinds2.yaml"
contains "the changed Secret is configured" "$T_TMP/out" "secret/kc-secret configured"
is "the other 6 unchanged" "$(grep -c ' unchanged$' "$T_TMP/out")" 6
is "the new value stored" "$(st '.objects["secrets/kc-kinds/kc-secret"].data.token')" bjN3
n=$(log_lines)
expect_rc "apply --server-side" 0 kn apply --server-side -f "$T_TMP/kinds2.yaml"
is "7 serverside-applied" "$(grep -c ' serverside-applied$' "$T_TMP/out")" 7
is "sent as apply patches by manager kubectl" \
    "$(log_since "$n" '.method=="PATCH" and (.contentType|startswith("application/apply-patch")) and (.query|test("fieldManager=kubectl&"))' | wc -l)" 7
sed 's/{name: kc-role, labels: {test: kinds}}/{name: kc-role, labels: {tier: x}}/' "$T_TMP/kinds2.yaml" >"$T_TMP/kinds3.yaml"
expect_rc "apply --server-side without a label it applied before" 0 kn apply --server-side -f "$T_TMP/kinds3.yaml"
is "the manager's omitted label is removed, the new one set" "$(st -c '.objects["roles/kc-kinds/kc-role"].metadata.labels')" '{"tier":"x"}'
n=$(log_lines)
printf 'apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: kc-sa2}\n' >"$T_TMP/sa2.yaml"
expect_rc "apply --server-side of a missing object creates it" 0 kn apply --server-side -f "$T_TMP/sa2.yaml"
is "... with 201" "$(log_since "$n" '.method=="PATCH" and .status==201' | wc -l)" 1
is "... owned by kubectl's Apply" "$(st -c '.objects["serviceaccounts/kc-kinds/kc-sa2"].metadata.managedFields | map([.manager, .operation])')" '[["kubectl","Apply"]]'

# bad NAME LINE... < YAML: the server refuses it, kubectl prints each LINE
# (for a 422, kubectl's "The KIND "NAME" is invalid:" and one "* FIELD:
# ..." line per cause of the server's Status), and nothing is stored
bad() {
    local what=$1 rv0 line; shift
    cat >"$T_TMP/bad.yaml"
    rv0=$(st .resourceVersion)
    expect_rc "invalid: $what" 1 kn apply -f "$T_TMP/bad.yaml"
    for line in "$@"; do contains "... kubectl prints: $line" "$T_TMP/err" "$line"; done
    is "... nothing stored" "$(st .resourceVersion)" "$rv0"
}
bad "RoleBinding without roleRef" 'The RoleBinding "kc-bad" is invalid:' \
    '* roleRef.kind: Unsupported value: "": supported values: "Role", "ClusterRole"' '* roleRef.name: Required value' <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: kc-bad}
subjects: [{kind: ServiceAccount, name: kc-sa}]
YAML
bad "ClusterRoleBinding to a Role, subject without namespace" \
    '* roleRef.kind: Unsupported value: "Role": supported values: "ClusterRole"' '* subjects[0].namespace: Required value' <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: kc-bad}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: kc-role}
subjects: [{kind: ServiceAccount, name: kc-sa}]
YAML
bad "Role rule without verbs" 'The Role "kc-bad" is invalid: rules[0].verbs: Required value: verbs must contain at least one value' <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: kc-bad}
rules: [{apiGroups: [""], resources: [pods]}]
YAML
bad "Role with nonResourceURLs" 'rules[0].nonResourceURLs: Invalid value: ["/healthz"]: namespaced rules cannot apply to non-resource URLs' <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: kc-bad}
rules: [{nonResourceURLs: ["/healthz"], verbs: [get]}]
YAML
bad "CronJob without schedule and jobTemplate" '* spec.schedule: Required value' \
    '* spec.jobTemplate.spec.template.spec.containers: Required value' <<'YAML'
apiVersion: batch/v1
kind: CronJob
metadata: {name: kc-bad}
spec: {}
YAML
bad "CronJob with a month 13" 'spec.schedule: Invalid value: "0 * * 13 *": end of range (13) above maximum (12): 13' <<'YAML'
apiVersion: batch/v1
kind: CronJob
metadata: {name: kc-bad}
spec:
  schedule: "0 * * 13 *"
  jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}}
YAML
bad "CronJob whose pods restart Always, mounting a missing volume" \
    '* spec.jobTemplate.spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"' \
    '* spec.jobTemplate.spec.template.spec.containers[0].volumeMounts[0].name: Not found: "v"' <<'YAML'
apiVersion: batch/v1
kind: CronJob
metadata: {name: kc-bad}
spec:
  schedule: "@hourly"
  jobTemplate: {spec: {template: {spec: {containers: [{name: c, image: busybox, volumeMounts: [{name: v, mountPath: /v}]}]}}}}
YAML
bad "Secret data that is not base64 (a decoding error: 400)" 'Error from server (BadRequest)' \
    'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3' <<'YAML'
apiVersion: v1
kind: Secret
metadata: {name: kc-bad}
data: {token: "not base64!"}
YAML
bad "Secret key with a space" "data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.'" <<'YAML'
apiVersion: v1
kind: Secret
metadata: {name: kc-bad}
stringData: {"a b": x}
YAML
is "the 422s came as Status objects with causes" \
    "$(curl -s --max-time 10 --cacert "$RB_TEST_K8S_CA" -H "Authorization: Bearer $(cat "$RB_TEST_K8S_TOKEN_FILE")" \
        -H 'Content-Type: application/json' -X POST "$RB_TEST_K8S_URL/apis/batch/v1/namespaces/kc-kinds/cronjobs" \
        -d '{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"kc-bad"},"spec":{}}' | jq -c '[.kind, .code, .reason, .details.causes[0].field]')" \
    '["Status",422,"Invalid","spec.schedule"]'
expect_rc "a binding's roleRef cannot change" 1 kn patch rolebinding kc-rb --type merge -p '{"roleRef":{"name":"other"}}'
contains "... the server says so" "$T_TMP/err" "cannot change roleRef"
expect_rc "create of an existing name" 1 kn create -f "$T_TMP/sa2.yaml"
contains "... 409 AlreadyExists" "$T_TMP/err" 'Error from server (AlreadyExists): error when creating'
expect_rc "get of an unknown name" 1 kn get cronjob kc-nothere
contains "... 404 NotFound" "$T_TMP/err" 'cronjobs.batch "kc-nothere" not found'
n=$(log_lines)
expect_rc "create rolebinding (kubectl sends protobuf)" 0 kn create rolebinding kc-rb2 --role=kc-role --serviceaccount=kc-kinds:kc-sa --user=alice
is "... the protobuf body was read" "$(st -c '.objects["rolebindings/kc-kinds/kc-rb2"] | [.roleRef.kind, .roleRef.name, [.subjects[].name]]')" '["Role","kc-role",["alice","kc-sa"]]'
is "... it came as protobuf" "$(log_since "$n" '.method=="POST" and (.contentType|startswith("application/vnd.kubernetes.protobuf"))' | wc -l)" 1

expect_rc "delete -f each kind" 0 kn delete -f "$K"
is "7 deleted" "$(grep -c ' deleted' "$T_TMP/out")" 7
is "the cluster-scoped ones are gone" "$(st '[.objects | keys[] | select(test("^cluster[a-z]+//kc-"))] | length')" 0
is "only what the file does not name is left in kc-kinds" \
    "$(st '[.objects[] | select(.metadata.namespace=="kc-kinds") | .metadata.name] | sort | join(" ")')" "kc-rb2 kc-sa2"
expect_rc "delete namespace kc-kinds" 0 kc delete namespace kc-kinds
is "deleting the namespace removed its contents" "$(st '[.objects[] | select(.metadata.namespace=="kc-kinds")] | length')" 0

# --- the same requests give the same objects after a reset --------------
scenario() {
    lab reset >/dev/null
    kc scale deployment tmi-api --replicas=5 >/dev/null 2>&1
    kc set env deployment/tmi-api LOG_LEVEL=debug >/dev/null 2>&1
    kc rollout restart deployment/tmi-api >/dev/null 2>&1
    kc delete pod "$(tmi_pods | cut -d' ' -f1)" >/dev/null 2>&1
    kc patch deployment tmi-api --type json -p '[{"op":"replace","path":"/spec/replicas","value":4}]' >/dev/null 2>&1
    st '[.objects[] | {k: .kind, n: .metadata.name, u: .metadata.uid, rv: .metadata.resourceVersion, ip: .status.podIP}]' >"$1"
    lab "state?normalize=1" >"$1.full"
}
scenario "$T_TMP/run1.json"; sleep 1; scenario "$T_TMP/run2.json"
is "scenario ran (4 tmi-api pods)" "$(jq '[.[] | select(.k=="Pod" and (.n|startswith("tmi-api-")))] | length' "$T_TMP/run1.json")" 4
check "same scenario after reset gives the same names, uids, resourceVersions (restartedAt differs)" cmp "$T_TMP/run1.json" "$T_TMP/run2.json"
check "...and the same objects once clock values are normalized" cmp "$T_TMP/run1.json.full" "$T_TMP/run2.json.full"
lacks "normalized state has no restartedAt value" "$T_TMP/run1.json.full" '"kubectl.kubernetes.io/restartedAt":"20'
contains "normalized state keeps the annotation" "$T_TMP/run1.json.full" '"kubectl.kubernetes.io/restartedAt":"(time)"' 
lacks "no request made the stand-in panic" "$(dirname "$RB_TEST_K8S_LOG")/k8s-lab.log" "panic serving"
lab reset >/dev/null
done_testing
