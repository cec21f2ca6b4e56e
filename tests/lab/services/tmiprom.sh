#!/usr/bin/env bash
# tmiprom.sh start|stop LABDIR — a real Prometheus 2.42 scraping the TMI
# simulator every second, for the TMI runbook's end-to-end tests and the
# rehearsal lab (the rb.prom specs use prom.sh's backfilled server instead).
# The simulator writes its scrape target to LABDIR/tmisim/prom-targets.json
# when it is up; file_sd picks it up whenever that happens, so the start
# order of the two does not matter. Writes LABDIR/tmiprom.env:
#   RB_TEST_TMIPROM_URL   the Prometheus base URL
set -eu
CMD=${1:?start|stop}; LAB=${2:?LABDIR}
DIR=$LAB/tmiprom

stop() {
    [ -f "$DIR/prometheus.pid" ] || return 0
    pid=$(cat "$DIR/prometheus.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$DIR/prometheus.pid"
}

start() {
    stop
    rm -rf "$DIR"; mkdir -p "$DIR/data"
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    printf '%s\n' "global:" "  scrape_interval: 1s" "  evaluation_interval: 1s" "scrape_configs:" \
        "  - job_name: tmi-api" \
        "    file_sd_configs: [{files: [\"$LAB/tmisim/prom-targets.json\"], refresh_interval: 1s}]" \
        >"$DIR/prometheus.yml"
    prometheus --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/data" \
        --web.listen-address="127.0.0.1:$PORT" >"$DIR/prometheus.log" 2>&1 &
    echo $! >"$DIR/prometheus.pid"
    URL="http://127.0.0.1:$PORT"
    for _ in $(seq 300); do curl -sf "$URL/-/ready" >/dev/null 2>&1 && break; sleep 0.2; done
    curl -sf "$URL/-/ready" >/dev/null || { echo "prometheus not ready"; tail -20 "$DIR/prometheus.log"; exit 1; }
    echo "RB_TEST_TMIPROM_URL=$URL" >"$LAB/tmiprom.env"
}

case $CMD in
start) start ;;
stop) stop ;;
*) echo "usage: $0 start|stop LABDIR" >&2; exit 2 ;;
esac
