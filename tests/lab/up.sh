#!/usr/bin/env bash
# make lab — brings the rehearsal lab up on 127.0.0.1 for a person: the same
# services the tests use (tests/lab/services/*.sh: PostgreSQL 15, Redis 7,
# Prometheus 2.42 scraping the TMI simulator, the simulator, the Kubernetes
# API stand-in whose tmi-api pods proxy to the simulator, ...), in
# $RUNBOOK_LAB (default /tmp/runbook-lab), and writes a config file with an
# environment "lab" so runbook can be pointed at it. `make lab-down` stops it.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/lab/lib.sh"
LAB=${RUNBOOK_LAB:-/tmp/runbook-lab}
# how to stop this lab: the same RUNBOOK_LAB it was started with
DOWN="make lab-down"
[ "$LAB" = /tmp/runbook-lab ] || DOWN="RUNBOOK_LAB=$LAB make lab-down"
if [ -f "$LAB/.up" ]; then
    echo "the lab is already up in $LAB ($DOWN first)"; exit 1
fi
mkdir -p "$LAB"; chmod 755 "$LAB"
for s in "$ROOT"/tests/lab/services/*.sh; do
    name=$(basename "$s" .sh)
    printf 'starting %-10s ' "$name"
    if timeout 120 bash "$s" start "$LAB" >"$LAB/$name.start.log" 2>&1; then echo ok
    else echo "FAILED (see $LAB/$name.start.log)"; bash "$ROOT/tests/lab/down.sh"; exit 1; fi
done
touch "$LAB/.up"
set -a; for f in "$LAB"/*.env; do . "$f"; done; set +a
{ echo "# written by make lab: the rehearsal lab's targets"; echo "default: lab"; lab_environments; } >"$LAB/config.yaml"
cat <<MSG

The lab is up in $LAB (everything on 127.0.0.1). Point runbook at it:

    export RUNBOOK_CONFIG=$LAB/config.yaml RUNBOOK_AUDIT=$LAB/audit.jsonl
    ${RB_BUILD:-build}/runbook triage tmi
    ${RB_BUILD:-build}/runbook run tmi/goroutine-leaks --investigate-only --set api_url=$RB_TEST_TMISIM_URL

Each tmi-api pod is its own TMI simulator. Inject a fault into one pod, or all
(fault names: curl $RB_TEST_TMISIM_URL/admin/faults):

    curl -X POST '$RB_TEST_TMISIM_URL/admin/faults/goroutine_leak?on=1&pod=POD-NAME'
    curl -X POST '$RB_TEST_TMISIM_URL/admin/faults/all?on=0&pod=all'

kubectl works too:  kubectl --kubeconfig $RB_TEST_K8S_KUBECONFIG -n tmi get pods
Stop it with:       $DOWN
MSG
