#!/usr/bin/env bash
# bench/redis.sh — 10,000 Redis commands (SET/GET alternating, one round
# trip each) through rb.redis (`runbook lua`) and through a raw hiredis C loop
# (bench/redis_raw.c), on a Redis 7 started here on 127.0.0.1 (the lab's
# service script). Best of 7 runs each, interleaved; prints the ratio
# (goal: rb.redis <= 1.10x raw).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNBOOK=${RUNBOOK:-$ROOT/build/runbook}
N=${N:-10000}
RUNS=${RUNS:-7}
TMP=$(mktemp -d /tmp/rb-bench-redis.XXXXXX)
trap 'bash "$ROOT/tests/lab/services/redis.sh" stop "$TMP" >/dev/null 2>&1; rm -rf "$TMP"' EXIT
[ -x "$RUNBOOK" ] || { echo "no $RUNBOOK: run make first" >&2; exit 1; }

cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror $(pkg-config --cflags hiredis) "$ROOT/bench/redis_raw.c" \
    $(pkg-config --libs hiredis) -o "$TMP/redis_raw"
bash "$ROOT/tests/lab/services/redis.sh" start "$TMP" >/dev/null
set -a; . "$TMP/redis.env"; set +a

cat >"$TMP/bench.lua" <<'LUA'
local redis = require "rb.redis"
local sys = require "rb._sys"
local n = tonumber(arg[1])
local c = assert(redis.connect(os.getenv("RB_TEST_REDIS_URL")))
assert(c:call("SET", "bench:key", "value"))     -- COMMAND INFO once per name, before timing
assert(c:call("GET", "bench:key"))
local call = c.call
local t0 = sys.clock_ms()
for i = 1, n do
  local r, err
  if i % 2 == 0 then r, err = call(c, "GET", "bench:key") else r, err = call(c, "SET", "bench:key", "value") end
  if not r then error(err) end
end
print(string.format("%.6f", (sys.clock_ms() - t0) / 1000))
LUA

best_raw=""; best_rb=""
min() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b + 0 < a + 0) ? b : a }'; }
for i in $(seq 1 "$RUNS"); do
    raw=$("$TMP/redis_raw" 127.0.0.1 "$RB_TEST_REDIS_PORT" "$RB_TEST_REDIS_PASSWORD" "$N")
    rb=$("$RUNBOOK" lua "$TMP/bench.lua" "$N")
    best_raw=$(min "$best_raw" "$raw"); best_rb=$(min "$best_rb" "$rb")
done
awk -v n="$N" -v raw="$best_raw" -v rb="$best_rb" 'BEGIN {
    printf "redis: %d commands (SET/GET), best of runs\n", n
    printf "  raw hiredis loop  %8.3f s  %7.1f us/command\n", raw, raw * 1e6 / n
    printf "  rb.redis          %8.3f s  %7.1f us/command\n", rb, rb * 1e6 / n
    printf "  ratio rb.redis / raw = %.3fx (goal <= 1.10x)\n", rb / raw
}'
