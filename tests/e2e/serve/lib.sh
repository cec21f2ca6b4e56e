# tests/e2e/serve/lib.sh — helpers for tests/e2e/serve*.sh and bench/serve.sh
# (sourced after tests/e2e/lib.sh or on its own): start and stop
# `runbook serve`, build Alertmanager webhook payloads, post them.
SERVE_PID=
SERVE_URL=
# serve_start PORT LOG ARGS...: starts serve in the background, waits for /healthz (10 s)
serve_start() {
    local port=$1 log=$2; shift 2
    "$RUNBOOK" serve --listen "127.0.0.1:$port" "$@" >>"$log" 2>&1 &
    SERVE_PID=$!
    SERVE_URL="http://127.0.0.1:$port"
    for _ in $(seq 100); do
        curl -sf "$SERVE_URL/healthz" -o /dev/null 2>/dev/null && return 0
        kill -0 "$SERVE_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
# serve_stop [TIMEOUT]: SIGTERM, wait up to TIMEOUT s (default 20); returns its exit status
serve_stop() {
    local t=${1:-20} rc
    [ -n "$SERVE_PID" ] || return 0
    kill -TERM "$SERVE_PID" 2>/dev/null
    for _ in $(seq $((t * 10))); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SERVE_PID" 2>/dev/null && { kill -KILL "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null; SERVE_PID=; return 99; }
    wait "$SERVE_PID"; rc=$?
    SERVE_PID=
    return $rc
}
serve_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# payload SECTION N PREFIX [options]: a webhook v4 body (tests/e2e/serve/payload.py)
payload() { python3 "$(dirname "${BASH_SOURCE[0]}")/payload.py" "$@"; }
# post BODYFILE [TOKEN]: POST /alerts; prints the HTTP status, body in $T_TMP/resp
post() {
    curl -s -o "$T_TMP/resp" -w '%{http_code}' -H "Authorization: Bearer ${2:-$TOKEN}" \
        -H 'Content-Type: application/json' --data-binary @"$1" "$SERVE_URL/alerts"
}
# metric NAME_WITH_LABELS: the value on /metrics (0 when absent)
metric() {
    curl -s "$SERVE_URL/metrics" | awk -v k="$1" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }'
}
# rss_hwm PID: peak resident set in KiB
rss_hwm() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }
