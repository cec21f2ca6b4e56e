#!/usr/bin/env bash
# make demo — shows the safety model end to end on this machine: starts a
# small recording HTTP service on 127.0.0.1, runs the cache-warmup example in
# --dry-run (nothing sent), then with --yes (one POST), then shows and
# verifies the audit log it wrote. Everything it starts, it stops.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNBOOK=$ROOT/build/runbook
LAB=$(mktemp -d /tmp/rb-demo.XXXXXX)
trap 'bash "$ROOT/tests/lab/services/httprec.sh" stop "$LAB" >/dev/null 2>&1; rm -rf "$LAB"' EXIT
bash "$ROOT/tests/lab/services/httprec.sh" start "$LAB"
. "$LAB/httprec.env"
AUDIT=$LAB/audit.jsonl
SECTION=$ROOT/examples/cache-warmup/cache-warmup.lua
step() { printf '\n\033[1m### %s\033[0m\n$ %s\n' "$1" "$2"; }

step "1. What the section does" "runbook show $SECTION"
"$RUNBOOK" show "$SECTION"

step "2. Rehearse: --dry-run plans the POST and sends nothing" "runbook run ... --dry-run"
"$RUNBOOK" run "$SECTION" --set base="$RB_TEST_HTTP_URL" --audit "$AUDIT" --dry-run
echo "requests the service saw: $(grep -c POST "$RB_TEST_HTTP_LOG" || true) POST"

step "3. For real, approved up front with --yes" "runbook run ... --yes --report report.md"
"$RUNBOOK" run "$SECTION" --set base="$RB_TEST_HTTP_URL" --audit "$AUDIT" --yes --report "$LAB/report.md"
echo "requests the service saw: $(grep -c POST "$RB_TEST_HTTP_LOG") POST"

step "4. The audit trail" "runbook audit show $AUDIT"
"$RUNBOOK" audit show "$AUDIT"
step "5. Is it intact?" "runbook audit verify $AUDIT"
"$RUNBOOK" audit verify "$AUDIT"
step "6. Tamper with one line and verify again" "sed -i '3s/ok/OK/' audit.jsonl; runbook audit verify"
sed -i '3s/"ok":true/"ok":false/; 3s/good/bad/' "$AUDIT"
"$RUNBOOK" audit verify "$AUDIT" || echo "(exit $? — the altered line is named)"
