#!/usr/bin/env bash
# make demo — the TMI runbook on a lab that runs on this machine (127.0.0.1
# only): brings the lab up (PostgreSQL, Redis, Prometheus, the TMI simulator,
# the Kubernetes API stand-in), injects a goroutine leak, runs triage, runs
# tmi/goroutine-leaks (investigate, then resolve as a dry run), writes a
# report, shows and verifies the audit trail, and tears the lab down.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNBOOK=$ROOT/build/runbook
export RUNBOOK_LAB=$(mktemp -d /tmp/rb-demo.XXXXXX)
trap 'bash "$ROOT/tests/lab/down.sh" >/dev/null 2>&1 || true' EXIT
bold() { printf '\n\033[1m### %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

bold "Bringing the lab up in $RUNBOOK_LAB"
bash "$ROOT/tests/lab/up.sh" | sed -n '1,12p'
set -a; for f in "$RUNBOOK_LAB"/*.env; do . "$f"; done; set +a
export RUNBOOK_CONFIG=$RUNBOOK_LAB/config.yaml RUNBOOK_AUDIT=$RUNBOOK_LAB/audit.jsonl
W="--set window=15s"     # the seed says 5m; a fresh lab has seconds of history

bold "The book"
show "$RUNBOOK" list runbooks/tmi | head -12

bold "Injecting a goroutine leak into the TMI simulator"
show curl -s -X POST "$RB_TEST_TMISIM_URL/admin/faults/goroutine_leak?on=1&n=6000&rate=600"; echo
sleep 4

bold "Triage: which sections apply right now?"
show "$RUNBOOK" triage tmi $W || true

bold "Investigate, then rehearse the resolution: --dry-run runs the read-only investigate steps for real and plans the pod deletion (the API server validates it with dryRun=All) without changing anything"
show "$RUNBOOK" run tmi/goroutine-leaks --dry-run $W --set growth_interval=2 --report "$RUNBOOK_LAB/report.md"
echo "pods are unchanged:"
kubectl --kubeconfig "$RB_TEST_K8S_KUBECONFIG" -n tmi get pods -l app=tmi-api

bold "The report"
sed -n '1,40p' "$RUNBOOK_LAB/report.md"

bold "The audit trail"
show "$RUNBOOK" audit show "$RUNBOOK_AUDIT" | tail -15
show "$RUNBOOK" audit verify "$RUNBOOK_AUDIT"

bold "Done: the lab is torn down. Rehearse yourself with: make lab"
