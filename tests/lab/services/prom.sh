#!/usr/bin/env bash
# prom.sh start|stop LABDIR — a real Prometheus 2.42 for the rb.prom specs.
#
# start: generates one fixed hour of the seed's metrics (tests/lab/prom/gen.py,
# which also writes the expected answers), backfills it with
# `promtool tsdb create-blocks-from openmetrics` into LABDIR/prom/data BEFORE the
# server starts, starts the lab's small servers (tests/lab/prom/target.py: a
# scrape target, stub endpoints, a silent listener) and Prometheus on a free
# 127.0.0.1 port scraping the target every second, with one rule group. Waits
# for /-/ready and the backfilled data, then writes LABDIR/prom.env:
#   RB_TEST_PROM_URL        the Prometheus base URL
#   RB_TEST_PROM_EXPECTED   JSON of expected answers (gen.py)
#   RB_TEST_PROM_PORT       its port (rb.net tcp_connect)
#   RB_TEST_PROM_STUB_URL   base of the stub server (/garbage, /auth, /echo, /slow, /status/N)
#   RB_TEST_PROM_SILENT_URL a listener that never answers
#   RB_TEST_PROM_CLOSED_URL a port held by target.py without listening (refused)
# stop: ends both processes from their pid files; idempotent.
set -eu
. "$(dirname "$0")/../lib.sh"
CMD=${1:?start|stop}; LAB=${2:?LABDIR}
HERE=$(cd "$(dirname "$0")/../prom" && pwd)
DIR=$LAB/prom

stop() {
    for p in prometheus target; do
        [ -f "$DIR/$p.pid" ] || continue
        pid=$(cat "$DIR/$p.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$DIR/$p.pid"
    done
}

wait_for() { # SECONDS COMMAND...
    local n=$(( $1 * 5 )); shift
    for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
    return 1
}

start() {
    stop
    rm -rf "$DIR"; mkdir -p "$DIR/data"
    python3 "$HERE/gen.py" "$DIR/fixture.om" "$DIR/expected.json"
    promtool tsdb create-blocks-from openmetrics "$DIR/fixture.om" "$DIR/data" >"$DIR/backfill.log"
    rm -f "$DIR/fixture.om"

    python3 "$HERE/target.py" "$DIR/ports" >"$DIR/target.log" 2>&1 &
    echo $! >"$DIR/target.pid"
    wait_for 10 test -s "$DIR/ports" || { echo "target.py did not start"; cat "$DIR/target.log"; exit 1; }
    # shellcheck disable=SC2046
    eval $(cat "$DIR/ports")   # metrics= stub= silent= closed=

    PORT=$(free_port)
    cat >"$DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["$HERE/rules.yml"]
scrape_configs:
  - job_name: rb-lab-target
    static_configs: [{targets: ["127.0.0.1:$metrics"]}]
EOF
    # Retention is relative to the newest data; the fixture hour is in 2023.
    prometheus --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/data" \
        --storage.tsdb.retention.time=50y --web.listen-address="127.0.0.1:$PORT" \
        >"$DIR/prometheus.log" 2>&1 &
    echo $! >"$DIR/prometheus.pid"
    URL="http://127.0.0.1:$PORT"
    wait_for 60 curl -sf "$URL/-/ready" || { echo "prometheus not ready"; tail -20 "$DIR/prometheus.log"; exit 1; }
    # The backfilled block is loaded before ready; check a sample anyway.
    wait_for 20 sh -c "curl -sf '$URL/api/v1/query?query=go_goroutines&time=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["eval_time"])' "$DIR/expected.json")' | grep -q api-1" \
        || { echo "backfilled data not visible"; tail -20 "$DIR/prometheus.log"; exit 1; }

    cat >"$LAB/prom.env" <<EOF
RB_TEST_PROM_URL=$URL
RB_TEST_PROM_PORT=$PORT
RB_TEST_PROM_EXPECTED=$DIR/expected.json
RB_TEST_PROM_STUB_URL=http://127.0.0.1:$stub
RB_TEST_PROM_SILENT_URL=http://127.0.0.1:$silent
RB_TEST_PROM_CLOSED_URL=http://127.0.0.1:$closed
EOF
}

case "$CMD" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop LABDIR" >&2; exit 2 ;;
esac
