#!/usr/bin/env bash
# rb.pprof end to end against the lab's Go program (tests/lab/pprofgo):
# profiles fetched by the engine (pprof.fetch over rb.http) give the same
# top-10 (names, flat and cum values, totals) as `go tool pprof -top` on the
# same bytes, for CPU and for inuse_space, by flat and by cum; goroutine
# totals equal the count the program takes in the same handler; growth
# between two dumps finds exactly the leak injected in between; malformed
# input is a parse error the user can read.
. "$(dirname "$0")/lib.sh"
URL=${RB_TEST_PPROF_URL:-}
if [ -z "$URL" ]; then
    fail "RB_TEST_PPROF_URL not set: the pprof lab service did not start"
    done_testing; exit
fi
# go tool pprof needs a writable HOME/GOCACHE (CI runs as root without one); no network.
export HOME=$T_TMP/home GOCACHE=$T_TMP/gocache GOPROXY=off PPROF_TMPDIR=$T_TMP/pprof
mkdir -p "$HOME" "$GOCACHE" "$PPROF_TMPDIR"
lua() { "$RUNBOOK" lua "$@"; }

# --- scripts the engine runs -----------------------------------------------
cat >"$T_TMP/fetch.lua" <<'EOF'
-- fetch.lua URL KIND OUT [SECONDS]: fetch with rb.pprof, save the raw body
local pprof = require "rb.pprof"
local url, kind, out, seconds = arg[1], arg[2], arg[3], tonumber(arg[4])
local _, body = assert(pprof.fetch(url, kind, { seconds = seconds, debug = 2 }))
local f = assert(io.open(out, "wb")); f:write(body); f:close()
EOF
cat >"$T_TMP/top.lua" <<'EOF'
-- top.lua FILE BY: "total N", "type T", then "name<TAB>flat<TAB>cum" per row
local pprof = require "rb.pprof"
local f = assert(io.open(arg[1], "rb")); local p = assert(pprof.parse(f:read("a"))); f:close()
local rows = p:top { n = 10, by = arg[2] }
print("total\t" .. rows.total); print("type\t" .. rows.sample_type)
for _, r in ipairs(rows) do print(r.name .. "\t" .. r.flat .. "\t" .. r.cum) end
EOF
cat >"$T_TMP/gcount.lua" <<'EOF'
-- gcount.lua URL DEBUG: "<engine total> <program's count>" from one /dump response
local http, pprof = require "rb.http", require "rb.pprof"
local r = assert(http.get(arg[1] .. "/dump?debug=" .. arg[2]))
local d = assert(pprof.goroutines(r.body))
print(d.total, r.headers["x-goroutine-count"] or r.headers["X-Goroutine-Count"])
EOF
cat >"$T_TMP/growth.lua" <<'EOF'
-- growth.lua BEFORE AFTER: one line per group that grew
local pprof = require "rb.pprof"
local function read(p) local f = assert(io.open(p)); local s = f:read("a"); f:close(); return s end
for _, g in ipairs(pprof.goroutine_growth(read(arg[1]), read(arg[2]))) do
  print(("%d %s %s %s"):format(g.delta, g.top, g.state or "-", g.created_by or "-"))
end
EOF

# go tool pprof -top output -> "total N", then "name<TAB>flat<TAB>cum" per row
gotop() { # FILE UNIT [-cum]
    go tool pprof -top -nodecount=10 -unit="$2" ${3:-} "$1" 2>"$T_TMP/gotool.err" | awk -v u="$2" '
        / of .* total/ { t = $0; sub(/.* of /, "", t); sub(/ total.*/, "", t); sub(u "$", "", t); print "total\t" t }
        hdr { name = $6; for (i = 7; i <= NF; i++) name = name " " $i
              sub(/ \((partial-)?inline\)$/, "", name)
              f = $1; c = $4; sub(u "$", "", f); sub(u "$", "", c); print name "\t" f "\t" c }
        /^ *flat  *flat%/ { hdr = 1 }'
}

