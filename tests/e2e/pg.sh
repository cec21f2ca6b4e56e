#!/usr/bin/env bash
# rb.pg through the runner against the lab's PostgreSQL (statement log on):
# every write path (exec, analyze, alter_system + reload_conf) is refused in
# investigate, absent from the statement log under --dry-run, applied exactly
# once with --yes, and audited; the password appears nowhere.
. "$(dirname "$0")/lib.sh"
FX=$ROOT/tests/e2e/pg/section.lua
AUD=$T_TMP/audit.jsonl
LOG=$RB_TEST_PG_LOG
PW=$(printf '%s' "$RB_TEST_PG_DSN" | sed -E 's#^postgresql://[^:]+:([^@]+)@.*#\1#')
DSN_NOPW=$(printf '%s' "$RB_TEST_PG_DSN" | sed -E 's#^(postgresql://[^:]+):[^@]+@#\1@#')
rb() { PGPASSWORD=$PW "$RUNBOOK" run "$FX" --audit "$AUD" --set dsn="$DSN_NOPW" "$@"; }
psql_rb() { psql -X -q -t -A "$RB_TEST_PG_DSN" -c "$1"; }
# logged NEEDLE: statement-log lines containing NEEDLE, written since this script
# started (other suites share the lab server).
LOG_START=$(stat -c %s "$LOG")
logged() { tail -c +$((LOG_START + 1)) "$LOG" | grep -cF -- "$1" || true; }

psql_rb "DROP TABLE IF EXISTS e2e_t" >/dev/null 2>&1
psql_rb "CREATE TABLE e2e_t (id int PRIMARY KEY, v text); INSERT INTO e2e_t VALUES (1, 'start')" >/dev/null

# --- investigate: every write raises before a byte is sent
check_refused() { # WRITE NEEDLE: the statement that WRITE would send
    expect_rc "investigate: $1 fails the step (exit 1)" 1 rb --step "Sneaky write" --set sneaky=$1
    contains "investigate: $1 is refused by name" "$T_TMP/out" "write refused in investigate: pg.exec"
    [ "$(logged "$2")" = 0 ] && ok "investigate: $1 sent nothing (statement log)" \
        || fail "investigate: $1 reached the server"
}
check_refused exec "SET v = 'sneaky'"
check_refused analyze 'ANALYZE "e2e_t"'
check_refused alter_system "'3MB'"
check_refused reload_conf "execute <unnamed>: SELECT pg_reload_conf()"
expect_rc "investigate reads (activity, blocking_locks) run" 0 rb --step Sessions --investigate-only
contains "the check is shown" "$T_TMP/out" "long queries"

# --- exec: dry run validates with EXPLAIN, --yes applies once
expect_rc "exec --dry-run exits 0" 0 rb --step "Update row" --dry-run --set value=dry-e2e
contains "the plan shows EXPLAIN's answer" "$T_TMP/out" "Update on e2e_t"
[ "$(logged "execute <unnamed>: UPDATE e2e_t")" = 0 ] && ok "exec --dry-run executed no UPDATE" \
    || fail "exec --dry-run executed the UPDATE"
[ "$(logged "execute <unnamed>: EXPLAIN UPDATE e2e_t")" = 1 ] && ok "exec --dry-run ran one EXPLAIN" \
    || fail "exec --dry-run EXPLAIN count $(logged "EXPLAIN UPDATE e2e_t")"
[ "$(psql_rb "SELECT v FROM e2e_t WHERE id = 1")" = start ] && ok "exec --dry-run changed nothing" \
    || fail "exec --dry-run changed the row"
expect_rc "exec --yes exits 0" 0 rb --step "Update row" --yes --set value=yes-e2e
[ "$(logged "execute <unnamed>: UPDATE e2e_t")" = 1 ] && ok "exec --yes executed the UPDATE exactly once" \
    || fail "exec --yes UPDATE count $(logged "execute <unnamed>: UPDATE e2e_t")"
[ "$(psql_rb "SELECT v FROM e2e_t WHERE id = 1")" = yes-e2e ] && ok "exec --yes changed the row" \
    || fail "exec --yes did not change the row"

