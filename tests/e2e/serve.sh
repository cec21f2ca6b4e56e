#!/usr/bin/env bash
# lab: alertmanager tmisim k8s tmiprom pg redis
# `runbook serve` behind the real parts: Prometheus 2.42 evaluating the
# goroutine rules `runbook export-alerts tmi` writes (for: shortened to 2s)
# over the TMI simulator's pods, Debian's Alertmanager routing to serve with
# a bearer token. A goroutine leak injected into one pod must, within 150 s,
# give a report of tmi/goroutine-leaks that names that pod, with nothing
# written to any server (the API server's request log has no write, the
# audit no write intent, PostgreSQL's statement log no resolve statement);
# switching the fault off is recorded as resolved. Alertmanager's retries
# while serve restarts lose no alert, and a storm of 1,000 alerts through
# Alertmanager within a minute is coalesced into one run with bounded memory
# and every alert accepted and audited.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve/lib.sh"
cd "$ROOT"
export RUNBOOK_PATH=$ROOT/tests/e2e/serve/books
SIM=$RB_TEST_TMISIM_URL KC=$RB_TEST_K8S_KUBECONFIG AM=$RB_TEST_ALERTMANAGER_URL
PORT=$RB_TEST_ALERTMANAGER_HOOK_PORT
REP=$T_TMP/reports AUD=$T_TMP/audit.jsonl CFG=$T_TMP/serve.yaml LOG=$T_TMP/serve.log
TOKEN=$(cat "$RB_TEST_ALERTMANAGER_TOKEN_FILE")
PROM_PID=
cleanup() {
    curl -sf -X POST "$SIM/admin/faults/all?on=0&pod=all" >/dev/null 2>&1
    for f in restart storm; do   # resolve our alerts in Alertmanager (endsAt now)
        [ -f "$T_TMP/$f.json" ] && jq --arg t "$(date -u +%Y-%m-%dT%H:%M:%SZ)" '[.[] | .endsAt = $t]' "$T_TMP/$f.json" \
            | curl -sf -X POST -H 'Content-Type: application/json' --data-binary @- "$AM/api/v2/alerts" >/dev/null 2>&1
    done
    serve_stop 10 >/dev/null 2>&1
    [ -n "$PROM_PID" ] && kill "$PROM_PID" 2>/dev/null && wait "$PROM_PID" 2>/dev/null
    rm -rf "$T_TMP"
}
trap cleanup EXIT
unset RUNBOOK_SERVE_TOKEN
elapsed() { echo $(( $(date +%s) - $1 )); }