compare_top() { # NAME FILE UNIT TYPE
    local name=$1 file=$2 unit=$3 type=$4 by
    for by in flat cum; do
        local flag=; [ "$by" = cum ] && flag=-cum
        lua "$T_TMP/top.lua" "$file" "$by" >"$T_TMP/engine.txt" 2>"$T_TMP/engine.err"
        gotop "$file" "$unit" "$flag" >"$T_TMP/go.txt"
        if [ "$(wc -l <"$T_TMP/go.txt")" -lt 6 ]; then
            fail "$name by $by: go tool pprof gave too few rows"; sed 's/^/#   /' "$T_TMP/gotool.err" | head; continue
        fi
        grep -v '^type' "$T_TMP/engine.txt" >"$T_TMP/engine.rows"
        if diff "$T_TMP/go.txt" "$T_TMP/engine.rows" >"$T_TMP/diff.txt"; then
            ok "$name top-10 by $by equals go tool pprof -top $flag ($(($(wc -l <"$T_TMP/go.txt") - 1)) rows, names and values)"
        else
            fail "$name top-10 by $by differs from go tool pprof"; sed 's/^/#   /' "$T_TMP/diff.txt" "$T_TMP/engine.err" | head -30
        fi
    done
    grep -qx "type	$type" "$T_TMP/engine.txt" && ok "$name: default sample type is $type, as pprof's" \
        || fail "$name: default sample type is $(grep '^type' "$T_TMP/engine.txt")"
}

# --- goroutines --------------------------------------------------------------
for debug in 1 2; do
    if out=$(lua "$T_TMP/gcount.lua" "$URL" $debug 2>&1) && set -- $out && [ "$#" = 2 ] && [ "$1" = "$2" ] && [ "$1" -gt 20 ]; then
        ok "debug=$debug: engine counts $1 goroutines, the program reports $2"
    else
        fail "debug=$debug goroutine total: engine/program = $out"
    fi
done

check "fetch goroutine dump (before)" lua "$T_TMP/fetch.lua" "$URL" goroutine "$T_TMP/before.txt"
curl -fsS "$URL/leak?n=7" >/dev/null && sleep 0.3
check "fetch goroutine dump (after a leak of 7)" lua "$T_TMP/fetch.lua" "$URL" goroutine "$T_TMP/after.txt"
lua "$T_TMP/growth.lua" "$T_TMP/before.txt" "$T_TMP/after.txt" >"$T_TMP/growth.txt" 2>&1
if [ "$(cat "$T_TMP/growth.txt")" = "7 main.leakWorker chan receive main.handle.func4" ]; then
    ok "goroutine_growth finds exactly the injected leak (7 in main.leakWorker)"
else
    fail "goroutine_growth: want exactly the leak"; sed 's/^/#   /' "$T_TMP/growth.txt"
fi

# --- CPU and heap profiles vs go tool pprof -----------------------------------
curl -fsS "$URL/burn?seconds=4" >/dev/null
expect_rc "fetch a 2 s CPU profile" 0 lua "$T_TMP/fetch.lua" "$URL" profile "$T_TMP/cpu.pb.gz" 2
contains "progress is shown on stderr while the CPU profile is taken" "$T_TMP/err" "pprof: taking a 2 s CPU profile of $URL"
compare_top "CPU profile" "$T_TMP/cpu.pb.gz" ns cpu
check "fetch a heap profile" lua "$T_TMP/fetch.lua" "$URL" heap "$T_TMP/heap.pb.gz"
compare_top "heap profile" "$T_TMP/heap.pb.gz" B inuse_space
grep -q "main.allocLarge" "$T_TMP/engine.txt" && ok "heap top names main.allocLarge" || fail "main.allocLarge missing from heap top"

cat >"$T_TMP/flame.lua" <<'EOF'
local pprof = require "rb.pprof"
local f = assert(io.open(arg[1], "rb")); local p = assert(pprof.parse(f:read("a"))); f:close()
local svg = assert(p:flamegraph { title = "CPU" })   -- the SVG text: the caller writes it
local out = assert(io.open(arg[2], "w")); out:write(svg); out:close()
EOF
check "flamegraph returns an SVG" lua "$T_TMP/flame.lua" "$T_TMP/cpu.pb.gz" "$T_TMP/cpu.svg"
contains "the SVG shows main.burnSort" "$T_TMP/cpu.svg" "main.burnSort"

# --- what a user sees on bad input -------------------------------------------
head -c 200 "$T_TMP/cpu.pb.gz" >"$T_TMP/cut.pb.gz"
echo 'assert(require("rb.pprof").parse(io.read("a")))' >"$T_TMP/parse.lua"
expect_rc "a truncated profile fails the script (exit 1)" 1 sh -c "'$RUNBOOK' lua '$T_TMP/parse.lua' <'$T_TMP/cut.pb.gz'"
contains "with a parse error naming the problem" "$T_TMP/err" "parse error: pprof: truncated gzip data"
expect_rc "an HTML page is not a profile (exit 1)" 1 sh -c "echo '<html>404</html>' | '$RUNBOOK' lua '$T_TMP/parse.lua'"
contains "and says it is not a profile" "$T_TMP/err" "parse error: pprof:"
done_testing
