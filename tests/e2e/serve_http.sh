#!/usr/bin/env bash
# lab: httprec
# `runbook serve` on its own (the test book tests/e2e/serve/books/svc): it will
# not start without authentication; 401 without the token (nothing queued);
# bad JSON, unknown versions and huge bodies get 400/413 and record nothing;
# slow clients (a stalled body, headers dribbled a byte at a time, an
# idle connection) get 408 or are closed within client_timeout while others
# are served; an alert becomes an
# investigate-only run whose report and summary land in --reports (no resolve
# step); the same notification again is deduplicated, a second alert for a
# running section and target is coalesced; a hung run is stopped at the time
# limit with its process group; a notification that does not fit in the
# queue is refused whole (503) and nothing of it is recorded; children hold
# no listening socket; the Slack-format notification reaches the recording
# server; SIGTERM interrupts within the bound and the next start runs the
# interrupted run again; mutual TLS refuses a client without a certificate;
# a storm of 1,000 alerts is coalesced into one run with bounded memory and
# every accepted alert in the audit trail.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve/lib.sh"
export RUNBOOK_PATH=$ROOT/tests/e2e/serve/books
TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(20))')
REP=$T_TMP/reports AUD=$T_TMP/audit.jsonl CFG=$T_TMP/serve.yaml LOG=$T_TMP/serve.log
PORT=$(serve_free_port)
trap 'serve_stop 5 >/dev/null 2>&1; rm -rf "$T_TMP"' EXIT
cat >"$CFG" <<YAML
serve:
  workers: 1
  queue: 2
  run_timeout: 3
  kill_grace: 1
  shutdown_grace: 2
  client_timeout: 2
  max_body: 65536
  notify: { url: "$RB_TEST_HTTP_URL/hooks/slack", timeout: 5 }
YAML
rundirs() { find "$REP" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l; }

# ---- authentication is required to start
RUNBOOK_SERVE_TOKEN= expect_rc "serve without a token or client CA refuses to start (exit 2)" 2 \
    timeout 10 "$RUNBOOK" serve --listen "127.0.0.1:$PORT" --reports "$REP"
contains "and says what to set" "$T_TMP/err" "RUNBOOK_SERVE_TOKEN"
RUNBOOK_SERVE_TOKEN=short expect_rc "a token shorter than 16 characters is refused" 2 \
    timeout 10 "$RUNBOOK" serve --listen "127.0.0.1:$PORT" --reports "$REP"

export RUNBOOK_SERVE_TOKEN=$TOKEN
serve_start "$PORT" "$LOG" --reports "$REP" --audit "$AUD" --config "$CFG" \
    && ok "serve answers /healthz" || { fail "serve did not start"; sed 's/^/#   /' "$LOG"; done_testing; exit 1; }

# ---- 401 without the token, nothing queued
payload svc/probe 1 auth >"$T_TMP/auth.json"
[ "$(post "$T_TMP/auth.json" wrong-token-0123456789)" = 401 ] && ok "wrong token: 401" || fail "wrong token accepted"
code=$(curl -s -o "$T_TMP/resp" -w '%{http_code}' --data-binary @"$T_TMP/auth.json" "$SERVE_URL/alerts")
[ "$code" = 401 ] && ok "no token: 401" || fail "no token: $code"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$SERVE_URL/runs")" = 401 ] && ok "GET /runs without the token: 401" || fail "/runs open"
[ "$(rundirs)" = 0 ] && [ "$(metric 'runbook_alerts_received_total{status="firing"}')" = 0 ] \
    && ok "nothing received or run after the 401s" || fail "an unauthenticated alert got through"

