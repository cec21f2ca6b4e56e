#!/usr/bin/env bash
# tmiprom.sh start|stop LABDIR — a real Prometheus 2.42 scraping the TMI
# simulator every second, each tmi-api pod as its own target (label pod), for
# the TMI runbook's end-to-end tests and the rehearsal lab (the rb.prom specs
# use prom.sh's backfilled server instead). The Kubernetes stand-in keeps
# LABDIR/k8s/pod-targets.json (file_sd) in step with its pods and their
# simulator processes, as kubernetes_sd would; file_sd picks changes up, so
# the start order does not matter. Writes LABDIR/tmiprom.env:
#   RB_TEST_TMIPROM_URL   the Prometheus base URL
set -eu
. "$(dirname "$0")/../lib.sh"
CMD=${1:?start|stop}; LAB=${2:?LABDIR}
DIR=$LAB/tmiprom

stop() { stop_pidfile "$DIR/prometheus.pid"; }

start() {
    stop
    rm -rf "$DIR"; mkdir -p "$DIR/data"
    PORT=$(free_port)
    printf '%s\n' "global:" "  scrape_interval: 1s" "  evaluation_interval: 1s" "scrape_configs:" \
        "  - job_name: tmi-api" \
        "    file_sd_configs: [{files: [\"$LAB/k8s/pod-targets.json\"], refresh_interval: 1s}]" \
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