# --- analyze: cannot be simulated; dry run sends nothing
expect_rc "analyze --dry-run exits 0" 0 rb --step Analyze --dry-run
contains "analyze is labelled" "$T_TMP/out" "cannot be simulated"
[ "$(logged 'ANALYZE "e2e_t"')" = 0 ] && ok "analyze --dry-run sent no ANALYZE" || fail "analyze --dry-run sent ANALYZE"
expect_rc "analyze --yes exits 0" 0 rb --step Analyze --yes
[ "$(logged 'execute <unnamed>: ANALYZE "e2e_t"')" = 1 ] && ok "analyze --yes ran ANALYZE exactly once" \
    || fail "analyze --yes ANALYZE count $(logged 'ANALYZE "e2e_t"')"

# --- alter_system + reload_conf
expect_rc "alter_system --dry-run exits 0" 0 rb --step "Tune work_mem" --dry-run --set work_mem=7MB
[ "$(logged "'7MB'")" = 0 ] && [ "$(logged "execute <unnamed>: SELECT pg_reload_conf()")" = 0 ] \
    && ok "alter_system --dry-run sent neither ALTER SYSTEM nor pg_reload_conf" || fail "--dry-run sent a write"
expect_rc "alter_system --yes exits 0" 0 rb --step "Tune work_mem" --yes --set work_mem=9MB
[ "$(logged "execute <unnamed>: ALTER SYSTEM SET \"work_mem\" = '9MB'")" = 1 ] \
    && ok "alter_system --yes ran ALTER SYSTEM exactly once" || fail "ALTER SYSTEM count $(logged "'9MB'")"
[ "$(logged "execute <unnamed>: SELECT pg_reload_conf()")" = 1 ] \
    && ok "reload_conf --yes ran pg_reload_conf exactly once" || fail "pg_reload_conf count $(logged pg_reload_conf)"
sleep 0.3
[ "$(psql_rb "SHOW work_mem")" = 9MB ] && ok "the new work_mem is in effect" || fail "work_mem is $(psql_rb "SHOW work_mem")"
psql -X -q "$RB_TEST_PG_SUPERDSN" -c "ALTER SYSTEM RESET work_mem" -c "SELECT pg_reload_conf()" >/dev/null

# --- audit
check "audit verify passes" "$RUNBOOK" audit verify "$AUD"
grep '"event":"intent"' "$AUD" | grep -q '"binding":"pg"' && ok "pg writes have intent events" || fail "no pg intent event"
[ "$(grep '"event":"result"' "$AUD" | grep '"binding":"pg"' | grep -c '"ok":true')" = 4 ] \
    && ok "4 pg writes have ok result events (exec, analyze, alter_system, reload_conf)" \
    || fail "pg result events: $(grep -c '"event":"result"' "$AUD")"
grep '"event":"intent"' "$AUD" | grep -qF "ALTER SYSTEM SET" && ok "the intent names the statement" \
    || fail "intent lacks the statement"

# --- SIGINT during a long query: exit 3 promptly, the server-side query is canceled
slow_running() { psql_rb "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%e2e_slow_query%' AND pid <> pg_backend_pid()"; }
PGPASSWORD=$PW "$RUNBOOK" run "$FX" --audit "$AUD" --set dsn="$DSN_NOPW" --step "Slow query" \
    >"$T_TMP/int.out" 2>&1 </dev/null &
pid=$!
for _ in $(seq 50); do [ "$(slow_running)" = 1 ] && break; sleep 0.1; done
t0=$(date +%s%N)
kill -INT "$pid"
wait "$pid"; rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$rc" = 3 ] && ok "SIGINT during a query exits 3" || fail "SIGINT during a query: exit $rc"
[ "$ms" -lt 3000 ] && ok "SIGINT is honoured within 3 s (${ms} ms)" || fail "SIGINT took ${ms} ms"
for _ in $(seq 30); do [ "$(slow_running)" = 0 ] && break; sleep 0.1; done
[ "$(slow_running)" = 0 ] && ok "the interrupted query no longer runs on the server" || fail "pg_sleep still running"

# --- a password in the DSN itself never shows
expect_rc "a wrong password in the DSN fails the step" 1 "$RUNBOOK" run "$FX" --step Sessions \
    --investigate-only --audit "$AUD" --set dsn="$(printf '%s' "$RB_TEST_PG_DSN" | sed -E "s#:[^:@]+@#:x$PW@#")"
contains "the failure is an authentication error" "$T_TMP/out" "password authentication failed"
cat "$T_TMP/out" "$T_TMP/err" >"$T_TMP/all"
grep -v '"event":"run_start"' "$AUD" >>"$T_TMP/all"   # run_start params predate pg.connect: the spine's part
lacks "the password appears nowhere (stdout, stderr, audit events from connect on)" "$T_TMP/all" "$PW"

done_testing
