#!/usr/bin/env bash
# lab: httprec
# Red team (issue 10): a hostile runbook author against the world, the ctx
# bridge, the gate and the bounds. Every attack runs through the real CLI and
# its effect is asserted: a request at the recording server, a file outside
# the run directory, the audit, the engine's exit status, memory and time.
# The attacks that worked before their fix say so ("was: ...").
. "$(dirname "$0")/lib.sh"
BASE=$RB_TEST_HTTP_URL
REQ=$RB_TEST_HTTP_LOG
SKIP=$(wc -l <"$REQ")
reqs() { tail -n +$((SKIP + 1)) "$REQ" | grep -c "\"path\": \"$1\"" || true; }
sent() { local n; n=$(reqs "$3"); [ "$n" = "$2" ] && ok "$1" || fail "$1 ($n request(s) to $3, want $2)"; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
# within NAME MS START: the time since START (date +%s%N) is under MS
within() { local ms; ms=$(ms_since "$3"); [ "$ms" -lt "$2" ] && ok "$1 (took $ms ms)" || fail "$1 (took $ms ms)"; }

# file PATH BODY: a runbook file (a section "x" unless BODY returns its own)
file() { mkdir -p "$(dirname "$1")"; printf '%s\n' "$2" >"$1"; }
# loadfile PATH TOPLEVEL: a file whose top level runs TOPLEVEL, then returns a harmless section
loadfile() {
    file "$1" "local rb = require 'rb'
local http = require 'rb.http'
local BASE = '$BASE'
$2
local S = rb.section { id = 'x', title = 'x' }
S:investigate('look', function(ctx) ctx:note('looked') end)
return S"
}
# steps PATH ID BODY: a section whose BODY declares steps on S (http, BASE in scope)
steps() {
    file "$1" "local rb = require 'rb'
local http = require 'rb.http'
local BASE = '$BASE'
local S = rb.section { id = '$2', title = '$2' }
$3
return S"
}
run() { "$RUNBOOK" run "$@" --audit "$T_TMP/audit.jsonl"; }
# vmlimit: caps the address space of the memory attacks, so that a regression
# fails here instead of taking the machine's memory (not under ASan, whose
# shadow memory needs the whole address space)
vmlimit() { grep -qa __asan_init "$RUNBOOK" || ulimit -v 3000000; }

# --- 1. escaping the world ---------------------------------------------------
E=$T_TMP/world
# was: ("").dump was the real string.dump (the string metatable indexed the
# full string library)
loadfile "$E/dump.lua" 'print("dump: " .. tostring(("").dump) .. " upper: " .. ("ab"):upper())'
expect_rc "a file reaching string.dump through a string's methods loads" 0 "$RUNBOOK" list "$E/dump.lua"
contains "... and finds no dump there" "$T_TMP/err" "dump: nil upper: AB"

steps "$E/sweep.lua" sweep '
S:investigate("sweep", function(ctx)
  local names = { "io", "package", "loadfile", "dofile", "debug.getinfo", "debug.sethook", "debug.getregistry",
    "debug.getupvalue", "debug.setmetatable", "string.dump", "os.execute", "os.exit", "os.remove", "os.rename",
    "os.tmpname", "rb._gate", "rb._sys", "rb._audit", "rb._world", "rb._core", "rb.runner", "rb.audit", "rb.ui",
    "rb.testing", "rb.cli", "rb.loader", "rb.sandbox" }
  local function get(root, path)
    local v = root
    for part in path:gmatch("[^.]+") do
      if type(v) ~= "table" and type(v) ~= "string" then return nil end
      local ok, x = pcall(function() return v[part] end)
      if not ok then return nil end
      v = x
    end
    return v
  end
  local function value(f)
    if not f then return nil end
    local ok, v = pcall(f)
    return ok and v or nil
  end
  local routes = {
    env = function(n) return get(_ENV, n) end,
    G = function(n) return get(_G, n) end,
    load_own = function(n) return value(load("return " .. n)) end,
    load_nil_env = function(n) return value(load("return " .. n, "x", "t", nil)) end,
    load_reader = function(n) local done = false
      return value(load(function() if done then return nil end done = true return "return " .. n end)) end,
    require = function(n) local ok, m = pcall(require, n) return ok and m or nil end,
    string_mt = function(n) return get(getmetatable("") or {}, n) end,
    coroutine = function(n) local co = coroutine.wrap(function() return get(_ENV, n) end) return co() end,
    rawget_G = function(n) return rawget(_G, n) end,
  }
  for rname, route in pairs(routes) do
    for _, n in ipairs(names) do
      local ok, v = pcall(route, n)
      if ok and v ~= nil then ctx:note("REACHED " .. n .. " via " .. rname) end
    end
  end
  for _, m in ipairs { "rb", "rb.http", "rb.k8s" } do
    local v = require(m)
    if next(v) ~= nil or rawlen(v) ~= 0 or getmetatable(v) ~= "read-only" then ctx:note("REACHED the raw table of " .. m) end
    for k in pairs(v) do if type(k) == "string" and k:sub(1, 1) == "_" and k ~= "_VERSION" then ctx:note("REACHED " .. m .. "." .. k) end end
  end
  ctx:note("sweep done")
end)'
expect_rc "a step sweeping for engine modules and the full standard library runs" 0 run "$E/sweep.lua"
contains "... to its end" "$T_TMP/out" "sweep done"
lacks "... and reaches none of them by any route" "$T_TMP/out" "REACHED"

# was: S.__index was rb.Section itself: a runbook could rewrite the class of
# every section of its world, and a __gc put there made later sections run
# runbook code as finalizers at close (`runbook list` hung in one)
steps "$E/class.lua" class '
local tries = {
  function() S.__index.investigate = function() end end,
  function() rawset(S.__index, "investigate", function() end) end,
  function() S.__index.__gc = function() end end,
  function() setmetatable(S.__index, {}) end,
  function() getmetatable(S).__index = {} end,
}
S:investigate("tamper", function(ctx)
  for i, f in ipairs(tries) do ctx:note(("class %d: %s"):format(i, pcall(f) and "CHANGED" or "refused")) end
end)'
expect_rc "a step trying to rewrite rb.Section runs" 0 run "$E/class.lua"
lacks "... and changes nothing" "$T_TMP/out" "CHANGED"
contains "... (all five refused)" "$T_TMP/out" "class 5: refused"
loadfile "$E/classgc.lua" 'local first = rb.section { id = "first", title = "first" }
first.__index.__gc = function() pcall(http.get, BASE .. "/class-gc") while true do end end
for i = 1, 3 do rb.section { id = "v" .. i, title = "v" } end'
start=$(date +%s%N)
timeout 60 "$RUNBOOK" list "$E/classgc.lua" >"$T_TMP/out" 2>"$T_TMP/err"; rc=$?
[ $rc = 2 ] && ok "a file giving rb.Section a __gc is refused (exit 2)" || fail "a file giving rb.Section a __gc: exit $rc"
within "... and list ends (no finalizer loops at close)" 20000 "$start"
sent "... the finalizer's read never reached the server" 0 /class-gc

# Two books in one directory: separate worlds, so one book's changes to its
# own modules are not what the other sees.
D=$T_TMP/two
for b in a b; do
    mkdir -p "$D/$b/lib"
    printf 'local rb = require "rb"\nreturn rb.book { id = "book-%s", title = "%s", sections = { "s%s" } }\n' $b $b $b >"$D/$b/book.lua"
    printf 'return { v = "%s" }\n' $b >"$D/$b/lib/shared.lua"
done
file "$D/a/sa.lua" 'local rb = require "rb"
require("shared").v = "PWNED"
pcall(function() getmetatable("").__index.upper = function() return "PWNED" end end)
return rb.section { id = "sa", title = "a" }'
file "$D/b/sb.lua" 'local rb = require "rb"
print("book b sees shared.v = " .. require("shared").v .. ", upper = " .. ("x"):upper())
return rb.section { id = "sb", title = "b" }'
expect_rc "list of a directory with two books loads both" 0 "$RUNBOOK" list "$D"
contains "... and book b sees its own module and string methods, untouched by book a" "$T_TMP/err" "book b sees shared.v = b, upper = X"

# --- 2. the ctx bridge ---------------------------------------------------------
C=$T_TMP/ctx
steps "$C/args.lua" args '
S:investigate("args", function(ctx)
  local cyc = {} cyc.self = cyc
  local deep = {} local d = deep for _ = 1, 100 do d.x = {} d = d.x end
  local meta = setmetatable({ a = 1 }, {
    __index = function() pcall(http.get, BASE .. "/meta-get") return "x" end,
    __pairs = function() pcall(http.get, BASE .. "/meta-get") return next, {}, nil end,
    __tostring = function() pcall(http.get, BASE .. "/meta-get") return "meta" end,
    __len = function() pcall(http.get, BASE .. "/meta-get") return 0 end,
  })
  local cases = { cyclic = cyc, deep = deep, ["function"] = print, thread = coroutine.create(print),
    key = { [{}] = 1 } }
  for name, v in pairs(cases) do
    local ok, err = pcall(ctx.note, ctx, v)
    ctx:note(("arg %s: %s"):format(name, ok and "ACCEPTED" or err:match("argument #1: (.*)") or err))
  end
  ctx:chart { title = "meta", series = { { name = "m", points = meta } } }
  ctx:check { name = "meta", value = 1, warn = 2, detail = "m" }
  pcall(ctx.note, ctx, meta)
  ctx:note("metatables copied")
end)'
expect_rc "a step handing ctx cyclic, deep, function, thread and metatable values runs" 0 run "$C/args.lua"
lacks "... none of the non-data values is accepted" "$T_TMP/out" "ACCEPTED"
contains "... a cycle is named" "$T_TMP/out" "arg cyclic: value contains a cycle"
contains "... so is the depth" "$T_TMP/out" "arg deep: value nested too deeply"
contains "... and a thread" "$T_TMP/out" "arg thread: a thread cannot cross"
contains "... values with metatables cross as plain data" "$T_TMP/out" "metatables copied"
sent "... and the engine's copy ran none of their metamethods (no read sent)" 0 /meta-get

# was: a value referring to one 1 MiB string 100,000 times crossed as
# 100,000 copies: the engine grew to ~100 GB (killed here by the ulimit)
steps "$C/big.lua" big '
S:investigate("big", function(ctx)
  local s = ("x"):rep(1 << 20)
  local t = {} for i = 1, 100000 do t[i] = s end
  local ok, err = pcall(ctx.note, ctx, t)
  ctx:note("shared string: " .. (ok and "ACCEPTED" or err))
  local chunk, n = ("y"):rep(16 << 20), 0
  for i = 1, 40 do
    local ok2, err2 = pcall(ctx.threshold, ctx, chunk .. i)
    if not ok2 then ctx:note(("budget: call %d refused: %s"):format(i, err2)) break end
  end
end)'
start=$(date +%s%N)
( vmlimit; exec /usr/bin/time -f "maxrss %M" "$RUNBOOK" run "$C/big.lua" --audit "$T_TMP/audit.jsonl" ) >"$T_TMP/out" 2>"$T_TMP/err"; rc=$?
[ $rc = 0 ] && ok "a step handing the engine 100 GB of references runs to its end" || { fail "big values: exit $rc"; tail -3 "$T_TMP/err" | sed 's/^/#   /'; }
contains "... the value is refused as too large" "$T_TMP/out" "shared string: "
lacks "... not accepted" "$T_TMP/out" "shared string: ACCEPTED"
rss=$(sed -n 's/^maxrss //p' "$T_TMP/err" | tail -1)
[ -n "$rss" ] && [ "$rss" -lt 1500000 ] && ok "... the engine stayed under 1.5 GB (max RSS $rss KB)" || fail "engine max RSS ${rss:-?} KB"
grep -qE "budget: call ([0-9]|1[0-7]) refused" "$T_TMP/out" && ok "... and a step's total crossing is bounded (256 MiB)" || fail "no bound on a step's total crossing"
within "... in bounded time" 120000 "$start"

# ctx:read_file: only regular files inside the book; a FIFO must not hang it
R=$T_TMP/readbook
mkdir -p "$R"
echo "outside-canary-1" >"$T_TMP/outside.txt"
ln -s "$T_TMP/outside.txt" "$R/link-out"
ln -s /proc/self/environ "$R/environ"
mkfifo "$R/fifo"
echo "inside" >"$R/in.txt"
steps "$R/read.lua" read "
S:investigate('read', function(ctx)
  for _, p in ipairs { 'in.txt', '../outside.txt', '$T_TMP/outside.txt', 'link-out', 'environ', '/proc/self/environ',
      'fifo', '.', 'in.txt/..', 'in.txt\\0/../../outside.txt' } do
    local ok, v, err = pcall(ctx.read_file, ctx, p)
    ctx:note(('read %q: %s'):format(p, ok and (v and ('GOT ' .. v) or ('refused: ' .. tostring(err))) or ('error: ' .. tostring(v))))
  end
end)"
start=$(date +%s%N)
expect_rc "a step reading links, /proc, a FIFO and paths out of its book runs" 0 timeout 60 "$RUNBOOK" run "$R/read.lua" --audit "$T_TMP/audit.jsonl"
within "... without blocking on the FIFO (was: blocked until killed)" 20000 "$start"
contains "... it reads its own file" "$T_TMP/out" "GOT inside"
contains "... a FIFO is not a regular file" "$T_TMP/out" "fifo: not a regular file"
lacks "... nothing outside the book was read" "$T_TMP/out" "outside-canary-1"
lacks "... nor the environment" "$T_TMP/out" "RB_TEST_HTTP_URL"
[ "$(grep -c 'GOT' "$T_TMP/out")" = 1 ] && ok "... only the one file was read" || fail "read more than one file: $(grep GOT "$T_TMP/out" | head -3)"

# ctx:attach names cannot place a file outside the run directory
A=$T_TMP/attach
steps "$A/att.lua" att '
S:investigate("att", function(ctx)
  for _, n in ipairs { "../../../escape-a", "/tmp/escape-b", "x\0../escape-c", "..", "." } do
    pcall(ctx.attach, ctx, { name = n, data = "PWN" })
  end
  ctx:note("attached")
end)'
expect_rc "a step attaching files named with .., / and NUL runs" 0 run "$A/att.lua"
out_of_run=$(find "$T_TMP" -name '*escape*' -not -path "$T_TMP/runs/*" | wc -l)
[ "$out_of_run" = 0 ] && ok "... no file was written outside the run directory" || fail "files outside the run directory: $(find "$T_TMP" -name '*escape*' -not -path "$T_TMP/runs/*")"
[ ! -e /tmp/escape-b ] && ok "... nor at the absolute path" || { fail "/tmp/escape-b written"; rm -f /tmp/escape-b; }

# --- 3. the gate -------------------------------------------------------------
G=$T_TMP/gate
# A coroutine started in the plan pass and resumed in the apply pass: its
# write is matched against the approved plan like any other, and refused.
steps "$G/co.lua" co '
local co
S:resolve("fix", function(ctx)
  if ctx.mode == "plan" then
    co = coroutine.create(function() coroutine.yield() http.post(BASE .. "/co-write", { body = "x" }) end)
    coroutine.resume(co)
  end
  http.post(BASE .. "/planned", { body = "ok" })
  if ctx.mode == "apply" then local ok, err = coroutine.resume(co) if not ok then error(err, 0) end end
end, { risk = "low" })'
run "$G/co.lua" --yes >"$T_TMP/out" 2>"$T_TMP/err"; rc=$?
[ $rc != 0 ] && ok "a write from a coroutine resumed in apply fails the step (exit $rc)" || fail "coroutine write: exit 0"
sent "... the approved write was sent once" 1 /planned
sent "... the coroutine's unplanned write never reached the server" 0 /co-write

# __close handlers run inside the step's window: in a --dry-run, planned only
steps "$G/close.lua" close '
S:resolve("fix", function(ctx)
  local guard <close> = setmetatable({}, { __close = function() http.post(BASE .. "/close-post", { body = "x" }) end })
  http.get(BASE .. "/close-read")
end, { risk = "low" })'
expect_rc "--dry-run of a step writing from a __close handler exits 0" 0 run "$G/close.lua" --dry-run
sent "... the step ran (its read was sent)" 1 /close-read
sent "... the write in __close was planned, not sent" 0 /close-post

# was: text from runbook code reached the terminal raw: a note ending in
# ESC [8m (conceal) hid the plan printed after it, cursor movement redrew
# lines, OSC 52 wrote the clipboard. Every string crossing to the engine as
# text (titles, params, notes, logs, print, errors) has its control
# characters replaced; an attachment's data stays raw.
steps "$G/esc.lua" esc "
print('load \\27[31mred\\27[0m \\194\\155c1')
S:resolve('fix \\27[8m', function(ctx)
  ctx:note('harmless\\27[8m')
  print('log\\27]52;c;cHduZWQ=\\7 \\27[2A\\27[K')
  ctx:attach { name = 'bin\\27', data = '\\27\\0\\1' }
  http.post(BASE .. '/esc-target', { body = 'x' })
  if ctx.mode == 'plan' then error('boom \\27[8m') end
end, { risk = 'low' })"
run "$G/esc.lua" --dry-run >"$T_TMP/out" 2>"$T_TMP/err"
cat "$T_TMP/out" "$T_TMP/err" >"$T_TMP/both"
if grep -q $'\x1b\|\x07\|\xc2\x9b' "$T_TMP/both"; then fail "control characters from runbook code reached the terminal"; grep -n $'\x1b' "$T_TMP/both" | cat -v | head -5 | sed 's/^/#   /'
else ok "no control character from runbook code reaches the terminal (titles, notes, logs, print, errors)"; fi
contains "... the text is still shown, marked" "$T_TMP/out" "note: harmless?[8m"
contains "... so is the write it planned" "$T_TMP/out" "/esc-target"
sent "... which was not sent (dry run)" 0 /esc-target
att=$(find "$T_TMP/runs" -name '*-bin*' | head -1)
[ -n "$att" ] && [ "$(od -An -c "$att" | tr -d ' \n')" = '033\0001' ] && ok "... an attachment's data stays raw" || fail "attachment data changed: $(od -An -c "${att:-/dev/null}")"
steps "$G/title.lua" 'title' "
S:investigate('look \\27[2J', function(ctx) end)"
expect_rc "show of a file with control characters in a title runs" 0 "$RUNBOOK" show "$G/title.lua"
grep -q $'\x1b' "$T_TMP/out" "$T_TMP/err" && fail "... show printed an ESC" || ok "... and prints none of them"

# An error calling itself "interrupted" is just an error
steps "$G/forge.lua" forge '
S:investigate("forge", function(ctx)
  error({ kind = "interrupted", message = "interrupted by a signal" })
end)'
: >"$T_TMP/forge.jsonl"
"$RUNBOOK" run "$G/forge.lua" --audit "$T_TMP/forge.jsonl" >"$T_TMP/out" 2>"$T_TMP/err"; rc=$?
[ $rc != 3 ] && ok "a forged 'interrupted' error does not end the run as interrupted (exit $rc)" || fail "forged interrupt: exit 3"
lacks "... the audit records no interruption" "$T_TMP/forge.jsonl" '"event":"interrupted"'

# --- 4. bounds ---------------------------------------------------------------
B=$T_TMP/bounds
# was: a file that filled its world to the bound aborted the engine (exit
# 134): the engine's own copy-out then failed outside any protected call
file "$B/full.lua" 'local rb = require "rb"
local S = rb.section { id = "full", title = "full" }
local keep = {}
S:investigate("look", function(ctx) ctx:note("kept " .. #keep) end)
local fns = {}
for i = 1, 5000 do fns[i] = function() return keep end end
pcall(function() local n = 1 while true do keep[n] = {} n = n + 1 end end)
S.fns = fns
return S'
expect_rc "a file that fills its world to the bound is listed, the engine does not abort" 0 env RUNBOOK_WORLD_MEMORY_MB=32 "$RUNBOOK" list "$B/full.lua"
expect_rc "... and its step runs" 0 env RUNBOOK_WORLD_MEMORY_MB=32 "$RUNBOOK" run "$B/full.lua" --audit "$T_TMP/audit.jsonl"

# was: the same, returned from a file: the engine grew without bound
file "$B/value.lua" 'local rb = require "rb"
local s = ("x"):rep(1 << 20)
local t = {} for i = 1, 150000 do t[i] = s end
local S = rb.section { id = "value", title = "value" }
S.junk = t
return S'
start=$(date +%s%N)
( vmlimit; exec "$RUNBOOK" list "$B/value.lua" ) >"$T_TMP/out" 2>"$T_TMP/err"; rc=$?
[ $rc = 2 ] && ok "a file whose value is 150 GB of references is refused (exit 2)" || fail "huge value: exit $rc"
contains "... as too large" "$T_TMP/err" "value too large"
within "... quickly" 30000 "$start"

# was: rb.secret registered without bound, and every line the engine writes
# is scanned for every secret: 100,000 of them took a minute to register and
# made each note cost tens of milliseconds
steps "$B/secrets.lua" secrets '
S:investigate("secrets", function(ctx)
  for _ = 1, 5000 do rb.secret("same-secret-value") end
  local ok, err = pcall(function() for i = 1, 100000 do rb.secret(("distinct%07d"):format(i)) end end)
  ctx:note("secrets: " .. (ok and "ALL REGISTERED" or err))
end)'
start=$(date +%s%N)
expect_rc "a step registering 100,000 secrets runs" 0 run "$B/secrets.lua"
contains "... runbook code may register at most 1000 (the same one again does not count)" "$T_TMP/out" "may register at most 1000 secrets"
within "... in bounded time" 20000 "$start"

# interrupt NAME FILE: runs FILE, sends SIGINT once its step has started,
# and asserts the run stops, as interrupted, within 10 s
interrupt() {
    local aud=$T_TMP/int-$RANDOM.jsonl
    "$RUNBOOK" run "$2" --audit "$aud" >"$T_TMP/out" 2>"$T_TMP/err" & local pid=$!
    for _ in $(seq 200); do grep -q "spinning" "$T_TMP/out" 2>/dev/null && break; sleep 0.1; done
    sleep 0.3
    local start; start=$(date +%s%N)
    kill -INT $pid
    for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
    if kill -0 $pid 2>/dev/null; then fail "$1: still running 10 s after SIGINT"; kill -KILL $pid; wait $pid 2>/dev/null; return; fi
    wait $pid; local rc=$?
    [ $rc = 3 ] && ok "$1 (exit 3 after $(ms_since "$start") ms)" || fail "$1 (exit $rc)"
    contains "... audited as interrupted" "$aud" '"event":"interrupted"'
}
spin() { steps "$B/$1.lua" "$1" "S:investigate('spin', function(ctx)
  ctx:note('spinning')
  $2
end)"; }
# was: the stop hook was armed on the world's main thread only
spin co 'coroutine.wrap(function() while true do end end)()'
interrupt "Ctrl-C stops a loop inside a coroutine" "$B/co.lua"
spin copcall 'coroutine.wrap(function() while true do pcall(function() while true do end end) end end)()'
interrupt "Ctrl-C stops a pcall loop inside a coroutine" "$B/copcall.lua"
spin pcall 'while true do pcall(function() while true do end end) end'
interrupt "Ctrl-C stops a pcall loop on the main thread" "$B/pcall.lua"
# was: an error raised by the hook runs message handlers with hooks off, so
# a runbook's xpcall handler that loops was never stopped
spin xpcall 'xpcall(function() while true do end end, function() while true do end end)'
interrupt "Ctrl-C stops a step whose xpcall handler loops" "$B/xpcall.lua"
# was: the same for the __close of a coroutine that died of the stop
spin coclose 'coroutine.wrap(function()
    local guard <close> = setmetatable({}, { __close = function() while true do end end })
    while true do end
  end)()'
interrupt "Ctrl-C stops a step whose dying coroutine's __close loops" "$B/coclose.lua"
# was: Lua's matcher runs in C and never reaches a hook
spin pattern 'local s = ("a"):rep(200000) while true do pcall(string.find, s, ".-.-.-.-b") end'
interrupt "Ctrl-C stops a pattern that backtracks for hours" "$B/pattern.lua"

# Load time: 2 s, also for work done inside one C function (was: hours)
i=0
while IFS= read -r attack; do
    i=$((i + 1))
    loadfile "$B/slow$i.lua" "$attack"
    start=$(date +%s%N)
    timeout 120 "$RUNBOOK" list "$B/slow$i.lua" >"$T_TMP/out" 2>"$T_TMP/err"; rc=$?
    if [ $rc = 2 ] && grep -q "took longer than" "$T_TMP/err"; then ok "load stops: $attack"
    else fail "load of '$attack': exit $rc"; head -3 "$T_TMP/err" | sed 's/^/#   /'; fi
    within "... in bounded time" 60000 "$start"
done <<'ATTACKS'
local s = ("a"):rep(200000) s:find(".-.-.-.-b")
local s = ("a"):rep(100000) s:gsub("a-a-a-b", "")
for _ in ("a"):rep(100000):gmatch("a*a*a*b") do end
local s = ("a"):rep(1e5) s:match("^(a-)(a-)(a-)%1%2%3b")
table.move({}, 1, math.maxinteger - 1, 1, {})
xpcall(function() while true do end end, function() while true do end end)
coroutine.wrap(function() local g <close> = setmetatable({}, { __close = function() while true do end end }) while true do end end)()
local big = ("a"):rep(1e8) local t = {} for i = 1, 300 do t[i] = big end table.sort(t)
local t = {} for i = 1, 2e6 do t[i] = i end while true do table.concat(t, ",") end
ATTACKS

# The world's matcher (strmatch.c) gives Lua 5.4's results: random patterns
# and subjects through find/match/gmatch/gsub, compared with lua5.4's own
cat >"$B/patterns.lua" <<'LUA'
local out = {}
local function ser(...)
  local n = select("#", ...)
  local t = {}
  for i = 1, n do local v = select(i, ...); t[i] = type(v) .. ":" .. (type(v) == "string" and ("%q"):format(v) or tostring(v)) end
  return table.concat(t, ",")
end
local function try(f, ...)
  local r = table.pack(pcall(f, ...))
  if not r[1] then return "ERR " .. ("%q"):format(tostring(r[2])) end
  return ser(table.unpack(r, 2, r.n))
end
math.randomseed(20261129)
local atoms = { "a", "b", ".", "%a", "%d", "%s", "%w", "%A", "[ab]", "[^a]", "[a-c]", "[%a_]", "[]]", "[^]a]", "%%", "%.",
  "(", ")", "()", "%1", "%b()", "%f[%w]", "%f[%W]", "^", "$", "*", "+", "-", "?", "x", "%", "[", "[a-", "%b", "%f", "%z", "1", "-", " " }
local subj_atoms = { "a", "b", "c", "x", " ", "(", ")", "1", "22", "ab", "_", "%", "]", "-", "\0", "é" }
local function rand_from(t, n) local s = {} for i = 1, n do s[i] = t[math.random(#t)] end return table.concat(s) end
for i = 1, 1500 do
  local p = rand_from(atoms, math.random(0, 5))
  local s = rand_from(subj_atoms, math.random(0, 8))
  local init = ({ nil, 1, 2, -1, -3, 0, 10 })[math.random(7)]
  out[#out + 1] = ("%q %q %s"):format(p, s, tostring(init))
  out[#out + 1] = "find " .. try(string.find, s, p, init)
  out[#out + 1] = "mfind " .. try(function() return s:find(p, init) end)
  out[#out + 1] = "pfind " .. try(string.find, s, p, init, true)
  out[#out + 1] = "match " .. try(string.match, s, p, init)
  out[#out + 1] = "gmatch " .. try(function() local r = {} for a, b in string.gmatch(s, p, init) do r[#r + 1] = ser(a, b) if #r > 50 then break end end return table.concat(r, "|") end)
  local repls = { "<%0>", "%1", "%%", "x%2", "%", function(a, b) return b and (a .. b) or nil end, { a = "A", [""] = "E" }, 7 }
  local r = repls[math.random(#repls)]
  out[#out + 1] = "gsub " .. try(string.gsub, s, p, r, ({ nil, 1, 2 })[math.random(3)])
end
local text = table.concat(out, "\n")
print(#text)
print(text)
if require then
  local ok, rb = pcall(require, "rb")
  if ok and type(rb) == "table" and rb.section then return rb.section { id = "fz", title = "fz" } end
end
LUA
if command -v lua5.4 >/dev/null; then
    lua5.4 "$B/patterns.lua" >"$T_TMP/ref" 2>&1
    "$RUNBOOK" list "$B/patterns.lua" >/dev/null 2>"$T_TMP/mine"
    if cmp -s "$T_TMP/ref" "$T_TMP/mine"; then ok "the world's pattern functions agree with Lua 5.4 on $(grep -c '^find' "$T_TMP/ref") random cases"
    else fail "the world's pattern functions differ from Lua 5.4"; diff -a "$T_TMP/ref" "$T_TMP/mine" | head -10 | sed 's/^/#   /'; fi
else ok "# SKIP no lua5.4 to compare the world's pattern functions with"; fi

# Recursion and string bombs are errors, never a crash of the engine
i=0
while IFS= read -r attack; do
    i=$((i + 1))
    loadfile "$B/err$i.lua" "$attack"
    timeout 60 env RUNBOOK_WORLD_MEMORY_MB=256 "$RUNBOOK" list "$B/err$i.lua" >"$T_TMP/out" 2>"$T_TMP/err"; rc=$?
    [ $rc = 2 ] && grep -q "err$i.lua:[0-9]" "$T_TMP/err" && ok "an error, not a crash: $attack ($(head -c 80 "$T_TMP/err" | tr '\n' ' '))" || fail "'$attack': exit $rc"
done <<'ATTACKS'
local function f(n) return 1 + f(n + 1) end f(1)
local t = setmetatable({}, {}) getmetatable(t).__index = function(t, k) return t[k] end local _ = t.x
local function g(s) return (s:gsub(".", g)) end g("ab")
local function h(s) return tostring(setmetatable({}, { __tostring = function() return h() end })) end h()
local s = ("x"):rep(1 << 40)
local s = ("x"):rep(1e8):gsub(".", "%0%0%0%0")
local s = string.format("%099d", 1) .. string.format(("%s"):rep(200), table.unpack({}))
local t = table.concat(setmetatable({}, { __index = function(_, i) return "x" end }), ",", 1, 1e8)
ATTACKS

done_testing
