#!/usr/bin/env bash
# bench/pprof.sh — rb.pprof against its peers, on inputs made by the lab's Go
# program (tests/lab/pprofgo) in a temporary directory:
#  1. a heap profile of BENCH_PPROF_STACKS (500000) distinct stacks, every
#     allocation sampled (>= 20 MB of profile.proto): `runbook lua` parse +
#     top-20 vs `go tool pprof -top -nodecount=20` (goal: >= 10x faster);
#     the two top-20 tables are also compared.
#  2. a debug=2 dump of BENCH_PPROF_GOROUTINES (120000) parked goroutines:
#     grouping by the engine (pprof.goroutines on the open file: streaming,
#     bounded memory) vs `grep -c '^goroutine '` (goal: <= 3x).
# Wall time (ms) and peak RSS (/usr/bin/time) per tool; the go tool runs
# once, the millisecond-scale runs are best of BENCH_REPEAT (5) to damp
# noise from other processes. Prints the ratios. Everything on 127.0.0.1.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNBOOK=${RUNBOOK:-$ROOT/build/runbook}
STACKS=${BENCH_PPROF_STACKS:-500000}
GOROUTINES=${BENCH_PPROF_GOROUTINES:-120000}
REPEAT=${BENCH_REPEAT:-5}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/rb-bench-pprof.XXXXXX")
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
export HOME=$TMP/home GOCACHE=$TMP/gocache GOPROXY=off PPROF_TMPDIR=$TMP/pprof
mkdir -p "$HOME" "$GOCACHE" "$PPROF_TMPDIR"
[ -x "$RUNBOOK" ] || { echo "bench/pprof: build first (make)"; exit 1; }
command -v go >/dev/null || { echo "bench/pprof: go not installed"; exit 1; }

(cd "$ROOT/tests/lab/pprofgo" && go build -o "$TMP/pprofgo" .)
"$TMP/pprofgo" -portfile "$TMP/port" -parked 1 >"$TMP/pprofgo.log" 2>&1 &
PID=$!
for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
URL=http://127.0.0.1:$(cat "$TMP/port")

# run OUT CMD...: one run; sets MS (wall) and KB (peak RSS); stdout to OUT
run() {
    local out=$1; shift
    local t0 t1
    t0=$(date +%s%N)
    /usr/bin/time -f %M -o "$TMP/rss" "$@" >"$out" 2>"$TMP/stderr" || { cat "$TMP/stderr"; exit 1; }
    t1=$(date +%s%N)
    MS=$(( (t1 - t0) / 1000000 )); KB=$(tail -1 "$TMP/rss")
}
# best OUT CMD...: the fastest of REPEAT runs
best() {
    local bms= bkb=
    for _ in $(seq "$REPEAT"); do
        run "$@"
        if [ -z "$bms" ] || [ "$MS" -lt "$bms" ]; then bms=$MS; bkb=$KB; fi
    done
    MS=$bms; KB=$bkb
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b < 1) b = 1; printf "%.1f", a / b }'; }

echo "== pprof: parse + top-20 of a big heap profile"
curl -fsS -m 300 "$URL/bigheap?stacks=$STACKS" >/dev/null
curl -fsS -m 300 -o "$TMP/heap.pb.gz" "$URL/debug/pprof/heap"
GZ=$(wc -c <"$TMP/heap.pb.gz"); RAW=$(gunzip -c "$TMP/heap.pb.gz" | wc -c)
echo "profile: $STACKS stacks, $((RAW / 1048576)) MB profile.proto ($((GZ / 1048576)) MB gzip as served)"
[ "$RAW" -ge $((20 * 1048576)) ] || echo "warning: profile smaller than 20 MB; raise BENCH_PPROF_STACKS"
cat >"$TMP/top.lua" <<'EOF'
local f = assert(io.open(arg[1], "rb")); local bytes = f:read("a"); f:close()
local p = assert(require("rb.pprof").parse(bytes))
for _, r in ipairs(p:top { n = 20 }) do print(r.name .. "\t" .. r.flat .. "\t" .. r.cum) end
EOF
best "$TMP/engine.top" "$RUNBOOK" lua "$TMP/top.lua" "$TMP/heap.pb.gz"
EMS=$MS; EKB=$KB
run "$TMP/go.top" go tool pprof -top -nodecount=20 -unit=B "$TMP/heap.pb.gz"
GMS=$MS; GKB=$KB
awk '/^ *flat  *flat%/ { h = 1; next } h { n = $6; for (i = 7; i <= NF; i++) n = n " " $i
     sub(/ \((partial-)?inline\)$/, "", n); f = $1; c = $4; sub(/B$/, "", f); sub(/B$/, "", c)
     print n "\t" f "\t" c }' "$TMP/go.top" >"$TMP/go.rows"
same=no; cmp -s "$TMP/go.rows" "$TMP/engine.top" && same=yes
printf '%-34s %8s ms %8s MB peak\n' "runbook (parse + top-20)" "$EMS" "$((EKB / 1024))" \
    "go tool pprof -top -nodecount=20" "$GMS" "$((GKB / 1024))"
echo "same top-20 rows as go tool pprof: $same"
echo "ratio: runbook is $(ratio "$GMS" "$EMS")x faster than go tool pprof (goal >= 10x)"

echo "== goroutines: group a debug=2 dump"
curl -fsS -m 300 "$URL/big?goroutines=$GOROUTINES" >/dev/null
curl -fsS -m 300 -o "$TMP/goroutines.txt" "$URL/debug/pprof/goroutine?debug=2"
echo "dump: $(wc -c <"$TMP/goroutines.txt" | awk '{ printf "%d MB", $1 / 1048576 }'), $(grep -c '^goroutine ' "$TMP/goroutines.txt") goroutines"
cat >"$TMP/group.lua" <<'EOF'
local t0 = os.clock()
local d = assert(require("rb.pprof").goroutines(assert(io.open(arg[1]))))
io.stderr:write(("in-engine grouping: %.1f ms CPU\n"):format((os.clock() - t0) * 1000))
print(d.total, #d.groups)
EOF
best "$TMP/engine.g" "$RUNBOOK" lua "$TMP/group.lua" "$TMP/goroutines.txt"
EMS=$MS; EKB=$KB; INNER=$(cat "$TMP/stderr")
best "$TMP/grep.g" grep -c '^goroutine ' "$TMP/goroutines.txt"
printf '%-34s %8s ms %8s MB peak   (%s goroutines in %s groups)\n' "runbook (pprof.goroutines)" "$EMS" \
    "$((EKB / 1024))" $(cat "$TMP/engine.g")
printf '%-34s %8s ms %8s MB peak\n' "grep -c '^goroutine '" "$MS" "$((KB / 1024))"
echo "$INNER; runbook lua startup alone: $(best /dev/null "$RUNBOOK" lua /dev/null; echo "$MS") ms"
[ "$(cut -f1 "$TMP/engine.g")" = "$(cat "$TMP/grep.g")" ] && echo "same goroutine count as grep: yes" \
    || echo "same goroutine count as grep: NO"
echo "ratio: runbook takes $(ratio "$EMS" "$MS")x the time of grep -c (goal <= 3x)"
