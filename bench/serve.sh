#!/usr/bin/env bash
# bench/serve — runbook serve on the test book (tests/e2e/serve/books/svc, no
# lab needed), three figures:
#  1. webhook-to-report latency beyond the section's own run time: POST one
#     alert, wait for DIR/ID/summary.json; compared with `runbook run` of the
#     same section from the shell (median of N; ratio and the overhead in ms);
#  2. alerts per second accepted: 10,000 alerts in notifications of 50, 4 at a
#     time — new fingerprints (coalesced into one run) and the same
#     notifications again (deduplicated);
#  3. serve's RSS idle and its peak (VmHWM) after the storm.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNBOOK=${RUNBOOK:-$ROOT/${RB_BUILD:-build}/runbook}
N=${N:-15}
T_TMP=$(mktemp -d); trap 'serve_stop 10 >/dev/null 2>&1 || true; rm -rf "$T_TMP"' EXIT
. "$ROOT/tests/e2e/serve/lib.sh"
export RUNBOOK_PATH=$ROOT/tests/e2e/serve/books
TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(20))'); export RUNBOOK_SERVE_TOKEN=$TOKEN
printf 'serve:\n  workers: 2\n  queue: 1000\n' >"$T_TMP/serve.yaml"
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# 1. latency
for _ in $(seq "$N"); do
    t0=$(now_ms); "$RUNBOOK" run svc/probe --investigate-only --audit "$T_TMP/cli.jsonl" >/dev/null; echo $(( $(now_ms) - t0 ))
done | median >"$T_TMP/cli_ms"
serve_start "$(serve_free_port)" "$T_TMP/serve.log" --reports "$T_TMP/rep" --audit "$T_TMP/audit.jsonl" \
    --config "$T_TMP/serve.yaml" || { cat "$T_TMP/serve.log"; exit 1; }
idle=$(awk '/VmRSS/ { print $2 }' "/proc/$SERVE_PID/status")
payload svc/probe 1 lat --spread-namespace --files "$N" --out "$T_TMP"
for i in $(seq "$N"); do
    t0=$(now_ms)
    post "$T_TMP/lat-$i.json" >/dev/null
    id=$(jq -r '.runs[0]' "$T_TMP/resp")
    while [ ! -f "$T_TMP/rep/$id/summary.json" ]; do sleep 0.005; done
    echo "$(( $(now_ms) - t0 )) $(jq '(.finished - .created) * 1000 | floor' "$T_TMP/rep/$id/summary.json")"
done >"$T_TMP/lat"
client=$(awk '{ print $1 }' "$T_TMP/lat" | median); server=$(awk '{ print $2 }' "$T_TMP/lat" | median)
cli=$(cat "$T_TMP/cli_ms")
echo "the section run from a shell (runbook run svc/probe --investigate-only, median of $N): ${cli} ms"
echo "webhook accepted -> summary written (serve's clock): ${server} ms: $((server - cli)) ms beyond the section's own run" \
     "($(awk -v a="$server" -v b="$cli" 'BEGIN { printf "%.2f", a / b }')x)"
echo "  as the client sees it (POST sent -> summary.json found, incl. curl/jq start-up): ${client} ms"

# 2. throughput
payload svc/probe 50 new --files 200 --out "$T_TMP"
blast() {
    local t0; t0=$(now_ms)
    for i in $(seq 200); do echo "$T_TMP/new-$i.json"; done | xargs -P 4 -I{} curl -s -o /dev/null -w '%{http_code}\n' \
        -H "Authorization: Bearer $TOKEN" --data-binary @{} "$SERVE_URL/alerts" | grep -vc '^200$' >"$T_TMP/non200" || true
    echo $(( $(now_ms) - t0 ))
}
ms1=$(blast); ms2=$(blast)
echo "alerts accepted: $(awk -v m="$ms1" 'BEGIN { printf "%d", 10000 / m * 1000 }')/s new (coalesced into one run), $(awk -v m="$ms2" 'BEGIN { printf "%d", 10000 / m * 1000 }')/s repeated (deduplicated); non-200 answers: $(cat "$T_TMP/non200")"
echo "  dedupe counter: $(metric runbook_alerts_deduplicated_total), runs: $(find "$T_TMP/rep" -mindepth 1 -maxdepth 1 -type d | wc -l) (the $N latency runs + the storm's)"

# 3. memory
peak=$(rss_hwm "$SERVE_PID")
echo "serve RSS: idle ${idle} KiB, peak after 20,000 alerts ${peak} KiB ($(awk -v a="$peak" -v b="$idle" 'BEGIN { printf "%.2f", a / b }')x)"
