#!/usr/bin/env bash
# make lab-down — stops everything `make lab` started and removes its directory.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
LAB=${RUNBOOK_LAB:-/tmp/runbook-lab}
[ -d "$LAB" ] || { echo "no lab in $LAB"; exit 0; }
for s in "$ROOT"/tests/lab/services/*.sh; do bash "$s" stop "$LAB" >/dev/null 2>&1; done
rm -rf "$LAB"
echo "lab in $LAB stopped"