# ---- bad input: clear 4xx, nothing recorded
printf '{"version":"4","alerts":[' >"$T_TMP/bad.json"
[ "$(post "$T_TMP/bad.json")" = 400 ] && ok "truncated JSON: 400" || fail "truncated JSON not 400"
contains "the 400 says the JSON is invalid" "$T_TMP/resp" "not valid JSON"
payload svc/probe 1 v3 | sed 's/"version": "4"/"version": "3"/' >"$T_TMP/v3.json"
[ "$(post "$T_TMP/v3.json")" = 400 ] && ok "webhook version 3: 400" || fail "version 3 not refused"
contains "the 400 names the version" "$T_TMP/resp" 'unsupported webhook version \"3\"'
echo '{"version":"4","alerts":{"a":1}}' >"$T_TMP/obj.json"
[ "$(post "$T_TMP/obj.json")" = 400 ] && contains "alerts must be an array" "$T_TMP/resp" "'alerts' must be an array" \
    || fail "alerts as an object not refused"
payload svc/probe 400 big >"$T_TMP/big.json"
[ "$(stat -c %s "$T_TMP/big.json")" -gt 65536 ] || fail "test payload too small"
[ "$(post "$T_TMP/big.json")" = 413 ] && ok "a body over max_body: 413" || fail "big body not 413"
[ "$(rundirs)" = 0 ] && [ "$(metric 'runbook_alerts_received_total{status="firing"}')" = 0 ] \
    && ok "nothing recorded from the bad requests" || fail "a bad request was recorded"

# ---- slow clients get 408 within client_timeout; others are served meanwhile
python3 "$ROOT/tests/e2e/serve/slow_clients.py" "$PORT" 2 >"$T_TMP/slow" 2>&1 &
SLOW=$!
sleep 0.3
t0=$(date +%s%N)
curl -sf "$SERVE_URL/healthz" -o /dev/null && ok "served /healthz while slow clients hold connections" || fail "healthz blocked"
[ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 1000 ] && ok "... within a second" || fail "healthz slow"
wait $SLOW
sed 's/^/#   /' "$T_TMP/slow"
grep -qE "^body closed after [2-3]\.[0-9] s: HTTP/1.1 408 Request Timeout$" "$T_TMP/slow" \
    && ok "a body that stops arriving: 408 after client_timeout" || fail "slow body: $(grep body "$T_TMP/slow")"
grep -qE "^loris closed after [2-3]\.[0-9] s: HTTP/1.1 408 Request Timeout$" "$T_TMP/slow" \
    && ok "headers dribbled a byte at a time (never idle): 408 after client_timeout" \
    || fail "slowloris: $(grep loris "$T_TMP/slow")"
grep -qE "^idle closed after [2-3]\.[0-9] s: no answer$" "$T_TMP/slow" \
    && ok "a connection that sends nothing is closed after client_timeout, without an answer" \
    || fail "idle: $(grep idle "$T_TMP/slow")"
[ "$(metric 'runbook_connections_closed_total{reason="request_timeout"}')" = 2 ] \
    && [ "$(metric 'runbook_connections_closed_total{reason="idle"}')" = 1 ] \
    && ok "/metrics counts them (2 request_timeout, 1 idle)" \
    || fail "connections_closed_total: $(curl -s "$SERVE_URL/metrics" | grep connections_closed)"
[ "$(rundirs)" = 0 ] && ok "nothing was run from a request that did not arrive whole" || fail "a partial request was run"
# a keep-alive connection stays usable across requests well within the limit
curl -sf -o /dev/null "$SERVE_URL/healthz" -o /dev/null "$SERVE_URL/healthz" -w '%{num_connects}\n' >"$T_TMP/ka" \
    && [ "$(tail -1 "$T_TMP/ka")" = 0 ] && ok "keep-alive: the second request reuses the connection" \
    || fail "keep-alive: $(cat "$T_TMP/ka")"