# ---- Prometheus with the book's goroutine rules, alerting to Alertmanager
cat >"$T_TMP/filter.lua" <<'LUA'
-- keeps the goroutine rules of export-alerts' output, with a short for:
local yaml = require "rb.yaml"
local doc = yaml.decode(io.read("a"))
local keep = {}
for _, r in ipairs(doc.groups[1].rules) do
  if r.alert:match("^HighGoroutineCount") then r["for"] = "2s"; keep[#keep + 1] = r end
end
doc.groups[1].rules = keep
io.write(yaml.encode(doc))
LUA
"$RUNBOOK" export-alerts tmi 2>/dev/null | "$RUNBOOK" lua "$T_TMP/filter.lua" >"$T_TMP/rules.yml"
contains "the rules are export-alerts' (runbook annotation kept)" "$T_TMP/rules.yml" "runbook run tmi/goroutine-leaks"
grep -q "runbook run tmi/goroutine-leaks" "$T_TMP/rules.yml" || { done_testing; exit 1; }
PP=$(serve_free_port)
cat >"$T_TMP/prometheus.yml" <<YAML
global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: [ "$T_TMP/rules.yml" ]
alerting:
  alertmanagers: [ { static_configs: [ { targets: [ "${AM#http://}" ] } ] } ]
scrape_configs:
  - job_name: tmi-api
    file_sd_configs: [ { files: [ "$(dirname "$KC")/pod-targets.json" ], refresh_interval: 1s } ]
YAML
prometheus --config.file="$T_TMP/prometheus.yml" --storage.tsdb.path="$T_TMP/prom" \
    --web.listen-address="127.0.0.1:$PP" >"$T_TMP/prometheus.log" 2>&1 &
PROM_PID=$!
for _ in $(seq 150); do curl -sf "http://127.0.0.1:$PP/-/ready" -o /dev/null && break; sleep 0.2; done
[ "$(curl -s "http://127.0.0.1:$PP/api/v1/rules" | jq '[.data.groups[].rules[]] | length')" = 2 ] \
    && ok "Prometheus loaded the 2 goroutine rules" || fail "rules not loaded: $(tail -3 "$T_TMP/prometheus.log")"

# ---- serve, configured for the lab
{ lab_environments; cat <<YAML; } >"$CFG"
serve:
  env: lab
  token_file: $RB_TEST_ALERTMANAGER_TOKEN_FILE
  workers: 2
  run_timeout: 150
  set: { growth_interval: 1, window: 15s }
YAML
serve_start "$PORT" "$LOG" --reports "$REP" --audit "$AUD" --config "$CFG" \
    && ok "serve listens where Alertmanager sends" || { fail "serve did not start: $(cat "$LOG")"; done_testing; exit 1; }

k8s_writes() { jq -s '[.[] | select(.method != "GET")] | length' "$RB_TEST_K8S_LOG"; }
pg_writes() { grep -cE "ALTER SYSTEM|VACUUM|pg_terminate_backend|pg_cancel_backend|pg_reload_conf" "$RB_TEST_PG_LOG" || true; }
k0=$(k8s_writes); p0=$(pg_writes)

# ---- a goroutine leak in one pod -> the right report, within 150 s
LEAKER=$(timeout 20 kubectl --kubeconfig "$KC" -n tmi get pods -l app=tmi-api -o jsonpath='{.items[1].metadata.name}')
t0=$(date +%s)
curl -sf -X POST "$SIM/admin/faults/goroutine_leak?on=1&n=6000&pod=$LEAKER" >/dev/null && ok "fault injected into $LEAKER" || fail "fault"
sum=
for _ in $(seq 300); do
    sum=$(grep -l '"section":"tmi\\/goroutine-leaks"' "$REP"/*/summary.json 2>/dev/null | head -1)
    [ -n "$sum" ] && break
    sleep 0.5
done
if [ -n "$sum" ]; then ok "a tmi/goroutine-leaks run finished $(elapsed "$t0") s after the fault (bound 150 s)"
else
    fail "no goroutine-leaks run within 150 s"; tail -20 "$LOG" | sed 's/^/#   /'
    echo "#   prometheus: max(go_goroutines) = $(curl -s "http://127.0.0.1:$PP/api/v1/query?query=max(go_goroutines)" | jq -c '.data.result[0].value')"
    curl -s "http://127.0.0.1:$PP/api/v1/alerts" | jq -c '.data.alerts[] | [.labels.alertname, .state, .activeAt]' | sed 's/^/#   prometheus alert /'
    curl -s "$AM/api/v2/alerts" | jq -c '.[] | [.labels.alertname, .status.state, .startsAt]' | head -5 | sed 's/^/#   alertmanager /'
fi
dir=$(dirname "${sum:-/nonexistent/x}")
jq -e '.state == "done" and .exit == 4 and .findings.critical >= 1' "$dir/summary.json" >/dev/null 2>&1 \
    && ok "the run is done with critical findings (exit 4)" \
    || { fail "summary: $(cat "$dir/summary.json" 2>/dev/null)"; tail -15 "$dir/run.log" | sed 's/^/#   /'; }
contains "the report names the leaking pod" "$dir/report.md" "$LEAKER"
jq -e '[.alerts[]] | length >= 1' "$dir/summary.json" >/dev/null 2>&1 && ok "the run lists the alert(s) that asked for it" || fail "no alerts on the run"
grep -q '"alertname":"HighGoroutineCount' "$AUD" && ok "the alert is in the audit trail" || fail "alert not audited"
[ "$(k8s_writes)" = "$k0" ] && ok "no write reached the API server (request log)" || fail "k8s writes: $k0 -> $(k8s_writes)"
[ "$(pg_writes)" = "$p0" ] && ok "no resolve statement reached PostgreSQL (statement log)" || fail "pg writes"
lacks "no write intent in the audit" "$AUD" '"event":"intent"'
lacks "no resolve step planned" "$AUD" '"event":"plan"'

# ---- resolved
curl -sf -X POST "$SIM/admin/faults/all?on=0&pod=all" >/dev/null
resolved() { jq -s '[.[] | select(.event == "alert") | .alerts[]
    | select(.status == "resolved" and (.alertname | startswith("HighGoroutineCount")))] | length' "$AUD"; }
for _ in $(seq 90); do [ "$(resolved)" -ge 1 ] && break; sleep 1; done
if [ "$(resolved)" -ge 1 ]; then ok "switching the fault off is recorded as resolved"
else
    fail "no resolved alert recorded"
    echo "#   prometheus: max(go_goroutines) = $(curl -s "http://127.0.0.1:$PP/api/v1/query?query=max(go_goroutines)" | jq -c '.data.result[0].value')"
    curl -s "http://127.0.0.1:$PP/api/v1/alerts" | jq -c '.data.alerts[] | [.labels.alertname, .state, .activeAt]' | sed 's/^/#   prometheus alert /'
    curl -s "$AM/api/v2/alerts" | jq -c '.[] | [.labels.alertname, .status.state, .startsAt, .endsAt]' | head -5 | sed 's/^/#   alertmanager /'
fi

# ---- Alertmanager retries while serve restarts: nothing lost
serve_stop 30; rc=$?
[ "$rc" = 0 ] && ok "serve stopped (SIGTERM, exit 0)" || fail "serve stop exit $rc"
alert_json() { # NAME N: N alerts for svc/probe, as Prometheus posts them to Alertmanager
    python3 -c '
import json, sys
name, n = sys.argv[1], int(sys.argv[2])
print(json.dumps([{"labels": {"alertname": name, "book": "svc", "severity": "critical", "instance": "i%d" % i,
                              "namespace": name.lower()},
                   "annotations": {"runbook": "runbook run svc/probe"}} for i in range(n)]))' "$@"
}
RESTART=RestartTest$$ STORM=StormTest$$   # Alertmanager keeps alerts across test runs: names of our own
alert_json "$RESTART" 1 >"$T_TMP/restart.json"
curl -sf -X POST -H 'Content-Type: application/json' --data-binary @"$T_TMP/restart.json" "$AM/api/v2/alerts" \
    && ok "an alert reaches Alertmanager while serve is down" || fail "AM refused the alert"
sleep 4
serve_start "$PORT" "$LOG" --reports "$REP" --audit "$AUD" --config "$CFG" || fail "serve restart"
for _ in $(seq 60); do grep -q "\"alertname\":\"$RESTART\"" "$AUD" && break; sleep 0.5; done
grep -q "\"alertname\":\"$RESTART\"" "$AUD" && ok "Alertmanager's retry delivered the alert after the restart" || fail "alert lost over the restart"
for _ in $(seq 60); do grep -l "\"alertname\":\"$RESTART\"" "$REP"/*/summary.json >/dev/null 2>&1 && break; sleep 0.5; done
grep -l "\"alertname\":\"$RESTART\"" "$REP"/*/summary.json >/dev/null 2>&1 && ok "... and ran" || fail "$RESTART did not run"

# ---- a storm: 1,000 alerts through Alertmanager in 10 s
before=$(ls -d "$REP"/*/ | wc -l)
idle=$(rss_hwm "$SERVE_PID")
alert_json "$STORM" 1000 >"$T_TMP/storm.json"
t0=$(date +%s)
for k in 0 1 2 3 4 5 6 7 8 9; do
    jq ".[$((k * 100)):$((k * 100 + 100))]" "$T_TMP/storm.json" | curl -sf -X POST -H 'Content-Type: application/json' \
        --data-binary @- "$AM/api/v2/alerts" || fail "AM refused storm batch $k"
    sleep 1
done
count() { jq -s --arg n "$STORM" '[.[] | select(.event == "alert") | .alerts[] | select(.alertname == $n)
    | .fingerprint] | unique | length' "$AUD"; }
n=0
for _ in $(seq 40); do n=$(count); [ "$n" = 1000 ] && break; sleep 1; done
[ "$n" = 1000 ] && ok "all 1,000 storm alerts accepted and audited within $(elapsed "$t0") s" || fail "storm alerts audited: $n"
runs=$(grep -l "\"alertname\":\"$STORM\"" "$REP"/*/summary.json 2>/dev/null | wc -l)
[ "$runs" = 1 ] && [ $(( $(ls -d "$REP"/*/ | wc -l) - before )) = 1 ] && ok "the storm became one run" || fail "storm runs: $runs"
[ "$(metric 'runbook_alerts_dropped_total{reason="queue_full"}')" = 0 ] && ok "nothing dropped for lack of room" || fail "queue_full drops"
peak=$(rss_hwm "$SERVE_PID")
[ "$peak" -lt 65536 ] && ok "serve's peak RSS ${peak} KiB (idle ${idle} KiB; bound 64 MiB)" || fail "RSS $peak KiB"
serve_stop 30 >/dev/null
expect_rc "the audit chain holds" 0 "$RUNBOOK" audit verify "$AUD"
done_testing
