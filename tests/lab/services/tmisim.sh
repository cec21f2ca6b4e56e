#!/usr/bin/env bash
# tests/lab/services/tmisim.sh — the TMI simulator (tests/lab/tmisim): builds
# it with the standard library only (no module download), creates database
# tmi with a seeded threat_models table in the lab's PostgreSQL, and runs it
# on 127.0.0.1 with the lab's Redis as its cache and a light built-in load
# (TMISIM_LOAD_RPS, default 5 requests a second).
#
#   tmisim.sh start LABDIR   needs LABDIR/pg.env (RB_TEST_PG_SUPERDSN) and
#                            LABDIR/redis.env (RB_TEST_REDIS_URL), written by
#                            pg.sh and redis.sh, which start before this one;
#                            writes LABDIR/tmisim.env:
#                              RB_TEST_TMISIM_URL        http://127.0.0.1:PORT (API, /metrics, /admin)
#                              RB_TEST_TMISIM_PPROF_URL  http://127.0.0.1:PORT (/debug/pprof/ only)
#                              RB_TEST_TMISIM_ADDR       127.0.0.1:PORT (a Prometheus scrape target)
#                              RB_TEST_TMISIM_PG_DSN     libpq DSN of database tmi as role tmi
#                                                        (the simulator's own, over the unix socket)
#                              RB_TEST_TMISIM_PG_URL     postgresql://tmi:tmi@127.0.0.1:PORT/tmi (TCP,
#                                                        SCRAM): the seed's `psql -U tmi`
#                            and LABDIR/tmisim/prom-targets.json (Prometheus file_sd,
#                            which tmiprom.sh watches).
#   tmisim.sh stop LABDIR    SIGTERM (the simulator switches its faults off and
#                            releases its PostgreSQL sessions), SIGKILL after 15 s.
set -u
ACTION=${1:-}; LAB=${2:-}
[ -n "$ACTION" ] && [ -n "$LAB" ] || { echo "usage: $0 start|stop LABDIR" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
DIR=$LAB/tmisim
PIDFILE=$DIR/tmisim.pid

die() { echo "tmisim: $*" >&2; exit 1; }

stop() {
    [ -f "$PIDFILE" ] || { rm -f "$LAB/tmisim.env"; return 0; }
    local pid; pid=$(cat "$PIDFILE")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$PIDFILE" "$LAB/tmisim.env"
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

# addr_field KEY: a value of the simulator's address file (key=value lines).
addr_field() { sed -n "s/^$1=//p" "$DIR/addr.txt"; }

start() {
    stop
    need_env pg.env RB_TEST_PG_SUPERDSN
    need_env pg.env RB_TEST_PG_PORT
    need_env redis.env RB_TEST_REDIS_URL
    mkdir -p "$DIR"
    build
    rm -f "$DIR/addr.txt"
    # -init works as the superuser; the API then connects as role tmi, like
    # the seed's application (so `psql -U tmi` can see and end its sessions).
    # DSN, URL and password go in the environment, out of `ps` output.
    TMISIM_PG_DSN=$RB_TEST_PG_SUPERDSN TMISIM_REDIS_URL=$RB_TEST_REDIS_URL TMISIM_PG_PASSWORD=tmi \
    "$DIR/tmisim" -init -pg-database tmi -role-password tmi -pg-user tmi \
        -addr 127.0.0.1:0 -pprof-addr 127.0.0.1:0 -addr-file "$DIR/addr.txt" \
        -load-rps "${TMISIM_LOAD_RPS:-5}" >"$DIR/tmisim.log" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq 600); do
        [ -f "$DIR/addr.txt" ] && break
        kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { cat "$DIR/tmisim.log" >&2; die "exited during start"; }
        sleep 0.1
    done
    [ -f "$DIR/addr.txt" ] || { cat "$DIR/tmisim.log" >&2; die "not listening after 60 s"; }
    local addr pprof url dsn
    addr=$(addr_field addr); pprof=$(addr_field pprof_addr)
    url=http://$addr
    curl -fsS --max-time 10 "$url/health" >/dev/null || { cat "$DIR/tmisim.log" >&2; die "/health failed"; }
    # One warmup so the lab starts with the cache the seed runbook expects.
    curl -fsS --max-time 30 -X POST "$url/admin/cache/warmup" >/dev/null || die "cache warmup failed"
    printf '[{"targets":["%s"],"labels":{"job":"tmi-api"}}]\n' "$addr" >"$DIR/prom-targets.json"
    {
        echo "RB_TEST_TMISIM_URL=$url"
        echo "RB_TEST_TMISIM_PPROF_URL=http://$pprof"
        echo "RB_TEST_TMISIM_ADDR=$addr"
        echo "RB_TEST_TMISIM_PG_URL=postgresql://tmi:tmi@127.0.0.1:$RB_TEST_PG_PORT/tmi"
        dsn=$(addr_field pg_dsn)
        case $dsn in
            *\'*) printf 'RB_TEST_TMISIM_PG_DSN=%q\n' "$dsn" ;;
            *) printf "RB_TEST_TMISIM_PG_DSN='%s'\n" "$dsn" ;;
        esac
    } >"$LAB/tmisim.env"
    echo "tmisim: $url (pprof http://$pprof)"
}

case $ACTION in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop LABDIR" >&2; exit 2 ;;
esac