# ---- an alert becomes an investigate-only run
payload svc/probe 1 one >"$T_TMP/one.json"
[ "$(post "$T_TMP/one.json")" = 200 ] && ok "a firing alert: 200" || fail "alert refused: $(cat "$T_TMP/resp")"
id=$(jq -r '.runs[0]' "$T_TMP/resp")
for _ in $(seq 100); do [ -f "$REP/$id/summary.json" ] && break; sleep 0.1; done
[ -f "$REP/$id/report.md" ] && ok "run $id: report.md in --reports" || fail "no report for $id"
contains "the report is the section's" "$REP/$id/report.md" "svc/probe"
lacks "no resolve step ran" "$REP/$id/report.md" "Never from serve"
curl -sf -H "Authorization: Bearer $TOKEN" "$SERVE_URL/runs/$id" >"$T_TMP/run.json"
jq -e '.state == "done" and .exit == 0 and .findings == {"good": 1} and .section == "svc/probe"
    and (.report.markdown | endswith("/report.md"))' "$T_TMP/run.json" >/dev/null \
    && ok "GET /runs/ID: done, exit 0, one good finding, report links" || fail "GET /runs/ID: $(cat "$T_TMP/run.json")"
[ "$(stat -c %a "$REP/$id/report.md")" = 600 ] && ok "the report is 0600" || fail "report mode $(stat -c %a "$REP/$id/report.md")"

# ---- duplicates: the same notification again
[ "$(post "$T_TMP/one.json")" = 200 ] && [ "$(rundirs)" = 1 ] && [ "$(metric runbook_alerts_deduplicated_total)" = 1 ] \
    && ok "the same notification again: deduplicated, no second run" || fail "duplicate started a run ($(rundirs) runs)"

# ---- the hang section: coalescing, no inherited socket, time limit
payload svc/hang 1 h1 >"$T_TMP/h1.json"; payload svc/hang 1 h2 >"$T_TMP/h2.json"
[ "$(post "$T_TMP/h1.json")" = 200 ] || fail "hang alert refused"
hid=$(jq -r '.runs[0]' "$T_TMP/resp")
[ "$(post "$T_TMP/h2.json")" = 200 ] && [ "$(jq '.runs | length' "$T_TMP/resp")" = 0 ] \
    && ok "a second alert for the running section and target is coalesced" || fail "second hang alert started a run"
sleep 0.5
child=$(pgrep -P "$SERVE_PID" -f "run svc/hang" | head -1)
if [ -n "$child" ]; then
    fds=$(ls /proc/"$child"/fd | sort -n | tr '\n' ' ')
    [ "$fds" = "0 1 2 " ] && ok "the run process holds only stdin/stdout/stderr (no listening socket)" || fail "child fds: $fds"
    [ "$(ps -o sid= -p "$child" | tr -d ' ')" = "$child" ] && ok "the run is a session of its own" || fail "child not a session leader"
else fail "no hang child found: $(ps -ef | grep -c 'svc/hang')"; fail "no hang child found"; fi
for _ in $(seq 80); do [ -f "$REP/$hid/summary.json" ] && break; sleep 0.1; done
jq -e '.state == "timeout" and (.alerts | length) == 2' "$REP/$hid/summary.json" >/dev/null 2>&1 && ok "the hung run was stopped at run_timeout (state timeout, 2 alerts)" \
    || fail "hang summary: $(cat "$REP/$hid/summary.json" 2>/dev/null)"
[ -n "$child" ] && ! kill -0 "$child" 2>/dev/null && ok "its process is gone" || fail "hung process still there"

# ---- overflow: 3 new runs do not fit a queue of 2 behind a busy worker
payload svc/hang 1 busy --labels '{"namespace":"busy"}' >"$T_TMP/busy.json"
post "$T_TMP/busy.json" >/dev/null
before=$(rundirs)
payload svc/hang 3 over --spread-namespace >"$T_TMP/over.json"
[ "$(post "$T_TMP/over.json")" = 503 ] && ok "3 new runs for a queue of 2: 503 (send again later)" || fail "overflow not refused"
sleep 0.3
[ "$(rundirs)" = "$before" ] && [ "$(metric 'runbook_queue_depth')" = 0 ] \
    && ok "nothing of the refused notification was queued" || fail "refused notification partly queued"
