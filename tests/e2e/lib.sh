# tests/e2e/lib.sh — sourced by every tests/e2e/*.sh. Prints TAP lines that
# tests/run counts. RUNBOOK is the binary under test; RB_LAB_DIR holds the
# env files of the lab services tests/run started (see tests/lab/services/).
set -u
RUNBOOK=${RUNBOOK:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/runbook}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T_N=0; T_FAILED=0
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/rb-e2e.XXXXXX")
trap 'rm -rf "$T_TMP"' EXIT
for f in "${RB_LAB_DIR:-/nonexistent}"/*.env; do [ -f "$f" ] && . "$f"; done

ok()   { T_N=$((T_N+1)); echo "ok $T_N - $*"; }
fail() { T_N=$((T_N+1)); T_FAILED=$((T_FAILED+1)); echo "not ok $T_N - $*"; }
# check NAME COMMAND...: passes when the command exits 0
check() { local n=$1; shift; if "$@" >"$T_TMP/check.out" 2>&1; then ok "$n"; else fail "$n"; sed 's/^/#   /' "$T_TMP/check.out" | head -20; fi; }
# expect_rc NAME RC COMMAND...: passes when the command exits with RC; output in $T_TMP/out, $T_TMP/err
expect_rc() {
    local n=$1 want=$2; shift 2
    "$@" >"$T_TMP/out" 2>"$T_TMP/err" </dev/null; local got=$?
    if [ "$got" = "$want" ]; then ok "$n"; else fail "$n (exit $got, want $want)"; sed 's/^/#   /' "$T_TMP/err" | head -20; fi
}
# contains NAME FILE PATTERN / lacks NAME FILE PATTERN (fixed strings)
contains() { if grep -qF -- "$3" "$2"; then ok "$1"; else fail "$1 (no '$3' in $2)"; sed 's/^/#   /' "$2" | head -20; fi; }
lacks()    { if grep -qF -- "$3" "$2"; then fail "$1 ('$3' found in $2)"; grep -nF -- "$3" "$2" | head -5 | sed 's/^/#   /'; else ok "$1"; fi; }
done_testing() { echo "1..$T_N"; [ "$T_FAILED" = 0 ]; }


# The lab's shell helpers (stop_pidfile, free_port, wait_up, lab_environments).
. "$ROOT/tests/lab/lib.sh"
