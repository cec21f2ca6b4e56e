#!/usr/bin/env bash
# lab: k8s
# deploy/ and `runbook rbac`: the manifests the lab's API stand-in serves
# (Deployment, Service, ConfigMaps, Job) pass the real kubectl's
# `apply/create --dry-run=server`; the kinds it does not serve
# (ServiceAccount, Secret, CronJob, Role, RoleBinding) are checked
# structurally; the Deployment references what deploy/ defines; the books
# ConfigMap unpacks into a tree runbook lists; `runbook rbac` derives reads
# for investigate and writes for resolve (never bound), cluster reads in a
# ClusterRole, warns with file:line what a static scan cannot name, and
# deploy/rbac-tmi.yaml is what it prints today.
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
KC=$RB_TEST_K8S_KUBECONFIG
kc() { timeout 30 kubectl --kubeconfig "$KC" -n tmi "$@"; }

for f in deployment service configmap; do
    check "kubectl apply --dry-run=server -f deploy/$f.yaml" kc apply --dry-run=server -f "deploy/$f.yaml"
done
check "kubectl create --dry-run=server -f deploy/job.yaml (generateName)" kc create --dry-run=server -f deploy/job.yaml
bash deploy/books-configmap.sh runbooks/tmi >"$T_TMP/books.yaml" 2>"$T_TMP/books.err" \
    && ok "books-configmap.sh packs runbooks/tmi" || fail "books-configmap.sh: $(cat "$T_TMP/books.err")"
check "the books ConfigMap passes --dry-run=server" kc apply --dry-run=server -f "$T_TMP/books.yaml"
mkdir -p "$T_TMP/books"
jq -r '.binaryData["tmi.tgz"]' < <(kc create --dry-run=client -o json -f "$T_TMP/books.yaml") | base64 -d \
    | tar -xzf - -C "$T_TMP/books" && "$RUNBOOK" list "$T_TMP/books/tmi" >"$T_TMP/list" 2>&1 \
    && contains "unpacked as the init container does, runbook lists the book" "$T_TMP/list" "goroutine-leaks" \
    || fail "books ConfigMap does not unpack into a book"

expect_rc "the kinds the stand-in lacks pass the structural checks" 0 \
    "$RUNBOOK" lua tests/e2e/serve/check_manifests.lua deploy/serviceaccount.yaml deploy/secret.example.yaml \
    deploy/cronjob.yaml deploy/rbac-tmi.yaml
contains "... the Role among them" "$T_TMP/out" "ok Role runbook-tmi-resolve"
# the Deployment references what deploy/ defines
for ref in "serviceAccountName: runbook" "name: runbook-config" "secretName: runbook-targets" "name: runbook-secrets" \
           "name: runbook-books"; do
    grep -qF "$ref" deploy/deployment.yaml || fail "deployment lacks $ref"
done
grep -q "^  name: runbook$" deploy/serviceaccount.yaml && grep -q "name: runbook-targets" deploy/secret.example.yaml \
    && grep -q "serve-token" deploy/secret.example.yaml && ok "the Deployment's ServiceAccount, Secrets and ConfigMaps are in deploy/" \
    || fail "deploy/ misses a referenced object"
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
