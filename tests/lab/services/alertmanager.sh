#!/usr/bin/env bash
# alertmanager.sh start|stop LABDIR — Debian's prometheus-alertmanager (0.25)
# for the `runbook serve` end-to-end tests: one route to a webhook receiver at
# http://127.0.0.1:HOOK_PORT/alerts (the port is reserved here for the test to
# start `runbook serve` on) with a bearer token from a file, as a real
# deployment would configure it; short group_wait/group_interval so a test
# sees notifications within seconds; send_resolved on. Clustering is off
# (--cluster.listen-address=), so nothing listens beyond 127.0.0.1.
# Writes LABDIR/alertmanager.env:
#   RB_TEST_ALERTMANAGER_URL         http://127.0.0.1:PORT (API v2 under /api/v2)
#   RB_TEST_ALERTMANAGER_HOOK_PORT   the port the webhook receiver is expected on
#   RB_TEST_ALERTMANAGER_TOKEN_FILE  the bearer token Alertmanager sends
set -eu
. "$(dirname "$0")/../lib.sh"
CMD=${1:?start|stop}; LAB=${2:?LABDIR}
DIR=$LAB/alertmanager

stop() { stop_pidfile "$DIR/alertmanager.pid"; }

start() {
    stop
    rm -rf "$DIR"; mkdir -p "$DIR/data"
    PORT=$(free_port); HOOK=$(free_port)
    python3 -c 'import secrets; print(secrets.token_hex(24))' >"$DIR/token"
    chmod 600 "$DIR/token"
    cat >"$DIR/alertmanager.yml" <<YAML
route:
  receiver: runbook
  group_by: [alertname, book]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: runbook
    webhook_configs:
      - url: http://127.0.0.1:$HOOK/alerts
        send_resolved: true
        max_alerts: 0
        http_config:
          authorization:
            type: Bearer
            credentials_file: $DIR/token
YAML
    prometheus-alertmanager --config.file="$DIR/alertmanager.yml" --storage.path="$DIR/data" \
        --web.listen-address="127.0.0.1:$PORT" --cluster.listen-address= \
        >"$DIR/alertmanager.log" 2>&1 &
    echo $! >"$DIR/alertmanager.pid"
    URL="http://127.0.0.1:$PORT"
    wait_up "$DIR/alertmanager.pid" 300 curl -sf "$URL/-/ready" -o /dev/null \
        || { echo "alertmanager not ready"; tail -20 "$DIR/alertmanager.log"; exit 1; }
    printf 'RB_TEST_ALERTMANAGER_URL=%s\nRB_TEST_ALERTMANAGER_HOOK_PORT=%s\nRB_TEST_ALERTMANAGER_TOKEN_FILE=%s\n' \
        "$URL" "$HOOK" "$DIR/token" >"$LAB/alertmanager.env"
}

case $CMD in
start) start ;;
stop) stop ;;
*) echo "usage: $0 start|stop LABDIR" >&2; exit 2 ;;
esac
