#!/usr/bin/env bash
# Saved plans and a second person's approval (issue 14), with two real Unix
# users and their own SSH keys: a high-risk plan needs two approvals;
# self-approval, an edited plan, a changed book, an expired plan, a forged or
# wrongly-namespaced signature are refused with nothing sent; drift of the
# live state stops apply before anything is sent; apply sends exactly the
# approved write once; the audit chain verifies throughout. Effects are read
# on the recording server's request log.
. "$(dirname "$0")/lib.sh"
BASE=$RB_TEST_HTTP_URL
REQ=$RB_TEST_HTTP_LOG
SKIP=$(wc -l <"$REQ")
posts() { tail -n +$((SKIP + 1)) "$REQ" | grep -c "\"method\": \"POST\", \"path\": \"$1\"" || true; }
rcli() { redis-cli -h 127.0.0.1 -p "$RB_TEST_REDIS_PORT" -a "$RB_TEST_REDIS_PASSWORD" --no-auth-warning "$@" >/dev/null; }
digest_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["digest"])' "$1"; }
# edit_plan IN OUT PYTHON: OUT = IN with d (the decoded plan) changed by PYTHON
edit_plan() {
    python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
exec(sys.argv[3])
open(sys.argv[2], "w").write(json.dumps(d, sort_keys=True, separators=(",", ":")))' "$1" "$2" "$3"
}

# A shared directory the author and both approvers can write plans into.
W=$(mktemp -d /tmp/rb-approvals.XXXXXX)
chmod 0777 "$W"   # approvers replace the plan file (rename): not sticky
trap 'rm -rf "$T_TMP" "$W"; for u in rbalice rbbob; do userdel -r $u >/dev/null 2>&1; done' EXIT
for u in rbalice rbbob; do
    id $u >/dev/null 2>&1 || useradd -m -s /bin/bash $u
    su $u -c "rm -f ~/.ssh/id_ed25519*; mkdir -p ~/.ssh; ssh-keygen -q -t ed25519 -N '' -C $u -f ~/.ssh/id_ed25519"
done
ALLOWED=$W/allowed_signers
for u in rbalice rbbob; do echo "$u $(cat /home/$u/.ssh/id_ed25519.pub)" >>"$ALLOWED"; done
printf 'environments: { lab: {} }\nallowed_signers: %s\n' "$ALLOWED" >"$W/config.yaml"
chmod 644 "$W/config.yaml" "$ALLOWED"
export RUNBOOK_CONFIG=$W/config.yaml

# The book: one high-risk POST to a path the step reads from Redis (the live
# state the plan depends on); policy: high needs 2 signed approvals.
B=$W/book
mkdir -p "$B"
printf '%s\n' 'local rb = require "rb"' \
  'return rb.book { id = "apbook", title = "Approvals", sections = { "fix" },' \
  "  params = { base = \"$BASE\", redis = \"\" }," \
  '  policy = { approvals = { low = 0, medium = 1, high = 2 }, signed = true, max_age = "1h" } }' >"$B/book.lua"
printf '%s\n' 'local rb = require "rb"' 'local http = require "rb.http"' 'local redis = require "rb.redis"' \
  'local S = rb.section { id = "fix", title = "Fix" }' \
  'S:resolve("post it", { risk = "high", description = "POST the fix to the path in ap:path" }, function(ctx)' \
  '  local c <close> = assert(redis.connect(ctx.params.redis))' \
  '  local path = assert(c:call("GET", "ap:path"))' \
  '  assert(http.post(ctx.params.base .. path, { body = "fix" }))' \
  'end)' 'return S' >"$B/fix.lua"
chmod -R a+rX "$B"
rcli SET ap:path /approved-post
AUD=$T_TMP/audit.jsonl   # the audit lives in a private directory (refused in a shared one)
RB=$RUNBOOK
R="--set redis=$RB_TEST_REDIS_URL"
approve() { # USER FILE [ANSWER]: USER approves FILE on a pseudo-terminal
    printf '%s\n' "${3:-y}" | timeout 30 su -P "$1" -c "RUNBOOK_CONFIG=$RUNBOOK_CONFIG $RB approve $2" >"$T_TMP/pty" 2>&1
}

expect_rc "runbook plan writes a plan file (exit 0)" 0 $RB plan "$B/fix.lua" -o "$W/p.json" --audit "$AUD" $R
chmod 666 "$W/p.json"
contains "it says the plan needs two approvals" "$T_TMP/out" "needs 2 approval(s) (riskiest step: high)"
lacks "the plan file keeps no secret" "$W/p.json" "$RB_TEST_REDIS_PASSWORD"
[ "$(posts /approved-post)" = 0 ] && ok "planning sent nothing" || fail "planning sent a POST"
expect_rc "show-plan shows it (exit 0)" 0 $RB show-plan "$W/p.json"
contains "show-plan shows the action" "$T_TMP/out" "http.post $BASE/approved-post"
contains "show-plan shows what is missing" "$T_TMP/out" "approvals: 0 of 2 needed"

