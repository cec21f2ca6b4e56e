#!/usr/bin/env bash
# Runbook code holds no authority (issue 10): hostile runbook files attempt
# each attack through the real CLI, and every test asserts the effect — no
# marker file created, no request reached the recording server, the audit
# file unchanged and its chain valid — not only an error message.
. "$(dirname "$0")/lib.sh"
BASE=$RB_TEST_HTTP_URL
REQ=$RB_TEST_HTTP_LOG
AUD=$T_TMP/audit.jsonl
MARK=$T_TMP/pwned
SKIP=$(wc -l <"$REQ")
reqs() { tail -n +$((SKIP + 1)) "$REQ" | grep -c "\"path\": \"$1\"" || true; }
no_marker() { if [ -e "$MARK" ]; then fail "$1 (marker file created)"; rm -f "$MARK"; else ok "$1"; fi; }
none_sent() { local n; n=$(reqs "$2"); [ "$n" = 0 ] && ok "$1" || fail "$1 ($n request(s) to $2 reached the server)"; }

# section FILE ID BODY: a section file whose top level runs BODY, with a harmless step
section() {
    mkdir -p "$(dirname "$1")"
    cat >"$1" <<EOF
local rb = require "rb"
local http = require "rb.http"
local BASE, MARK = "$BASE", "$MARK"
$3
local S = rb.section { id = "$2", title = "$2", params = { base = BASE } }
S:investigate("look", function(ctx) ctx:note("looked") end)
return S
EOF
}

# --- 1. load time: list/check/show run no code with authority --------------
L=$T_TMP/load
i=0
while IFS= read -r attack; do
    i=$((i + 1))
    section "$L/a$i.lua" "a$i" "$attack"
done <<'ATTACKS'
os.execute("touch " .. MARK)
io.popen("touch " .. MARK)
io.open(MARK, "w"):write("x")
require("rb.runner"); os.execute("touch " .. MARK)
require("rb._sys").prompt("x")
require("rb._gate").set_mode("free")
require("rb.loader"); require("rb.ui"); require("rb.audit")
package.loadlib("libc.so.6", "system")
debug.getregistry()
debug.getupvalue(require("rb").section, 1)
load(string.dump(function() end), "x", "b")
dofile("/etc/hostname")
loadfile("/etc/hostname")
getmetatable("").__index.rep = nil
http.post(BASE .. "/load-post")
setmetatable({}, { __gc = function() http.post(BASE .. "/gc-post") end })
require("rb.pg").connect("postgresql://127.0.0.1:1/x")
ATTACKS
for j in $(seq 1 $i); do
    "$RUNBOOK" list "$L/a$j.lua" >"$T_TMP/out" 2>"$T_TMP/err"; rc=$?
    if [ $rc = 2 ] && grep -q "a$j.lua:" "$T_TMP/err"; then ok "list refuses attack $j with file:line ($(head -c 90 "$T_TMP/err" | tr '\n' ' '))"
    else fail "list of attack $j: exit $rc"; sed 's/^/#   /' "$T_TMP/err" "$T_TMP/out" | head -5; fi
done
"$RUNBOOK" check "$L" >"$T_TMP/out" 2>&1
"$RUNBOOK" show "$L/a1.lua" >"$T_TMP/out" 2>&1
no_marker "no attack at load time created a file (list, check, show)"
none_sent "a write at load time never reached the server" /load-post
"$RUNBOOK" list "$L" >/dev/null 2>&1   # collected with everything else: any __gc runs at close
none_sent "a __gc finalizer never sent its write" /gc-post

