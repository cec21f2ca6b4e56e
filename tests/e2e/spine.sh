#!/usr/bin/env bash
# The engine spine end to end: the safety model against a server that records
# every request (tests/lab/httprec), the audit chain, redaction, prompts on a
# real pseudo-terminal, interrupts, exit codes and load errors.
. "$(dirname "$0")/lib.sh"
FX=$ROOT/tests/e2e/fixtures/writes.lua
BASE=$RB_TEST_HTTP_URL
REQ=$RB_TEST_HTTP_LOG
AUD=$T_TMP/audit.jsonl
rb() { "$RUNBOOK" "$@" --audit "$AUD" --set base="$BASE"; }
# the request log is shared with other suites: count only what came after we started
SKIP=$(wc -l <"$REQ")
posts() { tail -n +$((SKIP + 1)) "$REQ" | grep -c "\"method\": \"POST\", \"path\": \"$1\"" || true; }

# --- investigate cannot write
expect_rc "a POST in investigate fails the step (exit 1)" 1 rb run "$FX" --step "Sneaky write"
contains "the refusal names the write" "$T_TMP/out" "write refused in investigate: http.post"
[ "$(posts /investigate-post)" = 0 ] && ok "the refused POST never reached the server" || fail "refused POST reached the server"

# --- dry run, no terminal, --yes
expect_rc "--dry-run exits 0" 0 rb run "$FX" --step "Warm up" --dry-run
contains "dry run says so at the top" "$T_TMP/out" "DRY RUN — nothing will be changed"
contains "dry run says so at the bottom" "$T_TMP/out" "DRY RUN — nothing was changed."
contains "dry run shows the plan" "$T_TMP/out" "1. http.post $BASE/admin/cache/warmup"
[ "$(posts /admin/cache/warmup)" = 0 ] && ok "--dry-run sent no POST" || fail "--dry-run sent a POST"
expect_rc "no terminal and no --yes refuses (exit 3)" 3 setsid "$RUNBOOK" run "$FX" --step "Warm up" --audit "$AUD" --set base="$BASE"
[ "$(posts /admin/cache/warmup)" = 0 ] && ok "refused run sent no POST" || fail "refused run sent a POST"
expect_rc "--yes applies (exit 0)" 0 rb run "$FX" --step "Warm up" --yes
[ "$(posts /admin/cache/warmup)" = 1 ] && ok "--yes sent exactly one POST" || fail "--yes sent $(posts /admin/cache/warmup) POSTs"
grep -q '"event":"intent"' "$AUD" && grep -q '"event":"result"' "$AUD" && ok "intent and result are audited" || fail "no intent/result events"
check "audit verify passes" "$RUNBOOK" audit verify "$AUD"

# --- what was approved is what runs
expect_rc "a write that differs from the plan stops the step (exit 1)" 1 rb run "$FX" --step "Drifting write" --yes
contains "the stop names the unplanned write" "$T_TMP/out" "write not in the approved plan: http.post $BASE/not-planned"
[ "$(posts /not-planned)" = 0 ] && [ "$(posts /planned)" = 0 ] && ok "neither the planned nor the drifted write was sent" || fail "drifted write was sent"

# --- findings and exit 4
expect_rc "--investigate-only with a critical finding exits 4" 4 rb run "$FX" --step Health --investigate-only --set level=11
contains "the critical check is shown" "$T_TMP/out" "[CRIT] level = 11"
expect_rc "--investigate-only without critical findings exits 0" 0 rb run "$FX" --step Health --investigate-only

# --- JSON output and report
expect_rc "--output json exits 0" 0 rb run "$FX" --step Health --output json --report "$T_TMP/report.md"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["steps"][0]["findings"][0]["name"]=="level"' "$T_TMP/out" \
    && ok "--output json prints the run as JSON" || fail "--output json is not the run document"
contains "the report lists findings" "$T_TMP/report.md" "| health status | 200 |"