[ "$(metric 'runbook_alerts_dropped_total{reason="queue_full"}')" = 3 ] && ok "dropped{queue_full} counts 3" || fail "queue_full metric"
grep -q '"over-' "$AUD" && fail "refused alerts are in the audit trail" || ok "the refused alerts are not recorded as accepted"

# ---- notification to the webhook
for _ in $(seq 50); do grep -q '/hooks/slack' "$RB_TEST_HTTP_LOG" 2>/dev/null && break; sleep 0.1; done
python3 - "$RB_TEST_HTTP_LOG" "$id" <<'PY' && ok "a Slack-format notification names the section, outcome and run" || fail "no notification"
import json, sys
hits = [json.loads(l) for l in open(sys.argv[1]) if '"/hooks/slack"' in l]
assert any("svc/probe" in json.loads(h["body"])["text"] and sys.argv[2] in json.loads(h["body"])["text"] for h in hits), hits
assert all(h["method"] == "POST" and h["headers"]["content-type"] == "application/json" for h in hits)
PY

# ---- SIGTERM: interrupt within the bound, run it again on the next start
payload svc/hang 1 busy2 --labels '{"namespace":"busy2"}' >"$T_TMP/busy2.json"
post "$T_TMP/busy2.json" >/dev/null
sleep 0.5
t0=$(date +%s)
serve_stop 15; rc=$?
[ "$rc" = 0 ] && [ $(( $(date +%s) - t0 )) -le 6 ] && ok "SIGTERM: serve exits 0 within shutdown_grace + kill_grace" \
    || fail "SIGTERM: exit $rc after $(( $(date +%s) - t0 )) s"
pgrep -f "run svc/hang" >/dev/null && fail "a run outlived the server" || ok "no run outlives the server"
grep -q '"event":"serve_stop"' "$AUD" && ok "serve_stop audited" || fail "serve_stop not audited"
expect_rc "the audit chain holds" 0 "$RUNBOOK" audit verify "$AUD"
serve_start "$PORT" "$LOG" --reports "$REP" --audit "$AUD" --config "$CFG" || fail "restart"
grep -q "recovered from the journal" "$LOG" && ok "the restarted server runs the unfinished run again" \
    || fail "nothing recovered: $(tail -3 "$LOG")"

# ---- storm: 1,000 alerts, 20 at a time, coalesced into one run
serve_stop 15 >/dev/null
serve_start "$PORT" "$LOG" --reports "$T_TMP/storm" --audit "$T_TMP/storm.jsonl" --config "$CFG" || fail "storm start"
idle=$(rss_hwm "$SERVE_PID")
payload svc/probe 20 s --files 50 --out "$T_TMP"
t0=$(date +%s%N)
codes=$(for i in $(seq 1 50); do echo "$T_TMP/s-$i.json"; done | xargs -P 8 -I{} curl -s -o /dev/null -w '%{http_code}\n' \
    -H "Authorization: Bearer $TOKEN" --data-binary @{} "$SERVE_URL/alerts" | sort | uniq -c | tr -s ' ')
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$codes" = " 50 200" ] && ok "1,000 alerts in 50 notifications accepted in ${ms} ms" || fail "storm answers: $codes"
peak=$(rss_hwm "$SERVE_PID")
[ "$peak" -lt 65536 ] && ok "peak RSS ${peak} KiB under the storm (idle ${idle} KiB; bound 64 MiB)" || fail "RSS $peak KiB"
sleep 1
runs=$(find "$T_TMP/storm" -mindepth 1 -maxdepth 1 -type d | wc -l)
[ "$runs" = 1 ] && ok "the storm became one run (coalesced while running and for cooldown after)" || fail "storm runs: $runs"
n=$(python3 - "$T_TMP/storm.jsonl" <<'PY'
import json, sys
fps = set()
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e.get("event") == "alert":
        fps.update(a["fingerprint"] for a in e["alerts"] if a["disposition"] in ("new", "coalesced", "duplicate"))
print(len(fps))
PY
)
[ "$n" = 1000 ] && ok "all 1,000 accepted alerts are in the audit trail" || fail "audit has $n alerts"
serve_stop 15 >/dev/null

