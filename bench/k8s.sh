#!/usr/bin/env bash
# bench/k8s.sh — `kubectl get pods -o json` against the same get through
# rb.k8s (`runbook lua`, printing the list as JSON), each a whole process
# from start to exit, against a Kubernetes API stand-in started here
# (tests/lab/services/k8s.sh). Namespace tmi has 5 pods; PODS=N scales
# tmi-api first so the list is larger. Both start cold (kubectl's discovery
# cache in a fresh HOME; rb.k8s has none). One run of each; prints the ratio.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNBOOK=${RUNBOOK:-$ROOT/build/runbook}
PODS=${PODS:-}
TMP=$(mktemp -d /tmp/rb-bench-k8s.XXXXXX)
trap 'bash "$ROOT/tests/lab/services/k8s.sh" stop "$TMP" >/dev/null 2>&1; rm -rf "$TMP"' EXIT
[ -x "$RUNBOOK" ] || { echo "no $RUNBOOK: run make first" >&2; exit 1; }
command -v kubectl >/dev/null || { echo "kubectl not installed" >&2; exit 1; }

bash "$ROOT/tests/lab/services/k8s.sh" start "$TMP" >/dev/null
set -a; . "$TMP/k8s.env"; set +a
export HOME=$TMP/home KUBECONFIG=$RB_TEST_K8S_KUBECONFIG
mkdir -p "$HOME"
kc() { kubectl --request-timeout=30s -n tmi "$@"; }
[ -n "$PODS" ] && kc scale deployment tmi-api --replicas="$PODS" >/dev/null

cat >"$TMP/get.lua" <<'LUA'
local k8s = require "rb.k8s"
local cjson = require "cjson"
local items, list = assert(k8s.get("pods"))
io.write(cjson.encode(list), "\n")
LUA

now() { date +%s.%N; }
t0=$(now); kc get pods -o json >"$TMP/kubectl.json"; t1=$(now)
"$RUNBOOK" lua "$TMP/get.lua" >"$TMP/rb.json"; t2=$(now)
n_kc=$(jq '.items | length' "$TMP/kubectl.json")
n_rb=$(jq '.items | length' "$TMP/rb.json")
[ "$n_kc" = "$n_rb" ] || { echo "kubectl listed $n_kc pods, rb.k8s $n_rb" >&2; exit 1; }
awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$n_rb" 'BEGIN {
    printf "k8s: get pods -o json (%d pods), one cold run each, process start to exit\n", n
    printf "  kubectl                %7.1f ms\n", (b - a) * 1000
    printf "  runbook lua (rb.k8s)   %7.1f ms\n", (c - b) * 1000
    printf "  ratio rb.k8s / kubectl = %.3fx\n", (c - b) / (b - a)
}'
