#!/usr/bin/env bash
# bench/prom.sh — 20 independent PromQL queries (the seed's, on the lab's
# backfilled hour) three ways, one run each:
#   query_many   rb.prom query_many: one batch on libcurl multi
#   sequence     the same 20 through rb.prom query, one after another
#   curl         20 `curl` processes one after another, as the seed does
# and prints wall(query_many) / max(single query) (goal <= 1.5), once against
# the local server and once through a proxy that adds a network round trip.
# Starts its own lab Prometheus (tests/lab/services/prom.sh) on 127.0.0.1.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
RUNBOOK=${RUNBOOK:-$ROOT/build/runbook}
[ -x "$RUNBOOK" ] || { echo "no $RUNBOOK: run make first" >&2; exit 2; }
LAB=$(mktemp -d /tmp/rb-bench.XXXXXX)
trap 'bash tests/lab/services/prom.sh stop "$LAB"; rm -rf "$LAB"' EXIT
bash tests/lab/services/prom.sh start "$LAB" >/dev/null
set -a; . "$LAB/prom.env"; set +a

# The 20 queries, one a line, and their evaluation time.
python3 - "$RB_TEST_PROM_EXPECTED" >"$LAB/queries" <<'EOF'
import json, sys
e = json.load(open(sys.argv[1]))
print(e["eval_time"])
for c in e["instant"][:20]:
    print(c["query"])
EOF

cat >"$LAB/bench.lua" <<'EOF'
local prom = require "rb.prom"
local clock = require("rb._sys").clock_ms
local lines = {}
for l in io.lines(arg[1]) do lines[#lines + 1] = l end
local time = tonumber(table.remove(lines, 1))
local c = prom.client(os.getenv("RB_TEST_PROM_URL"))
-- warm the connections both ways use (a batch opens one per query)
assert(c:query("up"))
local warm = {}
for i = 1, #lines do warm[i] = "up" end
c:query_many(warm)
local t0 = clock()
local res, errs = c:query_many(lines, { time = time })
local many = clock() - t0
for i = 1, #lines do assert(res[i], tostring(errs[i])) end
local max_single, seq = 0, clock()
for _, q in ipairs(lines) do
  local t = clock()
  assert(c:query(q, { time = time }))
  max_single = math.max(max_single, clock() - t)
end
seq = clock() - seq
print(("%d %.3f %.3f %.3f"):format(#lines, many, seq, max_single))
EOF

# run_case LABEL URL: the three ways against one server URL
run_case() {
    local label=$1 url=$2 n many seq max start curl_ms
    read -r n many seq max < <(RB_TEST_PROM_URL=$url "$RUNBOOK" lua "$LAB/bench.lua" "$LAB/queries")
    local t; t=$(head -1 "$LAB/queries")
    start=$(date +%s%N)
    tail -n +2 "$LAB/queries" | while IFS= read -r q; do
        curl -sf -G "$url/api/v1/query" --data-urlencode "query=$q" --data-urlencode "time=$t" >/dev/null
    done
    curl_ms=$(echo "($(date +%s%N) - $start) / 1000000" | bc -l)
    printf '%s: %d independent queries\n' "$label" "$n"
    printf '  query_many (one batch)      %8.1f ms\n' "$many"
    printf '  rb.prom query, in sequence  %8.1f ms\n' "$seq"
    printf '  curl processes, in sequence %8.1f ms\n' "$curl_ms"
    printf '  slowest single query        %8.1f ms\n' "$max"
    printf '  ratio wall(query_many) / max(single query) = %.2f (goal <= 1.5)\n' "$(echo "$many / $max" | bc -l)"
}

# A Prometheus one network round trip away: every request held DELAY_MS.
DELAY_MS=${DELAY_MS:-50}
python3 tests/lab/prom/delay.py "$RB_TEST_PROM_URL" "$DELAY_MS" "$LAB/delay.port" &
DELAY_PID=$!
trap 'kill $DELAY_PID 2>/dev/null; bash tests/lab/services/prom.sh stop "$LAB"; rm -rf "$LAB"' EXIT
for _ in $(seq 50); do [ -s "$LAB/delay.port" ] && break; sleep 0.1; done

echo "bench/prom: Prometheus 2.42 on 127.0.0.1, $(nproc) cores"
run_case "local server (no network latency; queries CPU-bound on the server)" "$RB_TEST_PROM_URL"
run_case "server ${DELAY_MS} ms away (delay proxy)" "http://127.0.0.1:$(cat "$LAB/delay.port")"
