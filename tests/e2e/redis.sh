#!/usr/bin/env bash
# rb.redis through the runner against the lab's Redis: every write path (SET,
# CONFIG SET timeout, CONFIG SET maxmemory-policy, FLUSHALL) is refused in
# investigate, absent from the server under --dry-run, applied exactly once
# with --yes, and audited; the password appears nowhere.
# What reached the server: MONITOR (redis-cli, in the background) for data
# commands; INFO commandstats for CONFIG SET, which MONITOR never shows.
. "$(dirname "$0")/lib.sh"
FX=$ROOT/tests/e2e/redis/section.lua
AUD=$T_TMP/audit.jsonl
MON=$T_TMP/monitor.txt
PW=$RB_TEST_REDIS_PASSWORD
URL=redis://127.0.0.1:$RB_TEST_REDIS_PORT/9        # no password: REDISCLI_AUTH carries it
ITEM=e2e:item:$$
export REDISCLI_AUTH=$PW
rb() { "$RUNBOOK" run "$FX" --audit "$AUD" --set url="$URL" --set item="$ITEM" "$@"; }
# expect_rb NAME RC ARGS...: expect_rc on rb, keeping every output for the password check
expect_rb() { local n=$1 rc=$2; shift 2; expect_rc "$n" "$rc" rb "$@"; cat "$T_TMP/out" "$T_TMP/err" >>"$T_TMP/all"; }
cli() { redis-cli -h 127.0.0.1 -p "$RB_TEST_REDIS_PORT" -n 9 "$@"; }
config_sets() { cli INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_config|set:calls=\([0-9]*\),.*/\1/p' | grep . || echo 0; }
config() { cli CONFIG GET "$1" | tr -d '\r' | sed -n 2p; }
# sync: a marker through redis-cli until MONITOR shows it, so that everything
# sent before has been written to $MON.
sync_monitor() {
    local marker=e2e-sync-$$-$RANDOM i
    for i in $(seq 1 100); do
        cli ECHO "$marker" >/dev/null
        grep -qF "$marker" "$MON" && return 0
        sleep 0.05
    done
    echo "# MONITOR never showed $marker" >&2
}
monitored() { sync_monitor; grep -F -- "$1" "$MON" | grep -c -F -- "$2" || true; }

timeout 300 redis-cli -h 127.0.0.1 -p "$RB_TEST_REDIS_PORT" monitor >"$MON" 2>&1 &
MON_PID=$!
trap 'kill $MON_PID 2>/dev/null; rm -rf "$T_TMP"' EXIT
sync_monitor
OLD_TIMEOUT=$(config timeout); OLD_POLICY=$(config maxmemory-policy)
cli DEL "$ITEM" >/dev/null

# --- investigate: every write raises before a byte is sent
sets=$(config_sets)
for w in set:SET config_set:"CONFIG SET" flushall:FLUSHALL; do
    expect_rb "investigate: ${w%%:*} fails the step (exit 1)" 1 --step "Sneaky write" --investigate-only \
        --set sneaky="${w%%:*}"
    contains "investigate: ${w%%:*} is refused by name" "$T_TMP/out" "write refused in investigate: redis.${w#*:} "
done
[ "$(monitored '] "SET"' "$ITEM")" = 0 ] && ok "investigate: no SET reached the server" \
    || fail "investigate: a SET reached the server"
[ "$(monitored '] "FLUSHALL"' '')" = 0 ] && ok "investigate: no FLUSHALL reached the server" \
    || fail "investigate: FLUSHALL reached the server"
[ "$(config_sets)" = "$sets" ] && ok "investigate: no CONFIG SET reached the server" \
    || fail "investigate: CONFIG SET calls went from $sets to $(config_sets)"
[ "$(config timeout)" = "$OLD_TIMEOUT" ] && ok "investigate: timeout unchanged" || fail "timeout changed"
expect_rb "investigate reads (INFO, SLOWLOG, SCAN + TTL) run" 0 --step "Redis analysis" --investigate-only
contains "the checks are shown" "$T_TMP/out" "keys without TTL"

# --- --dry-run: planned, labelled, not sent
expect_rb "resolve --dry-run exits 0" 0 --resolve-only --dry-run --set value=dry-$$ --set timeout=301
contains "the plan names CONFIG SET" "$T_TMP/out" "redis.CONFIG SET 127.0.0.1:$RB_TEST_REDIS_PORT/9"
contains "the plan shows the arguments" "$T_TMP/out" '["timeout","301"]'
contains "the plan names the SET" "$T_TMP/out" "redis.SET"
contains "writes are labelled as not simulable" "$T_TMP/out" "cannot be simulated"
contains "the run says nothing was changed" "$T_TMP/out" "nothing was changed"
[ "$(monitored '] "SET"' "dry-$$")" = 0 ] && ok "--dry-run: the SET never reached the server" \
    || fail "--dry-run: the SET reached the server"
[ "$(config_sets)" = "$sets" ] && ok "--dry-run: no CONFIG SET reached the server" \
    || fail "--dry-run: CONFIG SET calls went from $sets to $(config_sets)"
[ "$(config timeout)" = "$OLD_TIMEOUT" ] && [ "$(config maxmemory-policy)" = "$OLD_POLICY" ] \
    && ok "--dry-run: configuration unchanged" || fail "--dry-run changed the configuration"
[ -z "$(cli GET "$ITEM")" ] && ok "--dry-run: the key was not written" || fail "--dry-run wrote the key"

# --- --yes: applied exactly once
expect_rb "resolve --yes exits 0" 0 --resolve-only --yes --set value=yes-$$ --set timeout=302 --set policy=allkeys-lfu
[ "$(monitored '] "SET"' "yes-$$")" = 1 ] && ok "--yes: SET sent exactly once" \
    || fail "--yes: SET sent $(monitored '] "SET"' "yes-$$") times"
[ "$(config_sets)" = $((sets + 2)) ] && ok "--yes: two CONFIG SETs, each exactly once" \
    || fail "--yes: CONFIG SET calls went from $sets to $(config_sets)"
[ "$(cli GET "$ITEM")" = "yes-$$" ] && ok "--yes: the key holds the value" || fail "--yes: key is $(cli GET "$ITEM")"
[ "$(config timeout)" = 302 ] && [ "$(config maxmemory-policy)" = allkeys-lfu ] \
    && ok "--yes: the configuration changed" || fail "--yes: timeout=$(config timeout) policy=$(config maxmemory-policy)"
cli CONFIG SET timeout "$OLD_TIMEOUT" >/dev/null
cli CONFIG SET maxmemory-policy "$OLD_POLICY" >/dev/null
cli DEL "$ITEM" >/dev/null

# --- audit
check "audit verify passes" "$RUNBOOK" audit verify "$AUD"
[ "$(grep '"event":"intent"' "$AUD" | grep -c '"binding":"redis"')" = 3 ] \
    && ok "3 redis intent events" || fail "redis intent events: $(grep '"event":"intent"' "$AUD" | grep -c redis)"
[ "$(grep '"event":"result"' "$AUD" | grep '"binding":"redis"' | grep -c '"ok":true')" = 3 ] \
    && ok "3 redis ok result events" || fail "redis result events: $(grep -c '"event":"result"' "$AUD")"
grep '"event":"intent"' "$AUD" | grep -qF '"op":"CONFIG SET","target":"127.0.0.1:'"$RB_TEST_REDIS_PORT"'\/9","args":["maxmemory-policy","allkeys-lfu"]' \
    && ok "the intent names op, target and arguments" || fail "intent lacks op/target/args"

# --- a wrong password fails clearly; the password appears nowhere
REDISCLI_AUTH=x$PW expect_rb "a wrong password fails the step" 1 --step "Redis analysis" --investigate-only
contains "the failure is an AUTH error" "$T_TMP/out" "AUTH failed: WRONGPASS"
cat "$AUD" >>"$T_TMP/all"
lacks "the password appears nowhere (stdout, stderr, audit)" "$T_TMP/all" "$PW"

done_testing
