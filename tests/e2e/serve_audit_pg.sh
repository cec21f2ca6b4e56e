#!/usr/bin/env bash
# lab: pg
# The PostgreSQL audit sink (--audit postgres://..., docs/audit.md) with the
# real CLI and the lab's PostgreSQL 15: an administrator's first append creates
# the table and its triggers; the role runbook uses gets SELECT and INSERT
# only; two writers appending at once keep one chain (verify holds, seq has
# no gap and no duplicate); UPDATE, DELETE and TRUNCATE by that role are
# refused with the rows unchanged; a row altered behind the triggers' back is
# named by `audit verify`; `audit show` reads the table; the password shows
# nowhere.
. "$(dirname "$0")/lib.sh"
export RUNBOOK_PATH=$ROOT/tests/e2e/serve/books
DB=rbaudit_$$
SUPER="host=$RB_TEST_PG_SOCKET port=$RB_TEST_PG_PORT user=postgres"
PASS=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
psql -q "$SUPER dbname=postgres" -c "CREATE DATABASE $DB" >/dev/null
psql -q "$SUPER dbname=postgres" -c "DROP ROLE IF EXISTS rbaudit_w; CREATE ROLE rbaudit_w LOGIN PASSWORD '$PASS'" >/dev/null 2>&1
trap 'psql -q "$SUPER dbname=postgres" -c "DROP DATABASE IF EXISTS $DB" -c "DROP ROLE IF EXISTS rbaudit_w" >/dev/null 2>&1; rm -rf "$T_TMP"' EXIT
sql() { psql -Atq "$SUPER dbname=$DB" -c "$1"; }
ADMIN_URL="postgresql://postgres@/$DB?host=$RB_TEST_PG_SOCKET&port=$RB_TEST_PG_PORT"
URL="postgresql://rbaudit_w:$PASS@127.0.0.1:$RB_TEST_PG_PORT/$DB"
rb() { timeout 60 "$RUNBOOK" "$@"; }

# the administrator's first append creates the table and the triggers
expect_rc "first run with an admin URL creates runbook_audit and exits 0" 0 \
    rb run svc/probe --investigate-only --audit "$ADMIN_URL"
[ "$(sql "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'runbook_audit'::regclass AND NOT tgisinternal")" = 2 ] \
    && ok "two append-only triggers on runbook_audit" || fail "triggers missing"
sql "REVOKE ALL ON runbook_audit FROM PUBLIC; GRANT SELECT, INSERT ON runbook_audit TO rbaudit_w" >/dev/null

# two writers at once, each 8 runs
writer() { for _ in 1 2 3 4 5 6 7 8; do rb run svc/probe --investigate-only --audit "$URL" >/dev/null 2>&1 || echo fail; done; }
writer >"$T_TMP/w1" & writer >"$T_TMP/w2" & wait
[ ! -s "$T_TMP/w1" ] && [ ! -s "$T_TMP/w2" ] && ok "16 runs by two concurrent writers exit 0" || fail "a concurrent run failed"
n=$(sql "SELECT count(*) FROM runbook_audit")
runs=$(sql "SELECT count(*) FROM runbook_audit WHERE line LIKE '%\"event\":\"run_end\"%'")
[ "$runs" = 17 ] && ok "17 run_end events in the table" || fail "run_end events: $runs"
[ "$(sql "SELECT max(seq) = count(*) AND min(seq) = 1 FROM runbook_audit")" = t ] \
    && ok "seq is 1..$n without gaps or duplicates" || fail "seq has gaps"
expect_rc "audit verify URL: chain valid" 0 rb audit verify "$URL"
contains "verify counts every row" "$T_TMP/out" "chain valid, $n event(s)"
lacks "verify does not print the password" "$T_TMP/out" "$PASS"

# append-only for the role runbook uses
before=$(sql "SELECT md5(string_agg(line, '' ORDER BY seq)) FROM runbook_audit")
for stmt in "UPDATE runbook_audit SET line = 'x' WHERE seq = 2" "DELETE FROM runbook_audit WHERE seq = 3" \
            "TRUNCATE runbook_audit"; do
    if PGPASSWORD=$PASS psql -q "host=127.0.0.1 port=$RB_TEST_PG_PORT user=rbaudit_w dbname=$DB" -c "$stmt" >"$T_TMP/psql" 2>&1; then
        fail "${stmt%% *} by runbook's role succeeded"
    else ok "${stmt%% *} by runbook's role refused ($(head -1 "$T_TMP/psql" | cut -c1-70))"; fi
done
# even the owner is stopped by the trigger
sql "DELETE FROM runbook_audit WHERE seq = 4" >"$T_TMP/psql" 2>&1 && fail "owner DELETE succeeded" \
    || ok "DELETE by the table's owner refused by the trigger"
[ "$(sql "SELECT md5(string_agg(line, '' ORDER BY seq)) FROM runbook_audit")" = "$before" ] \
    && ok "rows unchanged after the refused statements" || fail "rows changed"

# audit show reads the table
expect_rc "audit show URL exits 0" 0 rb audit show "$URL"
contains "show has the runs" "$T_TMP/out" "RUN "
contains "show has the findings" "$T_TMP/out" "finding good: value = 10"
lacks "show does not print the password" "$T_TMP/out" "$PASS"

# tampering behind the triggers' back is caught, at the right row
sql "ALTER TABLE runbook_audit DISABLE TRIGGER USER; UPDATE runbook_audit SET line = replace(line, '\"value\":10', '\"value\":11') WHERE seq = (SELECT min(seq) FROM runbook_audit WHERE line LIKE '%\"value\":10%'); ALTER TABLE runbook_audit ENABLE TRIGGER USER" >/dev/null
bad=$(sql "SELECT min(seq) FROM runbook_audit WHERE line LIKE '%\"value\":11%'")
expect_rc "audit verify URL exits 1 after a row was altered" 1 rb audit verify "$URL"
contains "verify names the altered row" "$T_TMP/out" ":$bad: hash does not match"

# a role without INSERT cannot append: the run stops before any step
sql "REVOKE INSERT ON runbook_audit FROM rbaudit_w" >/dev/null
expect_rc "a run whose audit cannot be written does not run (exit 2)" 2 \
    rb run svc/probe --investigate-only --audit "$URL"
contains "the error names the table" "$T_TMP/err" "runbook_audit"
lacks "the error does not print the password" "$T_TMP/err" "$PASS"
done_testing
