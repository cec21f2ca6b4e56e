#!/usr/bin/env bash
# e2e/prom.sh — rb.prom as a user meets it from the CLI: `runbook lua` with
# PROMETHEUS_URL pointing at the lab Prometheus (tests/lab/services/prom.sh),
# what it prints, how a bad query fails, and that a bearer token stays hidden.
. "$(dirname "$0")/lib.sh"
: "${RB_TEST_PROM_URL:?prom lab not running}"
EVAL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["eval_time"])' "$RB_TEST_PROM_EXPECTED")
P95=$(python3 -c 'import json,sys
e = json.load(open(sys.argv[1]))
print("%.4f" % next(c for c in e["instant"] if c["name"] == "p95 overall")["result"][0]["value"])' "$RB_TEST_PROM_EXPECTED")

cat >"$T_TMP/check.lua" <<EOF
local prom = require "rb.prom"
local p95 = assert(prom.value('histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))',
                              { time = $EVAL }))
print(("p95 %.4f"):format(p95))
local r = assert(prom.query_range('go_goroutines{instance="api-1:8080"}', { start = $EVAL - 3000, stop = $EVAL, step = 60 }))
print("goroutines " .. prom.sparkline(r))
EOF
PROMETHEUS_URL=$RB_TEST_PROM_URL expect_rc "runbook lua queries the server named by PROMETHEUS_URL" 0 "$RUNBOOK" lua "$T_TMP/check.lua"
contains "value() prints the p95 computed by the fixture" "$T_TMP/out" "p95 $P95"
contains "a leak renders as a rising sparkline" "$T_TMP/out" "goroutines ▁"

# Without a server the module functions return a config error that says how to name one.
echo 'assert(require("rb.prom").query("up"))' >"$T_TMP/none.lua"
env -u PROMETHEUS_URL -u RUNBOOK_CONFIG "$RUNBOOK" lua "$T_TMP/none.lua" >"$T_TMP/out" 2>"$T_TMP/err" && fail "no server: should fail" || ok "no server: the script fails"
contains "no server: a config error" "$T_TMP/err" "config error: rb.prom: no Prometheus server configured"
contains "no server: the message names PROMETHEUS_URL" "$T_TMP/err" "PROMETHEUS_URL"

# The seed's `... by (endpoint)` after a function call: the server's parse error reaches the user.
echo 'assert(require("rb.prom").query("rate(http_requests_total[5m]) by (endpoint)"))' >"$T_TMP/bad.lua"
PROMETHEUS_URL=$RB_TEST_PROM_URL "$RUNBOOK" lua "$T_TMP/bad.lua" >"$T_TMP/out" 2>"$T_TMP/err" \
    && fail "bad PromQL: should fail" || ok "bad PromQL: the script fails"
contains "bad PromQL: kind and type shown" "$T_TMP/err" "prom error: bad_data"
contains "bad PromQL: Prometheus' message shown" "$T_TMP/err" "parse error"

# A bearer token never reaches the terminal, even when the URL carries it.
TOKEN=rb-e2e-token-7d2c
cat >"$T_TMP/secret.lua" <<EOF
local prom = require "rb.prom"
local c = prom.client { url = "$RB_TEST_PROM_CLOSED_URL/$TOKEN", bearer = "$TOKEN" }
assert(c:query("up"))
EOF
"$RUNBOOK" lua "$T_TMP/secret.lua" >"$T_TMP/out" 2>"$T_TMP/err" && fail "closed port: should fail" || ok "closed port: the script fails"
contains "closed port: a conn error" "$T_TMP/err" "conn error"
lacks "closed port: the token is redacted" "$T_TMP/err" "$TOKEN"
done_testing
