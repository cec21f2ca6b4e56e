#!/usr/bin/env bash
# lab: k8s
# deploy/ and `runbook rbac`: every manifest in deploy/ passes the real
# kubectl's `apply --dry-run=server` (job.yaml, with generateName, `create
# --dry-run=server`) against the lab's API stand-in, which serves every kind
# there (Deployment, Service, ServiceAccount, ConfigMap, Secret, Job,
# CronJob, Role, RoleBinding) and validates them as a server does; the dry
# runs store nothing. The ServiceAccount, Secrets, RBAC and CronJob are
# applied for real into a fresh namespace, listed by `kubectl get`, and
# deleted, leaving nothing behind. What no server checks, the references
# among the manifests (a pod's ServiceAccount, ConfigMaps, Secrets and their
# keys, a binding's Role, a Service's pods and port), is checked by
# serve/check_manifests.lua. The books ConfigMap unpacks into a tree runbook
# lists; serve starts with deploy/configmap.yaml's settings; `runbook rbac`
# derives reads for investigate and writes for resolve (never bound), cluster
# reads in a ClusterRole, warns with file:line what a static scan cannot
# name, and deploy/rbac-tmi.yaml is what it prints today.
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
KC=$RB_TEST_K8S_KUBECONFIG
export HOME=$T_TMP/home   # kubectl's discovery cache
mkdir -p "$HOME"
kc() { timeout 30 kubectl --kubeconfig "$KC" --request-timeout=20s -n tmi "$@"; }
# st JQ: evaluate JQ over the stand-in's state ({resourceVersion, objects})
st() { curl -sf --max-time 10 --cacert "$RB_TEST_K8S_CA" "$RB_TEST_K8S_URL/__lab/state" | jq -r "$1"; }
# is NAME GOT WANT
is() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1 (got '$2', want '$3')"; fi; }

bash deploy/books-configmap.sh runbooks/tmi >"$T_TMP/books.yaml" 2>"$T_TMP/books.err" \
    && ok "books-configmap.sh packs runbooks/tmi" || fail "books-configmap.sh: $(cat "$T_TMP/books.err")"
rv=$(st .resourceVersion)
for f in deploy/*.yaml "$T_TMP/books.yaml"; do
    case $f in
        deploy/job.yaml) verb=create ;;   # generateName: apply needs a name
        *) verb=apply ;;
    esac
    check "kubectl $verb --dry-run=server -f ${f#"$T_TMP"/}" kc "$verb" --dry-run=server -f "$f"
done
[ -n "$rv" ] && is "the dry runs stored nothing (resourceVersion unchanged)" "$(st .resourceVersion)" "$rv" \
    || fail "the stand-in's state is readable"
# ...and the same check fails on a defect a server refuses
sed 's|{ name: books, mountPath: /books, readOnly: true }|{ name: bookz, mountPath: /books, readOnly: true }|' \
    deploy/deployment.yaml >"$T_TMP/bad-deployment.yaml"
expect_rc "a mount of an undefined volume fails the dry run" 1 kc apply --dry-run=server -f "$T_TMP/bad-deployment.yaml"
contains "... with the server's reason" "$T_TMP/err" 'spec.template.spec.containers[0].volumeMounts[2].name: Not found: "bookz"'
sed 's|schedule: "\*/30 \* \* \* \*"|schedule: "*/30 * * *"|' deploy/cronjob.yaml >"$T_TMP/bad-cronjob.yaml"
expect_rc "a schedule of four fields fails the dry run" 1 kc apply --dry-run=server -f "$T_TMP/bad-cronjob.yaml"
contains "... with the server's reason" "$T_TMP/err" 'spec.schedule: Invalid value: "*/30 * * *": expected exactly 5 fields, found 4'
mkdir -p "$T_TMP/books"
jq -r '.binaryData["tmi.tgz"]' < <(kc create --dry-run=client -o json -f "$T_TMP/books.yaml") | base64 -d \
    | tar -xzf - -C "$T_TMP/books" && "$RUNBOOK" list "$T_TMP/books/tmi" >"$T_TMP/list" 2>&1 \
    && contains "unpacked as the init container does, runbook lists the book" "$T_TMP/list" "goroutine-leaks" \
    || fail "books ConfigMap does not unpack into a book"