expect_rc "apply without approvals is refused (exit 3)" 3 $RB apply "$W/p.json" --audit "$AUD" $R
[ "$(posts /approved-post)" = 0 ] && ok "... and sent nothing" || fail "unapproved apply sent a POST"

# self-approval: a plan rbalice made cannot be approved by her
su rbalice -c "RUNBOOK_CONFIG=$RUNBOOK_CONFIG $RB plan $B/fix.lua -o $W/alice.json --audit /home/rbalice/audit.jsonl $R" >/dev/null 2>&1
approve rbalice "$W/alice.json"
contains "the author cannot approve her own plan" "$T_TMP/pty" "the policy does not let its author approve it"
[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["approvals"]))' "$W/alice.json")" = 0 ] \
    && ok "no self-approval was recorded" || fail "self-approval was recorded"

approve rbalice "$W/p.json" n
contains "answering n approves nothing" "$T_TMP/pty" "not approved"
approve rbalice "$W/p.json"
contains "rbalice approves (signed)" "$T_TMP/pty" "approved by rbalice (signed)"
expect_rc "one approval is not enough (exit 3)" 3 $RB apply "$W/p.json" --audit "$AUD" $R
contains "... it says 1 of 2" "$T_TMP/out" "approvals: 1 of 2 needed"
[ "$(posts /approved-post)" = 0 ] && ok "... and sent nothing" || fail "half-approved apply sent a POST"
cp "$W/p.json" "$W/twice.json"; chmod 666 "$W/twice.json"
approve rbalice "$W/twice.json"
expect_rc "a second approval by the same person does not count" 3 $RB apply "$W/twice.json" --audit "$AUD" $R
contains "... and says why" "$T_TMP/out" "a second approval by the same person"

# a forged approval: rbbob's name on rbalice's signature
edit_plan "$W/p.json" "$W/forged.json" 'a = dict(d["approvals"][0]); a["user"] = "rbbob"; d["approvals"].append(a)'
expect_rc "a forged signature does not count (exit 3)" 3 $RB apply "$W/forged.json" --audit "$AUD" $R
contains "... it does not verify for rbbob" "$T_TMP/out" "signature does not verify for rbbob"
# rbbob's real signature, made in another namespace (as for a git commit)
printf 'runbook-plan %s\n' "$(digest_of "$W/p.json")" >"$W/msg"; chmod 644 "$W/msg"
su rbbob -c "ssh-keygen -q -Y sign -f ~/.ssh/id_ed25519 -n git -O hashalg=sha512 $W/msg" </dev/null
edit_plan "$W/p.json" "$W/ns.json" "d['approvals'].append({'user':'rbbob','host':'x','at':'now','digest':d['digest'],'signature':open('$W/msg.sig').read()})"
expect_rc "a signature in another namespace does not count (exit 3)" 3 $RB apply "$W/ns.json" --audit "$AUD" $R
contains "... it does not verify" "$T_TMP/out" "signature does not verify for rbbob"

# an edited plan: the risk lowered after approval
edit_plan "$W/p.json" "$W/edited.json" 'd["steps"][0]["risk"] = "low"'
expect_rc "an edited plan is refused (exit 3)" 3 $RB apply "$W/edited.json" --audit "$AUD" $R
contains "... as changed after it was made" "$T_TMP/err" "the plan was changed after it was made"

approve rbbob "$W/p.json"
contains "rbbob approves (signed)" "$T_TMP/pty" "approved by rbbob (signed)"
expect_rc "show-plan: both approvals count" 0 $RB show-plan "$W/p.json"
contains "... 2 of 2" "$T_TMP/out" "approvals: 2 of 2 needed"

expect_rc "apply without the secret param is refused (exit 3)" 3 $RB apply "$W/p.json" --audit "$AUD"
contains "... naming the param" "$T_TMP/err" "param 'redis' is a secret the plan does not keep"

# drift: the live state the plan read has changed since it was approved
rcli SET ap:path /drifted-post
expect_rc "drift stops apply (exit 3)" 3 $RB apply "$W/p.json" --audit "$AUD" $R
contains "... saying exactly what differs" "$T_TMP/out" "now:      http.post $BASE/drifted-post"
[ "$(posts /drifted-post)" = 0 ] && ok "... with nothing sent" || fail "drifted apply sent a POST"
rcli SET ap:path /approved-post

