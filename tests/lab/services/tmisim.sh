#!/usr/bin/env bash
# tests/lab/services/tmisim.sh — the TMI simulator (tests/lab/tmisim), one
# process per tmi-api pod of the Kubernetes stand-in (TMISIM_PODS, default 3,
# the deployment's replicas): builds it with the standard library only (no
# module download), creates database tmi with a seeded threat_models table in
# the lab's PostgreSQL, and runs the processes on 127.0.0.1 with the lab's
# Redis as their cache and a light built-in load (TMISIM_LOAD_RPS, default 5
# requests a second in all). The stand-in (k8s.sh) gives each pod its own
# process and writes LABDIR/k8s/pod-targets.json, which Prometheus scrapes
# (tmiprom.sh) and the simulators read to forward pod=NAME fault switches.
#
#   tmisim.sh start LABDIR   needs LABDIR/pg.env (RB_TEST_PG_SUPERDSN) and
#                            LABDIR/redis.env (RB_TEST_REDIS_URL), written by
#                            pg.sh and redis.sh, which start before this one;
#                            writes LABDIR/tmisim.env:
#                              RB_TEST_TMISIM_URL        http://127.0.0.1:PORT (process 0: API, /metrics, /admin)
#                              RB_TEST_TMISIM_PPROF_URL  http://127.0.0.1:PORT (process 0: /debug/pprof/ only)
#                              RB_TEST_TMISIM_ADDR       127.0.0.1:PORT (process 0)
#                              RB_TEST_TMISIM_URLS       every process's API URL, comma-separated
#                              RB_TEST_TMISIM_PPROF_URLS every process's pprof URL, comma-separated
#                              RB_TEST_TMISIM_PG_DSN     libpq DSN of database tmi as role tmi
#                                                        (the simulator's own, over the unix socket)
#                              RB_TEST_TMISIM_PG_URL     postgresql://tmi:tmi@127.0.0.1:PORT/tmi (TCP,
#                                                        SCRAM): the seed's `psql -U tmi`
#   tmisim.sh stop LABDIR    SIGTERM (each process switches its faults off and
#                            releases its PostgreSQL sessions), SIGKILL after 15 s.
set -u
ACTION=${1:-}; LAB=${2:-}
[ -n "$ACTION" ] && [ -n "$LAB" ] || { echo "usage: $0 start|stop LABDIR" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
DIR=$LAB/tmisim

die() { echo "tmisim: $*" >&2; exit 1; }

# stop: SIGTERM every process (each switches its faults off), SIGKILL after 15 s.
stop() {
    local f pid
    for f in "$DIR"/tmisim-*.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        kill -TERM "$pid" 2>/dev/null
    done
    for f in "$DIR"/tmisim-*.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
        rm -f "$f"
    done
    rm -f "$LAB/tmisim.env"
}

# need_env FILE VAR: source FILE from the lab and insist VAR is set in it.
need_env() {
    [ -f "$LAB/$1" ] || die "$LAB/$1 is missing: tests/lab/services/${1%.env}.sh must start before tmisim"
    set -a; . "$LAB/$1"; set +a
    [ -n "${!2:-}" ] || die "$LAB/$1 does not set $2"
}

build() {
    command -v go >/dev/null || die "go not found (Debian package golang-go)"
    (cd "$ROOT/tests/lab/tmisim" &&
        GOPROXY=off GOFLAGS= GO111MODULE=on GOTOOLCHAIN=local \
        GOCACHE="$DIR/gocache" GOPATH="$DIR/gopath" go build -o "$DIR/tmisim" .) ||
        die "go build failed"
}

# addr_field I KEY: a value of process I's address file (key=value lines).
addr_field() { sed -n "s/^$2=//p" "$DIR/addr-$1.txt"; }

# run_pod I ARGS...: simulator process I (one per tmi-api pod) in the background.
run_pod() {
    local i=$1; shift
    rm -f "$DIR/addr-$i.txt"
    TMISIM_PG_DSN=$RB_TEST_PG_SUPERDSN TMISIM_REDIS_URL=$RB_TEST_REDIS_URL TMISIM_PG_PASSWORD=tmi \
    "$DIR/tmisim" -pg-database tmi -pg-user tmi -addr 127.0.0.1:0 -pprof-addr 127.0.0.1:0 \
        -addr-file "$DIR/addr-$i.txt" -pods-file "$LAB/k8s/pod-targets.json" -load-rps "$RPS" "$@" \
        >"$DIR/tmisim-$i.log" 2>&1 </dev/null &
    echo $! >"$DIR/tmisim-$i.pid"
}

# wait_pod I: until process I wrote its address file (60 s at most).
wait_pod() {
    for _ in $(seq 600); do
        [ -f "$DIR/addr-$1.txt" ] && return 0
        kill -0 "$(cat "$DIR/tmisim-$1.pid")" 2>/dev/null || { cat "$DIR/tmisim-$1.log" >&2; die "pod $1 exited during start"; }
        sleep 0.1
    done
    cat "$DIR/tmisim-$1.log" >&2; die "pod $1 not listening after 60 s"
}

start() {
    stop
    need_env pg.env RB_TEST_PG_SUPERDSN
    need_env pg.env RB_TEST_PG_PORT
    need_env redis.env RB_TEST_REDIS_URL
    mkdir -p "$DIR"
    build
    local n=${TMISIM_PODS:-3} i urls="" pprofs=""
    RPS=$(awk -v r="${TMISIM_LOAD_RPS:-5}" -v n="$n" 'BEGIN { printf "%.3g", r / n }')
    # Process 0 runs -init (as the superuser) and is the lab's one PostgreSQL
    # exporter; the API then connects as role tmi, like the seed's application
    # (so `psql -U tmi` can see and end its sessions). DSN, URL and password
    # go in the environment, out of `ps` output.
    run_pod 0 -init -role-password tmi -pg-exporter
    wait_pod 0
    for i in $(seq 1 $((n - 1))); do run_pod "$i"; done
    for i in $(seq 1 $((n - 1))); do wait_pod "$i"; done
    for i in $(seq 0 $((n - 1))); do
        curl -fsS --max-time 10 "http://$(addr_field "$i" addr)/health" >/dev/null || die "pod $i: /health failed"
        urls=$urls${urls:+,}http://$(addr_field "$i" addr)
        pprofs=$pprofs${pprofs:+,}http://$(addr_field "$i" pprof_addr)
    done
    local url=http://$(addr_field 0 addr)
    # One warmup so the lab starts with the cache the seed runbook expects.
    curl -fsS --max-time 30 -X POST "$url/admin/cache/warmup" >/dev/null || die "cache warmup failed"
    {
        echo "RB_TEST_TMISIM_URL=$url"
        echo "RB_TEST_TMISIM_PPROF_URL=http://$(addr_field 0 pprof_addr)"
        echo "RB_TEST_TMISIM_ADDR=$(addr_field 0 addr)"
        echo "RB_TEST_TMISIM_URLS=$urls"
        echo "RB_TEST_TMISIM_PPROF_URLS=$pprofs"
        echo "RB_TEST_TMISIM_PG_URL=postgresql://tmi:tmi@127.0.0.1:$RB_TEST_PG_PORT/tmi"
        dsn=$(addr_field 0 pg_dsn)
        case $dsn in
            *\'*) printf 'RB_TEST_TMISIM_PG_DSN=%q\n' "$dsn" ;;
            *) printf "RB_TEST_TMISIM_PG_DSN='%s'\n" "$dsn" ;;
        esac
    } >"$LAB/tmisim.env"
    echo "tmisim: $n pods: $urls (pprof $pprofs)"
}

case $ACTION in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop LABDIR" >&2; exit 2 ;;
esac