# ---- mutual TLS
P=$T_TMP/pki; mkdir -p "$P"
( cd "$P"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=test-ca
  openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1
  printf 'subjectAltName=IP:127.0.0.1\n' >san
  openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 2 -extfile san
  openssl req -newkey rsa:2048 -nodes -keyout cli.key -out cli.csr -subj /CN=alertmanager
  openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out cli.crt -days 2
  openssl req -x509 -newkey rsa:2048 -nodes -keyout rogue.key -out rogue.crt -days 2 -subj /CN=rogue ) >/dev/null 2>&1
cat >"$T_TMP/tls.yaml" <<YAML
serve:
  tls: { cert: $P/srv.crt, key: $P/srv.key, client_ca: $P/ca.crt }
  client_timeout: 2
YAML
PORT2=$(serve_free_port)
"$RUNBOOK" serve --listen "127.0.0.1:$PORT2" --reports "$T_TMP/tlsrep" --config "$T_TMP/tls.yaml" >>"$LOG" 2>&1 &
SERVE_PID=$!
for _ in $(seq 50); do curl -s --cacert "$P/ca.crt" "https://127.0.0.1:$PORT2/healthz" -o /dev/null && break; sleep 0.1; done
payload svc/probe 1 tls >"$T_TMP/tls.json"
tcurl() { curl -s -o "$T_TMP/resp" -w '%{http_code}' --cacert "$P/ca.crt" -H "Authorization: Bearer $TOKEN" \
    --data-binary @"$T_TMP/tls.json" "$@" "https://127.0.0.1:$PORT2/alerts"; }
[ "$(tcurl)" = 401 ] && ok "TLS without a client certificate: 401" || fail "no client cert accepted"
[ "$(tcurl --cert "$P/rogue.crt" --key "$P/rogue.key")" = 401 ] && ok "a certificate from another CA: 401" || fail "rogue cert accepted"
[ "$(tcurl --cert "$P/cli.crt" --key "$P/cli.key")" = 200 ] && ok "the client CA's certificate and the token: 200" || fail "good client refused"
[ "$(find "$T_TMP/tlsrep" -mindepth 1 -maxdepth 1 -type d | wc -l)" = 1 ] && ok "only the authenticated alert ran" || fail "tls runs"
# over TLS a request that stalls, and a connection that never starts its
# handshake, are closed at client_timeout (no 408: it would have to go through
# the TLS session libmicrohttpd owns)
python3 - "$PORT2" "$P/ca.crt" >"$T_TMP/tlsslow" 2>&1 <<'PY'
import socket, ssl, sys, time
port, ca = int(sys.argv[1]), sys.argv[2]
def wait_end(s, t0):
    s.settimeout(0.2)
    while time.time() < t0 + 8:
        try:
            if not s.recv(4096): return "closed"
        except socket.timeout: continue
        except (OSError, ssl.SSLError): return "closed"
    return "still open"
ctx = ssl.create_default_context(cafile=ca)
t0 = time.time()
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1")
s.sendall(b"POST /alerts HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
print("stalled request %s after %.1f s" % (wait_end(s, t0), time.time() - t0))
t0 = time.time()
r = socket.create_connection(("127.0.0.1", port))
print("no handshake %s after %.1f s" % (wait_end(r, t0), time.time() - t0))
PY
grep -qE "^stalled request closed after [2-3]\.[0-9] s$" "$T_TMP/tlsslow" \
    && ok "TLS: a stalled request is closed at client_timeout" || fail "TLS stalled request: $(cat "$T_TMP/tlsslow")"
grep -qE "^no handshake closed after [2-3]\.[0-9] s$" "$T_TMP/tlsslow" \
    && ok "TLS: a connection that never starts its handshake is closed at client_timeout" || fail "TLS no handshake: $(cat "$T_TMP/tlsslow")"
serve_stop 15 >/dev/null
done_testing