# a changed book
cp "$B/book.lua" "$W/book.lua.orig"
echo "-- changed" >>"$B/book.lua"
expect_rc "after the book changed, apply is refused (exit 3)" 3 $RB apply "$W/p.json" --audit "$AUD" $R
contains "... saying the book changed" "$T_TMP/err" "the book changed since the plan was made"
cp "$W/book.lua.orig" "$B/book.lua"

# an expired plan (its digest recomputed, as an attacker with the file could)
edit_plan "$W/p.json" "$W/expired.json" 'd["expires_unix"] = 1'
expect_rc "a plan edited to another expiry is refused (exit 3)" 3 $RB apply "$W/expired.json" --audit "$AUD" $R
[ "$(posts /approved-post)" = 0 ] && ok "nothing was sent by any refused apply" || fail "a refused apply sent a POST"

expect_rc "apply of the approved plan (exit 0)" 0 $RB apply "$W/p.json" --audit "$AUD" $R
[ "$(posts /approved-post)" = 1 ] && ok "apply sent exactly the approved POST once" || fail "apply sent $(posts /approved-post) POSTs"
contains "... approved by both" "$T_TMP/out" "approved by rbalice, rbbob"
grep -q "\"plan\":\"$(digest_of "$W/p.json")\"" "$AUD" && ok "the audit links the plan digest" || fail "the audit does not name the plan"
python3 -c 'import json,sys
ev = [json.loads(l) for l in open(sys.argv[1])]
s = [e for e in ev if e["event"] == "run_start" and e.get("approvals")]
assert s and sorted(a["user"] for a in s[-1]["approvals"]) == ["rbalice", "rbbob"] and all(a["signed"] for a in s[-1]["approvals"])' "$AUD" \
    && ok "the audit records who approved, signed" || fail "the approvals are not in the audit"
expect_rc "the audit chain verifies" 0 $RB audit verify "$AUD"

# policy on interactive runs: a high step cannot be approved by --yes alone
expect_rc "run --yes of a step that needs approvals is refused (exit 3)" 3 $RB run "$B/fix.lua" --yes --audit "$AUD" $R
contains "... saying how to get them" "$T_TMP/out" "runbook approve PLAN.json"
[ "$(posts /approved-post)" = 1 ] && ok "... and sent nothing more" || fail "run --yes bypassed the policy"
# a low-risk plan needs no approval by others (policy low = 0): apply says so
sed 's/risk = "high"/risk = "low"/; s/id = "fix"/id = "low"/; s/body = "fix"/body = ("x"):rep(600) .. "END-OF-BODY"/' \
    "$B/fix.lua" | sed 's|^  assert(http.post|  ctx:log("posting to " .. path); ctx:check { name = "pool", value = 1, warn = 5 }\n&|' >"$B/low.lua"
sed -i 's/sections = { "fix" }/sections = { "fix", "low" }/' "$B/book.lua"
rcli SET ap:path /low-post
expect_rc "a low-risk plan (exit 0)" 0 $RB plan "$B/low.lua" -o "$W/low.json" --audit "$AUD" $R
expect_rc "show-plan of a plan with a long body (exit 0)" 0 $RB show-plan "$W/low.json"
contains "... shows the args in full (a reader has no prompt to ask for more)" "$T_TMP/out" 'END-OF-BODY"'
lacks "... nothing cut" "$T_TMP/out" "more bytes"
expect_rc "... applies without approvals (exit 0)" 0 $RB apply "$W/low.json" --audit "$AUD" $R
contains "... saying none by others was needed, not 'approved by' nobody" "$T_TMP/out" "needs no approval by others (policy): applied as saved"
! grep -qE "approved by *$" "$T_TMP/out" && ok "... no empty approver" || fail "an empty 'approved by'"
[ "$(posts /low-post)" = 1 ] && ok "... and sent its POST once" || fail "low plan sent $(posts /low-post) POSTs"
# apply plans each step quietly first (drift) before its own pass: the step's log and check once, under its header
[ "$(grep -c "posting to /low-post" "$T_TMP/out")" = 1 ] && ok "... its log is shown once" \
    || fail "log shown $(grep -c "posting to /low-post" "$T_TMP/out") times"
awk '/== Resolve: post it/ { h = NR } /posting to \/low-post/ { l = NR } END { exit !(h && l > h) }' "$T_TMP/out" \
    && ok "... under the step's header" || { fail "log before the step header"; sed 's/^/#   /' "$T_TMP/out" | head -12; }
[ "$(grep -c "pool" "$T_TMP/out")" = 1 ] && ok "... and its check once" || fail "check shown $(grep -c pool "$T_TMP/out") times"
rcli DEL ap:path
done_testing
