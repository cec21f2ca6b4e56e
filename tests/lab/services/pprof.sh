#!/usr/bin/env bash
# tests/lab/services/pprof.sh start|stop LABDIR — the Go pprof test program
# (tests/lab/pprofgo) built with the local Go toolchain (standard library only,
# no module downloads) and run on 127.0.0.1 with a kernel-chosen port.
# Writes LABDIR/pprof.env: RB_TEST_PPROF_URL=http://127.0.0.1:PORT and
# RB_TEST_PPROF_BIN (the program, for benches and tests that start their own).
set -eu
cmd=${1:?start|stop}; LAB=${2:?LABDIR}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
DIR="$LAB/pprof"

# Go wants a writable HOME and cache; CI runs as root without a usable HOME.
go_env() {
    mkdir -p "$DIR/gohome" "$DIR/gocache"
    export HOME="$DIR/gohome" GOCACHE="$DIR/gocache" GOPATH="$DIR/gohome/go" GOPROXY=off GOFLAGS= GO111MODULE=on
}

case "$cmd" in
start)
    command -v go >/dev/null || { echo "go not installed (golang-go)"; exit 1; }
    mkdir -p "$DIR"
    go_env
    (cd "$ROOT/tests/lab/pprofgo" && go build -o "$DIR/pprofgo" .)
    rm -f "$DIR/port"
    "$DIR/pprofgo" -addr 127.0.0.1:0 -portfile "$DIR/port" >"$DIR/log" 2>&1 &
    echo $! >"$DIR/pid"
    for _ in $(seq 1 100); do
        if [ -s "$DIR/port" ]; then
            port=$(cat "$DIR/port")
            if curl -fsS "http://127.0.0.1:$port/count" >/dev/null 2>&1; then
                { echo "RB_TEST_PPROF_URL=http://127.0.0.1:$port"
                  echo "RB_TEST_PPROF_BIN=$DIR/pprofgo"; } >"$LAB/pprof.env"
                exit 0
            fi
        fi
        kill -0 "$(cat "$DIR/pid")" 2>/dev/null || { cat "$DIR/log"; exit 1; }
        sleep 0.1
    done
    echo "pprofgo did not answer"; exit 1
    ;;
stop)
    if [ -f "$DIR/pid" ]; then
        kill "$(cat "$DIR/pid")" 2>/dev/null || true
        rm -f "$DIR/pid"
    fi
    rm -f "$LAB/pprof.env"
    ;;
*) echo "usage: $0 start|stop LABDIR"; exit 2 ;;
esac
