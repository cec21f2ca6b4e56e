#!/usr/bin/env bash
# make demo — the TMI runbook on a lab that runs on this machine (127.0.0.1
# only): brings the lab up (PostgreSQL, Redis, Prometheus, one TMI simulator
# per tmi-api pod, the Kubernetes API stand-in), waits until Prometheus has
# data, injects a goroutine leak into ONE pod, shows triage putting
# goroutine-leaks first, the investigation naming that pod, the dry-run plan
# deleting that pod only, then applies it with --yes (the replacement's
# goroutine count is checked), triage clean again, the report and the audit
# trail; tears the lab down (nothing is left running).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNBOOK=${RUNBOOK:-$ROOT/build/runbook}
export RUNBOOK_LAB=$(mktemp -d /tmp/rb-demo.XXXXXX)
trap 'bash "$ROOT/tests/lab/down.sh" >/dev/null 2>&1 || true' EXIT
bold() { printf '\n\033[1m### %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }
cd "$ROOT"

bold "Bringing the lab up in $RUNBOOK_LAB"
bash "$ROOT/tests/lab/up.sh" | sed -n '1,9p'
set -a; for f in "$RUNBOOK_LAB"/*.env; do . "$f"; done; set +a
export RUNBOOK_CONFIG=$RUNBOOK_LAB/config.yaml RUNBOOK_AUDIT=$RUNBOOK_LAB/audit.jsonl
# the seed says 5m; a fresh lab has seconds of history
W="--set window=15s --set short_window=10s"
kc() { kubectl --kubeconfig "$RB_TEST_K8S_KUBECONFIG" -n tmi "$@"; }

bold "Waiting until Prometheus has data for every indicator (triage exits 5 'cannot tell' until then)"
for i in $(seq 60); do "$RUNBOOK" triage tmi $W >/dev/null 2>&1 && break; sleep 1; done
echo "triage could evaluate everything after ${i}s"

POD=$(kc get pods -l app=tmi-api -o jsonpath='{.items[1].metadata.name}')
bold "Injecting a goroutine leak into one pod: $POD"
show kc get pods -l app=tmi-api
show curl -s -o /dev/null -w '%{http_code}\n' -X POST \
    "$RB_TEST_TMISIM_URL/admin/faults/goroutine_leak?on=1&n=6000&rate=1500&pod=$POD"
sleep 6

bold "Triage: which sections apply right now?"
show "$RUNBOOK" triage tmi $W || true

bold "Investigate: the dump and the growth come from the leaking pod"
show "$RUNBOOK" run tmi/goroutine-leaks --investigate-only $W --set growth_interval=2 || true

bold "Rehearse: --dry-run plans deleting that pod only (the API server validates it with dryRun=All)"
show "$RUNBOOK" run tmi/goroutine-leaks --resolve-only --dry-run $W
echo "pods are unchanged:"
kc get pods -l app=tmi-api

bold "Apply: delete the leaking pod and check the replacement's goroutine count"
show "$RUNBOOK" run tmi/goroutine-leaks --resolve-only --yes $W --set watch_seconds=15 --report "$RUNBOOK_LAB/report.md"
kc get pods -l app=tmi-api

bold "Triage again: clean"
for _ in $(seq 30); do "$RUNBOOK" triage tmi $W >/dev/null 2>&1 && break; sleep 1; done
show "$RUNBOOK" triage tmi $W || true

bold "The report"
sed -n '1,40p' "$RUNBOOK_LAB/report.md"

bold "The audit trail"
show "$RUNBOOK" audit show "$RUNBOOK_AUDIT" | tail -15
show "$RUNBOOK" audit verify "$RUNBOOK_AUDIT"

bold "Done: the lab is torn down. Rehearse yourself with: make lab"
