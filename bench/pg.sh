#!/usr/bin/env bash
# bench/pg.sh — 2,000 queries through rb.pg (`runbook lua`) against a raw libpq
# loop in C (bench/pg_raw.c) and against `psql -c` per query (run 100 times and
# extrapolated to 2,000). Every run is one process and one connection; the
# query is the same parameterized SELECT. rb.pg's query also runs BEGIN READ
# ONLY and ROLLBACK around it, pipelined into the same round trip.
#
# Each figure is the best of ROUNDS (7) alternating runs; psql runs NPSQL (100)
# times. Uses RB_TEST_PG_DSN if set; otherwise starts the lab's PostgreSQL
# (tests/lab/services/pg.sh) in a temporary directory and stops it after.
# Goals: rb.pg <= 1.10x raw; >= 50x faster than psql per query.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNBOOK=${RUNBOOK:-$ROOT/build/runbook}
N=${N:-2000}
NPSQL=${NPSQL:-100}
TMP=$(mktemp -d /tmp/rb-bench-pg.XXXXXX)
chmod 755 "$TMP"
cleanup() {
    [ -n "${OWN_LAB:-}" ] && bash "$ROOT/tests/lab/services/pg.sh" stop "$TMP" >/dev/null 2>&1
    rm -rf "$TMP"
}
trap cleanup EXIT
if [ -z "${RB_TEST_PG_DSN:-}" ]; then
    OWN_LAB=1
    bash "$ROOT/tests/lab/services/pg.sh" start "$TMP" >/dev/null
    . "$TMP/pg.env"
fi
DSN=$RB_TEST_PG_DSN
SQL='SELECT $1::int AS n, relname, relpages, reltuples FROM pg_class WHERE oid = 1259'

cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror $(pkg-config --cflags libpq) "$ROOT/bench/pg_raw.c" \
    $(pkg-config --libs libpq) -o "$TMP/pg_raw"

cat >"$TMP/rbpg.lua" <<LUA
local pg = require "rb.pg"
local dsn, n, sql = ...
n = tonumber(n)
local c = assert(pg.connect(dsn))
local sys = require "rb._sys"
local t0 = sys.clock_ms()
local touched = 0
for i = 0, n - 1 do
  local res = assert(c:query(sql, i))
  for _, row in ipairs(res) do touched = touched + #row.relname + row.n * 0 end
end
io.write(("%.6f\n"):format((sys.clock_ms() - t0) / 1000))
c:close()
LUA

# Rounds alternate raw and rb.pg so both see the same machine load; the best
# round of each is kept (the least disturbed one).
ROUNDS=${ROUNDS:-7}
raw=; rb=
for _ in $(seq 1 "$ROUNDS"); do
    r=$("$TMP/pg_raw" "$DSN" "$N" "$SQL")
    b=$("$RUNBOOK" lua "$TMP/rbpg.lua" "$DSN" "$N" "$SQL")
    raw=$(printf '%s\n%s\n' "${raw:-$r}" "$r" | sort -g | head -1)
    rb=$(printf '%s\n%s\n' "${rb:-$b}" "$b" | sort -g | head -1)
done
t0=$(date +%s.%N)
for i in $(seq 1 "$NPSQL"); do psql -X -q -t "$DSN" -c "SELECT $i::int AS n, relname, relpages, reltuples FROM pg_class WHERE oid = 1259" >/dev/null; done
t1=$(date +%s.%N)
psql_s=$(echo "($t1 - $t0) * $N / $NPSQL" | bc -l)

printf '%-34s %10s %12s\n' "pg: $N queries" seconds "per query"
printf '%-34s %10.3f %10.1f us\n' "raw libpq loop (C)" "$raw" "$(echo "$raw * 1000000 / $N" | bc -l)"
printf '%-34s %10.3f %10.1f us\n' "rb.pg conn:query (runbook lua)" "$rb" "$(echo "$rb * 1000000 / $N" | bc -l)"
printf '%-34s %10.3f %10.1f us   (%d runs, extrapolated)\n' "psql -c per query" "$psql_s" \
    "$(echo "$psql_s * 1000000 / $N" | bc -l)" "$NPSQL"
ratio_raw=$(echo "$rb / $raw" | bc -l)
ratio_psql=$(echo "$psql_s / $rb" | bc -l)
printf 'rb.pg / raw  = %.2fx   (goal <= 1.10x)\n' "$ratio_raw"
printf 'psql / rb.pg = %.0fx   (goal >= 50x)\n' "$ratio_psql"