# --- secrets never leak
TOKEN=tok-CANARY-7f3a91
PASS=pw-CANARY-c0ffee
expect_rc "run with credentials" 0 rb run "$FX" --step Health --set api_token=$TOKEN --set password=$PASS --output json
cat "$T_TMP/out" "$T_TMP/err" "$AUD" >"$T_TMP/all"
lacks "bearer token appears nowhere (stdout, stderr, audit)" "$T_TMP/all" "$TOKEN"
lacks "basic-auth password appears nowhere" "$T_TMP/all" "$PASS"
grep -q "authorization" "$REQ" && ok "the credentials were sent to the server" || fail "no Authorization header sent"
URLPW=url-CANARY-5eed
expect_rc "a password inside a URL param" 0 rb run "$FX" --step Health --set base="http://ops:$URLPW@${BASE#http://}"
cat "$T_TMP/out" "$T_TMP/err" "$AUD" >"$T_TMP/all"
lacks "a password inside a URL param appears nowhere (run_start params included)" "$T_TMP/all" "$URLPW"

# --- prompts on a real pseudo-terminal
prompt_run() { # ANSWERS -> runs Warm up under script(1) feeding ANSWERS
    printf '%s' "$1" | timeout 20 script -qec "$RUNBOOK run $FX --step 'Warm up' --audit $AUD --set base=$BASE" /dev/null >"$T_TMP/pty" 2>&1
}
before=$(posts /admin/cache/warmup)
prompt_run $'n\n'; rc=$?
[ $rc = 3 ] && [ "$(posts /admin/cache/warmup)" = "$before" ] && ok "answering n sends nothing, exit 3" || fail "answer n: rc=$rc"
prompt_run $'s\n'; rc=$?
[ $rc = 0 ] && [ "$(posts /admin/cache/warmup)" = "$before" ] && ok "answering s skips the step, exit 0" || fail "answer s: rc=$rc"
prompt_run $'q\n'; rc=$?
[ $rc = 3 ] && [ "$(posts /admin/cache/warmup)" = "$before" ] && ok "answering q quits, exit 3" || fail "answer q: rc=$rc"
prompt_run $'y\n'; rc=$?
[ $rc = 0 ] && [ "$(posts /admin/cache/warmup)" = $((before + 1)) ] && ok "answering y applies once" || fail "answer y: rc=$rc"
before=$(posts /admin/cache/warmup)
prompt_run $'d\ny\n'; rc=$?
[ $rc = 0 ] && [ "$(posts /admin/cache/warmup)" = $((before + 1)) ] && ok "answering d then y shows details and applies once" || fail "answer d,y: rc=$rc"
contains "details show the arguments" "$T_TMP/pty" 'args: {"body":"{\"scope\":\"all\"}","bytes":15,"content_type":"application\/json"}'
grep -q '"answer":"yes"' "$AUD" && ok "the answer is audited" || fail "answer not audited"
printf 'y\nn\n' | timeout 20 script -qec "$RUNBOOK run $FX --step 'Drifting write' --audit $AUD --set base=$BASE" /dev/null >"$T_TMP/pty" 2>&1; rc=$?
[ $rc = 1 ] && ok "an unplanned write on a terminal stops the step and asks to plan again; n fails it (exit 1)" || fail "drift on a terminal: rc=$rc"
contains "the operator is asked to plan the step again" "$T_TMP/pty" "Plan this step again? [y/n]"
[ "$(posts /not-planned)" = 0 ] && ok "the unplanned write was not sent" || fail "unplanned write sent"

# --- SIGINT stops at a safe point
( rb run "$FX" --step "Slow read" >"$T_TMP/int.out" 2>&1; echo $? >"$T_TMP/int.rc" ) &
sleep 1.5; pkill -INT -f "runbook run $FX --step Slow read" ; wait
[ "$(cat "$T_TMP/int.rc")" = 3 ] && ok "SIGINT exits 3" || fail "SIGINT exit $(cat "$T_TMP/int.rc")"
grep -q '"event":"interrupted"' "$AUD" && ok "interrupted is audited" || fail "interrupted not audited"
check "audit chain still valid after the interrupt" "$RUNBOOK" audit verify "$AUD"

