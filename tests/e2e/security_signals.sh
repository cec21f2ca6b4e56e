#!/usr/bin/env bash
# SIGTERM and SIGINT end a run within a second wherever it is (issue 11,
# item 4): in a long HTTP read, in a Lua loop inside runbook code that
# catches errors with pcall, and in rb.sleep; each time the audit records
# "interrupted", the chain verifies and the exit status is 3.
. "$(dirname "$0")/lib.sh"
BASE=$RB_TEST_HTTP_URL
D=$T_TMP/sig
mkdir -p "$D"
cat >"$D/slow.lua" <<EOF
local rb = require "rb"
local http = require "rb.http"
local S = rb.section { id = "slow", title = "slow", params = { what = "http" } }
S:investigate("wait", function(ctx)
  if ctx.params.what == "http" then
    http.get("$BASE/slow?s=25", { timeout = 30 })
  elseif ctx.params.what == "loop" then
    while true do pcall(function() for i = 1, 1e6 do end end) end
  else
    rb.sleep(25)
  end
end)
return S
EOF
# stop_after SIG WHAT: starts a run, sends SIG after 1.5 s; sets rc and ms (time from signal to exit)
stop_after() {
    local aud=$T_TMP/$2.$1.jsonl
    "$RUNBOOK" run "$D/slow.lua" --investigate-only --set what="$2" --audit "$aud" >"$T_TMP/out" 2>&1 &
    local pid=$!
    sleep 1.5
    local t0; t0=$(date +%s%N)
    kill -"$1" $pid
    wait $pid; rc=$?
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    AUD=$aud
}
for sig in TERM INT; do
    for what in http loop sleep; do
        stop_after $sig $what
        [ "$rc" = 3 ] && [ "$ms" -lt 1000 ] && ok "SIG$sig during a $what step: exit 3 in $ms ms" \
            || fail "SIG$sig during a $what step: exit $rc after $ms ms (want 3 within 1000 ms)"
        grep -q '"event":"interrupted"' "$AUD" && ok "... the audit says interrupted" || fail "... no interrupted event"
        "$RUNBOOK" audit verify "$AUD" >/dev/null 2>&1 && ok "... and its chain verifies" || fail "... the chain is broken"
    done
done
done_testing