# applied for real into a fresh namespace (rbac-tmi.yaml names namespace tmi,
# the book's: its Roles, binding and subject are moved along)
NS=rb-deploy-$$
kn() { kc -n "$NS" "$@"; }
sed "s/namespace: tmi\$/namespace: $NS/; s/namespace: tmi }/namespace: $NS }/" deploy/rbac-tmi.yaml >"$T_TMP/rbac.yaml"
in_ns() { st "[.objects[] | select(.metadata.namespace==\"$NS\") | .kind + \"/\" + .metadata.name] | sort | join(\" \")"; }
applied="CronJob/runbook-triage Role/runbook-tmi-investigate Role/runbook-tmi-resolve RoleBinding/runbook-tmi-investigate Secret/runbook-secrets Secret/runbook-targets ServiceAccount/runbook"
files=(-f deploy/serviceaccount.yaml -f deploy/secret.example.yaml -f "$T_TMP/rbac.yaml" -f deploy/cronjob.yaml)
check "create namespace $NS" kc create namespace "$NS"
expect_rc "kubectl apply of serviceaccount, secret.example, rbac-tmi, cronjob" 0 kn apply "${files[@]}"
is "... the stand-in holds them" "$(in_ns)" "$applied"
is "... the Secrets' stringData is stored as data" "$(st "[.objects[] | select(.metadata.namespace==\"$NS\" and .kind==\"Secret\") | has(\"stringData\"), (.data|length)] | map(tostring) | join(\" \")")" "false 2 false 1"
expect_rc "kubectl get lists them" 0 kn get serviceaccount,secret,role,rolebinding,cronjob
for row in "serviceaccount/runbook" "secret/runbook-secrets" "secret/runbook-targets" "role.rbac.authorization.k8s.io/runbook-tmi-investigate" \
           "role.rbac.authorization.k8s.io/runbook-tmi-resolve" "rolebinding.rbac.authorization.k8s.io/runbook-tmi-investigate" \
           "cronjob.batch/runbook-triage"; do
    grep -q "^$row " "$T_TMP/out" && ok "get shows $row" || fail "get shows $row"
done
grep -qE "^rolebinding.rbac.authorization.k8s.io/runbook-tmi-investigate +Role/runbook-tmi-investigate " "$T_TMP/out" \
    && ok "get shows the binding's Role" || fail "get shows the binding's Role"
grep -qE '^cronjob.batch/runbook-triage +\*/30 \* \* \* \* +<none> +False ' "$T_TMP/out" \
    && ok "get shows the CronJob's schedule, not suspended" || fail "get shows the CronJob's schedule"
expect_rc "kubectl delete of the same files" 0 kn delete "${files[@]}"
is "... the stand-in holds none of them" "$(in_ns)" ""
check "delete namespace $NS" kc delete namespace "$NS"

# what no server checks: the references among the manifests
expect_rc "the manifests' cross references hold" 0 "$RUNBOOK" lua tests/e2e/serve/check_manifests.lua deploy/*.yaml "$T_TMP/books.yaml"
contains "... the Deployment's token from its Secret key" "$T_TMP/out" "ok Deployment runbook-serve env RUNBOOK_SERVE_TOKEN from Secret runbook-secrets key serve-token"
contains "... the binding's Role" "$T_TMP/out" "ok RoleBinding runbook-tmi-investigate binds Role runbook-tmi-investigate"
contains "... the Service's port" "$T_TMP/out" "ok Service runbook-serve port http targets a port of runbook-serve"
sed 's/key: serve-token/key: serve-tokn/; s/secretName: runbook-targets, optional: true/secretName: runbook-targetz/' \
    deploy/deployment.yaml >"$T_TMP/deployment.yaml"
expect_rc "a broken reference is found" 1 "$RUNBOOK" lua tests/e2e/serve/check_manifests.lua "$T_TMP/deployment.yaml" \
    deploy/configmap.yaml deploy/secret.example.yaml deploy/serviceaccount.yaml deploy/service.yaml "$T_TMP/books.yaml"
contains "... a missing Secret key" "$T_TMP/out" "env RUNBOOK_SERVE_TOKEN from Secret runbook-secrets key serve-tokn"
contains "... a missing Secret" "$T_TMP/out" "bad $T_TMP/deployment.yaml: Deployment runbook-serve mounts Secret runbook-targetz"
# the ConfigMap's serve.yaml is a config serve accepts
kc create --dry-run=client -o json -f deploy/configmap.yaml | jq -r '.data["serve.yaml"]' \
    | sed 's|/var/lib/runbook/reports|'"$T_TMP"'/reports|' >"$T_TMP/serve.yaml"
RUNBOOK_SERVE_TOKEN=0123456789abcdef01234 timeout 5 "$RUNBOOK" serve --listen 127.0.0.1:0 --config "$T_TMP/serve.yaml" \
    >"$T_TMP/serve.out" 2>&1 &
sleep 2; kill -TERM $! 2>/dev/null; wait $! 2>/dev/null
contains "serve starts with deploy/configmap.yaml's settings" "$T_TMP/serve.out" "listening on 127.0.0.1:"

# runbook rbac
expect_rc "runbook rbac tmi exits 0" 0 "$RUNBOOK" rbac tmi
[ ! -s "$T_TMP/err" ] && ok "no warning for the TMI book (every call named statically)" || fail "warnings: $(cat "$T_TMP/err")"
# (comments name file:line and move with every edit of the book: the rules are compared)
diff -u <(grep -v '^ *#' deploy/rbac-tmi.yaml) <(grep -v '^ *#' "$T_TMP/out") >"$T_TMP/diff" \
    && ok "deploy/rbac-tmi.yaml holds the rules runbook rbac tmi prints" \
    || { fail "deploy/rbac-tmi.yaml is stale"; head -20 "$T_TMP/diff" | sed 's/^/#   /'; }
cat >"$T_TMP/roles.lua" <<'LUA'
-- prints "ROLE GROUP RESOURCE VERB" lines and "BOUND ROLE" for each binding
local yaml = require "rb.yaml"
local text = io.read("a")
for doc in ("\n" .. text .. "\n---"):gmatch("(.-)\n%-%-%-[^\n]*") do
  local d = doc:gsub("#[^\n]*", ""):match("%S") and yaml.decode(doc)
  if d and d.rules then
    for _, r in ipairs(d.rules) do
      for _, res in ipairs(r.resources) do
        for _, v in ipairs(r.verbs) do print(d.metadata.name, r.apiGroups[1] == "" and "core" or r.apiGroups[1], res, v) end
      end
    end
  elseif d and d.roleRef then print("BOUND", d.roleRef.name) end
end
LUA
"$RUNBOOK" lua "$T_TMP/roles.lua" <deploy/rbac-tmi.yaml >"$T_TMP/rules"
awk '$1 == "runbook-tmi-investigate" && $4 !~ /^(get|list|watch)$/' "$T_TMP/rules" >"$T_TMP/inv_writes"
[ -s "$T_TMP/rules" ] && [ ! -s "$T_TMP/inv_writes" ] && ok "the investigate Role holds reads only" || fail "investigate writes: $(cat "$T_TMP/inv_writes")"
for want in "runbook-tmi-investigate core pods/log get" "runbook-tmi-investigate core pods/proxy get" \
            "runbook-tmi-investigate metrics.k8s.io pods list" "runbook-tmi-resolve apps deployments patch" \
            "runbook-tmi-resolve apps deployments/scale patch" "runbook-tmi-resolve core pods delete" \
            "runbook-tmi-resolve core pods/exec create" "runbook-tmi-resolve batch jobs create"; do
    grep -qxF "$(echo "$want" | tr ' ' '\t')" <(tr ' ' '\t' <"$T_TMP/rules") && ok "rbac: $want" || fail "rbac lacks: $want"
done
grep -qP "^BOUND\trunbook-tmi-resolve$" "$T_TMP/rules" && fail "the resolve Role is bound" || ok "the resolve Role is not bound"
grep -qP "^BOUND\trunbook-tmi-investigate$" "$T_TMP/rules" && ok "the investigate Role is bound" || fail "investigate not bound"

RUNBOOK_PATH=$ROOT/tests/e2e/serve expect_rc "rbac of a book with unnameable calls still exits 0" 0 \
    "$RUNBOOK" rbac rbacbook --service-account rb --sa-namespace ops
contains "a kind in a variable is reported with file:line" "$T_TMP/err" "sec.lua:9: k8s.get: the kind is not a literal"
contains "k8s.raw is reported with file:line" "$T_TMP/err" "sec.lua:10: k8s.raw"
lacks "a call in a comment is not a call" "$T_TMP/out" '"secrets"'
contains "cluster-scoped reads go to a ClusterRole" "$T_TMP/out" "kind: ClusterRole"
"$RUNBOOK" lua "$T_TMP/roles.lua" <"$T_TMP/out" >"$T_TMP/rules2"
grep -qP "^runbook-rbacbook-investigate\tcore\tpods/exec\tcreate" <(tr ' ' '\t' <"$T_TMP/rules2") \
    && ok "exec in an investigate step is an investigate permission" || fail "exec placement"
grep -qP "^runbook-rbacbook-resolve\tapps\tdeployments\tpatch" <(tr ' ' '\t' <"$T_TMP/rules2") \
    && ok "deployments.apps patch in resolve" || fail "plural.group kind"
contains "subjects are the given service account" "$T_TMP/out" "name: rb, namespace: ops"
done_testing
