#!/usr/bin/env bash
# bench/startup — how fast the binary starts: `runbook list` over a directory
# of twenty sections vs bare `lua5.4 -e ''`, measured in the same run.
# Prints mean wall time per invocation and the ratio (goal: <= 2x).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNBOOK=${RUNBOOK:-$ROOT/${RB_BUILD:-build}/runbook}
N=${N:-300}
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
for i in $(seq -w 1 20); do
    cat >"$dir/s$i.lua" <<LUA
local rb = require "rb"
local http = require "rb.http"
local S = rb.section { id = "s$i", title = "Section $i", symptoms = { "slow" }, params = { base = "http://127.0.0.1:1" } }
S:investigate("Look $i", function(ctx) assert(http.get(ctx.params.base)) end)
S:resolve("Fix $i", function(ctx) assert(http.post(ctx.params.base)) end, { risk = "low", description = "POST" })
return S
LUA
done
"$RUNBOOK" list "$dir" >/dev/null   # warm the page cache
# time_n COMMAND... -> "WALL_US CPU_US": mean wall and CPU (user+sys of the
# children, from bash's `times`) per run. CPU time is the stable figure on a
# shared 2-core machine; both are printed.
time_n() {
    local t0 t1 cpu
    t0=$(date +%s%N)
    cpu=$( { for _ in $(seq "$N"); do "$@" >/dev/null; done; times; } | tail -1 |
        awk '{ split($1, u, /[ms]/); split($2, s, /[ms]/); print (u[1] * 60 + u[2] + s[1] * 60 + s[2]) }')
    t1=$(date +%s%N)
    echo "$(( (t1 - t0) / N / 1000 )) $(awk -v c="$cpu" -v n="$N" 'BEGIN { printf "%d", c * 1e6 / n }')"
}
read -r lua_w lua_c <<<"$(time_n lua5.4 -e '')"
read -r ver_w ver_c <<<"$(time_n "$RUNBOOK" --version)"
read -r rb_w rb_c <<<"$(time_n "$RUNBOOK" list "$dir")"
printf '%-32s %8s %8s\n' "command (mean of $N)" "wall us" "cpu us"
printf '%-32s %8d %8d\n' "lua5.4 -e ''" "$lua_w" "$lua_c"
printf '%-32s %8d %8d\n' "runbook --version" "$ver_w" "$ver_c"
printf '%-32s %8d %8d\n' "runbook list (20 sections)" "$rb_w" "$rb_c"
awk -v a="$rb_c" -v b="$lua_c" -v aw="$rb_w" -v bw="$lua_w" \
    'BEGIN { printf "ratio list/lua5.4: %.2fx cpu, %.2fx wall (goal <= 2x)\n", a / b, aw / bw }'