# SIGINT while an approved write is on the wire: it finishes, its result is audited, the run stops
( rb run "$FX" --step "Slow write" --yes >"$T_TMP/int2.out" 2>&1; echo $? >"$T_TMP/int2.rc" ) &
sleep 1.5; pkill -INT -f "runbook run $FX --step Slow write"; wait
[ "$(cat "$T_TMP/int2.rc")" = 3 ] && ok "SIGINT during an approved write exits 3" || fail "SIGINT during a write: exit $(cat "$T_TMP/int2.rc")"
[ "$(posts "/slow?s=3")" = 1 ] && ok "the write on the wire was completed, once" || fail "slow POST count $(posts "/slow?s=3")"
grep '"event":"result"' "$AUD" | grep -F 'slow?s=3' | grep -q '"ok":true' && ok "its result is audited as ok" || fail "no ok result for the interrupted write"

# --- damaged logs are reported by line
n=$(wc -l <"$AUD")
sed '3s/"event":"/"event":"X/' "$AUD" >"$T_TMP/t1"; expect_rc "tampered line: exit 1" 1 "$RUNBOOK" audit verify "$T_TMP/t1"
contains "tampered line is named" "$T_TMP/out" "t1:3:"
sed '4d' "$AUD" >"$T_TMP/t2"; expect_rc "deleted line: exit 1" 1 "$RUNBOOK" audit verify "$T_TMP/t2"
contains "deleted line is named" "$T_TMP/out" "t2:4:"
awk 'NR==5{h=$0;next} NR==6{print;print h;next}1' "$AUD" >"$T_TMP/t3"; expect_rc "reordered lines: exit 1" 1 "$RUNBOOK" audit verify "$T_TMP/t3"
contains "reordered line is named" "$T_TMP/out" "t3:5:"
head -c -20 "$AUD" >"$T_TMP/t4"; expect_rc "truncated line: exit 1" 1 "$RUNBOOK" audit verify "$T_TMP/t4"
contains "truncated line is named" "$T_TMP/out" "t4:$n:"
check "audit show prints a timeline" "$RUNBOOK" audit show "$AUD"

# --- 20 concurrent runs on one audit file
CAUD=$T_TMP/concurrent.jsonl
for i in $(seq 20); do "$RUNBOOK" run "$FX" --step "Warm up" --yes --audit "$CAUD" --set base="$BASE" >/dev/null 2>&1 & done; wait
check "20 concurrent runs leave a valid chain" "$RUNBOOK" audit verify "$CAUD"
[ "$(grep -c '"event":"run_end"' "$CAUD")" = 20 ] && [ "$(grep -c '"event":"result"' "$CAUD")" = 20 ] \
    && ok "every run's events are in the chain" || fail "events missing: $(grep -c run_end "$CAUD") run_end"

# --- load errors and usage
expect_rc "a syntax error exits 2" 2 "$RUNBOOK" run "$ROOT/tests/e2e/fixtures/broken.lua"
contains "the syntax error names file:line" "$T_TMP/err" "broken.lua:5:"
expect_rc "an undeclared global exits 2" 2 "$RUNBOOK" check "$ROOT/tests/e2e/fixtures/global.lua"
contains "the global is named with file:line" "$T_TMP/err" "global.lua:4: assignment to undeclared global 'leaked'"
expect_rc "an unknown section exits 2" 2 env RUNBOOK_PATH="$ROOT/examples" "$RUNBOOK" run nosuch/section
contains "an unknown section is named" "$T_TMP/err" "unknown section 'nosuch/section'"
expect_rc "an unknown param exits 2" 2 rb run "$FX" --set nope=1
contains "the unknown param lists the known ones" "$T_TMP/err" "unknown param 'nope' (params are: api_token, base, level, password)"
expect_rc "an unknown step exits 2" 2 rb run "$FX" --step nope
expect_rc "an unknown option exits 2" 2 "$RUNBOOK" run "$FX" --frobnicate
for c in list show check run audit lua; do expect_rc "runbook $c --help" 0 "$RUNBOOK" $c --help; done
expect_rc "list shows a section file" 0 "$RUNBOOK" list "$FX"
contains "list names the steps" "$T_TMP/out" "Drifting write  [risk: high]"
expect_rc "show describes the section" 0 "$RUNBOOK" show "$FX"
contains "show says what resolve steps change" "$T_TMP/out" "changes its mind between plan and apply"
done_testing