# A file that never returns, or grows without bound, is stopped in bounded time.
section "$L/spin/s.lua" spin 'while true do end'
start=$(date +%s%N)
expect_rc "a file that loops forever is refused (exit 2)" 2 "$RUNBOOK" list "$L/spin/s.lua"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $ms -lt 5000 ] && ok "... within 5 s (took $ms ms)" || fail "a looping file took $ms ms"
contains "... saying it took too long" "$T_TMP/err" "took longer than"
section "$L/bomb/b.lua" bomb 'local big = ("x"):rep(512 * 1024 * 1024)'
expect_rc "a file that asks for more memory than a world may hold is refused (exit 2)" 2 env RUNBOOK_WORLD_MEMORY_MB=64 "$RUNBOOK" list "$L/bomb/b.lua"
contains "... with a memory error" "$T_TMP/err" "not enough memory"
section "$L/bomb2/b.lua" bomb2 'local t = {} for k = 1, 1e9 do t[k] = ("x"):rep(64) .. k end'
start=$(date +%s%N)
expect_rc "a file that grows a table without bound is refused (exit 2)" 2 env RUNBOOK_WORLD_MEMORY_MB=64 "$RUNBOOK" list "$L/bomb2/b.lua"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $ms -lt 8000 ] && ok "... within 8 s (took $ms ms)" || fail "a growing file took $ms ms"

# --- 2. shared tables: one runbook cannot change what another sees ---------
B=$T_TMP/book
mkdir -p "$B"
cat >"$B/book.lua" <<'EOF'
local rb = require "rb"
return rb.book { id = "shared", title = "Shared", sections = { "evil", "victim" } }
EOF
cat >"$B/evil.lua" <<'EOF'
local rb = require "rb"
local http = require "rb.http"
local tries = {
  function() string.upper = function() return "PWNED" end end,
  function() rawset(string, "upper", function() return "PWNED" end) end,
  function() getmetatable("").__index.upper = function() return "PWNED" end end,
  function() http.get = function() return "PWNED" end end,
  function() rawset(http, "get", function() return "PWNED" end) end,
  function() rb.section = function() error("PWNED") end end,
  function() table.concat = function() return "PWNED" end end,
  function() setmetatable(http, { __index = function() return "PWNED" end }) end,
}
local S = rb.section { id = "evil", title = "evil" }
S:investigate("tamper", function(ctx)
  for i, f in ipairs(tries) do
    local ok, err = pcall(f)
    ctx:note(("tamper %d: %s"):format(i, ok and "CHANGED" or "refused"))
  end
end)
return S
EOF
cat >"$B/victim.lua" <<'EOF'
local rb = require "rb"
local http = require "rb.http"
local S = rb.section { id = "victim", title = "victim" }
S:investigate("look", function(ctx)
  ctx:note("upper: " .. ("abc"):upper() .. " " .. string.upper("abc"))
  ctx:note("concat: " .. table.concat({ "a", "b" }, "+"))
  ctx:note("get is " .. type(http.get))
end)
return S
EOF
expect_rc "the tampering section runs (its attempts are refused)" 0 "$RUNBOOK" run "$B/evil.lua" --audit "$AUD"
lacks "no tampering succeeded" "$T_TMP/out" "CHANGED"
expect_rc "the other section of the book runs" 0 "$RUNBOOK" run "$B/victim.lua" --audit "$AUD"
contains "it sees string.upper unchanged" "$T_TMP/out" "upper: ABC ABC"
contains "it sees table.concat unchanged" "$T_TMP/out" "concat: a+b"
contains "it sees rb.http.get unchanged" "$T_TMP/out" "get is function"

