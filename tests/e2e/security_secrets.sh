#!/usr/bin/env bash
# Every secret stays secret (issue 11, item 2): canary credentials — a secret
# param, a URL password, basic auth (base64 on the wire), a bearer token —
# are absent from every sink (stdout, stderr, --output json, --report, the
# audit, a plan file, show), in raw, percent-encoded, JSON-escaped and base64
# form, while a three-letter database password (the lab's "tmi") leaves the
# plan's targets readable. Runbook code cannot register a short word to hide
# its own operations.
. "$(dirname "$0")/lib.sh"
BASE=$RB_TEST_HTTP_URL
PGURL=$RB_TEST_TMISIM_PG_URL          # postgresql://tmi:tmi@...: a 3-letter password
D=$T_TMP/sec
mkdir -p "$D"
TOKEN=Canary-Tok-7f3a9c2e1d5b
PASS=Canary-Pw-4e8b1a6c9d
cat >"$D/leak.lua" <<EOF
local rb = require "rb"
local http = require "rb.http"
local pg = require "rb.pg"
local S = rb.section { id = "leak", title = "leak",
  params = { api_token = "", svc = "", db = "", base = "$BASE" } }
S:investigate("use the credentials", function(ctx)
  local c = assert(pg.connect(ctx.params.db))
  local r = assert(c:query("select current_user as u"))
  ctx:note("db user " .. r[1].u .. " via " .. ctx.params.db)
  assert(http.get(ctx.params.base .. "/health", { bearer = ctx.params.api_token }))
  assert(http.get(ctx.params.svc .. "/health"))
  print("token " .. ctx.params.api_token, "svc " .. ctx.params.svc)
  ctx:log("escaped " .. require("rb.json").encode { t = ctx.params.api_token })
end)
S:resolve("restart tmi-api in namespace tmi", { risk = "low", description = "delete a pod" }, function(ctx)
  assert(http.delete(ctx.params.base .. "/api/v1/namespaces/tmi/pods/tmi-api-1", { bearer = ctx.params.api_token }))
end)
return S
EOF
SVC="http://svcuser:$PASS@${BASE#http://}"
AUD=$T_TMP/audit.jsonl
SETS=(--set "api_token=$TOKEN" --set "svc=$SVC" --set "db=$PGURL")
expect_rc "a dry run using every kind of credential exits 0" 0 "$RUNBOOK" run "$D/leak.lua" --dry-run --audit "$AUD" \
    --report "$T_TMP/report.md" "${SETS[@]}"
cp "$T_TMP/out" "$T_TMP/run.out"; cp "$T_TMP/err" "$T_TMP/run.err"
expect_rc "--output json" 0 "$RUNBOOK" run "$D/leak.lua" --dry-run --audit "$AUD" --output json "${SETS[@]}"
cp "$T_TMP/out" "$T_TMP/run.json"
expect_rc "runbook plan writes a plan file" 0 "$RUNBOOK" plan "$D/leak.lua" -o "$T_TMP/plan.json" --audit "$AUD" "${SETS[@]}"
cat "$T_TMP/out" "$T_TMP/err" >"$T_TMP/plan.out"
"$RUNBOOK" show "$D/leak.lua" --set "api_token=$TOKEN" >"$T_TMP/show.out" 2>&1

b64=$(printf 'svcuser:%s' "$PASS" | base64 -w0)
pct=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$TOKEN-x")
for sink in run.out run.err run.json report.md plan.json plan.out audit.jsonl; do
    f=$T_TMP/$sink
    [ -f "$f" ] || { fail "no $sink was written"; continue; }
    bad=""
    for c in "$TOKEN" "$PASS" "$b64" "${pct%-x}"; do grep -qF -- "$c" "$f" && bad="$bad $c"; done
    [ -z "$bad" ] && ok "no canary (raw, percent-encoded, base64) in $sink" || fail "canary in $sink:$bad"
done
lacks "show does not print a secret param" "$T_TMP/show.out" "$TOKEN"
contains "a printed token is shown redacted (the test sees the line)" "$T_TMP/run.out" "token [REDACTED]"
contains "a URL password is redacted by place in free text" "$T_TMP/run.out" "svc http://svcuser:[REDACTED]@"
contains "the short database password leaves the plan readable" "$T_TMP/run.out" "/api/v1/namespaces/tmi/pods/tmi-api-1"
contains "... and the section's title" "$T_TMP/run.out" "restart tmi-api in namespace tmi"
contains "... while the DSN's password is hidden by place" "$T_TMP/run.out" "postgresql://tmi:[REDACTED]@"
contains "the run warns once that the short secret is redacted by place only" "$T_TMP/run.out" "shorter than 8 characters"
grep -q '"section":"leak"' "$AUD" && ok "the audit's section field is readable" || fail "the audit's section is redacted"
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$AUD" && ok "the audit is strict JSON" || fail "the audit is not strict JSON"

# runbook code cannot register a short word as a secret to hide its own operations
cat >"$D/hide.lua" <<EOF
local rb = require "rb"
local http = require "rb.http"
local S = rb.section { id = "hide", title = "hide" }
S:resolve("sneak", { risk = "low", description = "x" }, function(ctx)
  local ok, err = pcall(rb.secret, "delete")
  ctx:note("register 'delete': " .. (ok and "ACCEPTED" or "refused"))
  assert(http.delete("$BASE/pods/victim"))
end)
return S
EOF
expect_rc "a section trying to hide 'delete' runs" 0 "$RUNBOOK" run "$D/hide.lua" --dry-run --audit "$AUD"
lacks "rb.secret refuses a short word" "$T_TMP/out" "ACCEPTED"
contains "the plan still shows the delete" "$T_TMP/out" "http.delete $BASE/pods/victim"
expect_rc "the audit chain verifies" 0 "$RUNBOOK" audit verify "$AUD"
done_testing