# --- 3. authority lives in the engine ---------------------------------------
W=$T_TMP/steps
mkdir -p "$W"
cat >"$W/grab.lua" <<EOF
local rb = require "rb"
local http = require "rb.http"
local S = rb.section { id = "grab", title = "grab", params = { base = "$BASE" } }
S:investigate("reach for the engine", function(ctx)
  local found = {}
  for _, k in ipairs { "_run", "_step", "run", "runner", "gate", "alog", "out" } do
    if rawget(ctx, k) ~= nil then found[#found + 1] = k end
  end
  ctx:note("ctx engine fields: " .. (#found == 0 and "none" or table.concat(found, ",")))
  ctx:note("ctx metatable: " .. tostring(getmetatable(ctx)))
  for _, m in ipairs { "rb._gate", "rb.runner", "rb.audit", "rb.ui", "rb._sys", "rb._audit", "rb._world", "rb.testing" } do
    ctx:note(m .. ": " .. (pcall(require, m) and "REACHED" or "unreachable"))
  end
end)
S:resolve("post", function(ctx)
  local ok = pcall(function() require("rb._gate").confirm() end)
  assert(http.post(ctx.params.base .. "/dry-post", { body = "x" }))
  local e = setmetatable({}, { __tostring = function()
    pcall(http.post, ctx.params.base .. "/tostring-post", { body = "y" })
    return "custom error"
  end })
  if ctx.mode == "apply" then error(e) end
end, { risk = "low" })
return S
EOF
expect_rc "--dry-run of a step that reaches for the gate exits 0" 0 "$RUNBOOK" run "$W/grab.lua" --dry-run --audit "$AUD"
contains "ctx carries no engine fields" "$T_TMP/out" "ctx engine fields: none"
contains "ctx's metatable is protected" "$T_TMP/out" "ctx metatable: rb.Ctx"
lacks "no engine module was reachable from a step" "$T_TMP/out" "REACHED"
none_sent "--dry-run sent no write although the step tried to approve its own plan" /dry-post
none_sent "... nor from an error object's __tostring" /tostring-post
lacks "the audit records no approval nobody gave" "$AUD" '"answer":"yes'
expect_rc "investigate-only refuses the write of an error's __tostring too" 0 "$RUNBOOK" run "$W/grab.lua" --investigate-only --audit "$AUD"
none_sent "... nothing reached the server" /tostring-post

# --- 4. files: runbook code writes none, reads only the book's own ----------
F=$T_TMP/files
mkdir -p "$F/sub"
echo "secret-outside" >"$T_TMP/outside.txt"
echo "shipped" >"$F/sub/manifest.yaml"
cp "$AUD" "$T_TMP/audit.before" 2>/dev/null || : >"$T_TMP/audit.before"
cat >"$F/files.lua" <<EOF
local rb = require "rb"
local S = rb.section { id = "files", title = "files" }
S:investigate("files", function(ctx)
  ctx:note("io: " .. tostring(rawget(_ENV, "io")))
  ctx:note("os.remove: " .. tostring(os.remove))
  ctx:note("shipped: " .. tostring(ctx:read_file("sub/manifest.yaml")))
  ctx:note("outside: " .. tostring(ctx:read_file("../outside.txt")))
  ctx:note("absolute: " .. tostring(ctx:read_file("$T_TMP/outside.txt")))
  local ok = pcall(function() io.open("$AUD", "w") end)
  ctx:note("audit open: " .. (ok and "OPENED" or "refused"))
end)
return S
EOF
sum_before=$(sha256sum "$AUD" | cut -d' ' -f1)
expect_rc "a step that reaches for files runs" 0 "$RUNBOOK" run "$F/files.lua" --audit "$T_TMP/other-audit.jsonl"
contains "runbook code has no io" "$T_TMP/out" "io: nil"
contains "nor os.remove" "$T_TMP/out" "os.remove: nil"
contains "it reads a file shipped in its directory" "$T_TMP/out" "shipped: shipped"
lacks "it cannot read outside its directory" "$T_TMP/out" "secret-outside"
lacks "it could not open the audit file" "$T_TMP/out" "OPENED"
[ "$(sha256sum "$AUD" | cut -d' ' -f1)" = "$sum_before" ] && ok "the audit file is unchanged" || fail "the audit file changed"
expect_rc "the audit chain verifies" 0 "$RUNBOOK" audit verify "$AUD"

# --- 5. print from runbook code passes through the redactor ------------------
cat >"$F/leak.lua" <<'EOF'
local rb = require "rb"
local S = rb.section { id = "leak", title = "leak", params = { api_token = "" } }
S:investigate("leak", function(ctx) print("token is " .. ctx.params.api_token) end)
return S
EOF
expect_rc "a step printing a secret param runs" 0 "$RUNBOOK" run "$F/leak.lua" --set api_token=CANARY-7f3a9c2e1d --audit "$T_TMP/leak.jsonl"
lacks "the secret is not on stdout" "$T_TMP/out" "CANARY-7f3a9c2e1d"
lacks "nor on stderr" "$T_TMP/err" "CANARY-7f3a9c2e1d"
lacks "nor in the audit" "$T_TMP/leak.jsonl" "CANARY-7f3a9c2e1d"
contains "the line is printed redacted" "$T_TMP/out" "token is [REDACTED]"
done_testing
