#!/usr/bin/env bash
# tests/lab/services/pg.sh — a throwaway PostgreSQL 15 cluster for the spec and
# e2e suites (see README.md here).
#
#   pg.sh start LABDIR   initdb into LABDIR/pg/data, start on 127.0.0.1:PORT with
#                        every statement logged to LABDIR/pg/statements.log,
#                        create role `rb` (SCRAM password) and database `rbtest`
#                        (with the dblink extension, for the read-guard specs),
#                        write LABDIR/pg.env
#   pg.sh stop  LABDIR   pg_ctl stop -m immediate (idempotent)
#
# The server runs as the `postgres` user when started by root (initdb refuses
# root); the unix socket lives in LABDIR/pg/run, where the superuser connects
# with `trust` for test setup (RB_TEST_PG_SUPERDSN). TCP needs the password.
set -eu
. "$(dirname "$0")/../lib.sh"
CMD=${1:?usage: pg.sh start|stop LABDIR}
LAB=${2:?usage: pg.sh start|stop LABDIR}
BIN=${RB_PG_BIN:-/usr/lib/postgresql/15/bin}
DIR=$LAB/pg
DATA=$DIR/data

# as_pg CMD...: run as the cluster owner (postgres when we are root).
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
    mkdir -p "$DIR/run"
    chmod 755 "$DIR" "$DIR/run"
    [ "$(id -u)" = 0 ] && chown postgres: "$DIR" "$DIR/run"
    local port pass
    port=$(free_port)
    pass=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
    as_pg "$BIN/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >"$DIR/initdb.log" 2>&1
    cat >>"$DATA/postgresql.conf" <<CONF
# runbook lab
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$DIR/run'
fsync = off
synchronous_commit = off
full_page_writes = off
logging_collector = off
log_destination = 'stderr'
log_statement = 'all'
log_line_prefix = '%m [%p] %u@%d '
CONF
    : >"$DIR/statements.log"
    chmod 644 "$DIR/statements.log"
    [ "$(id -u)" = 0 ] && chown postgres: "$DIR/statements.log"
    as_pg "$BIN/pg_ctl" -D "$DATA" -l "$DIR/statements.log" -w -t 60 start >"$DIR/pg_ctl.log" 2>&1
    head -1 "$DATA/postmaster.pid" >"$DIR/postgres.pid"

    local super="host=$DIR/run port=$port user=postgres"
    "$BIN/psql" -X -q -v ON_ERROR_STOP=1 "$super dbname=postgres" <<SQL
CREATE ROLE rb LOGIN PASSWORD '$pass';
CREATE DATABASE rbtest OWNER rb;
GRANT pg_monitor, pg_signal_backend TO rb;
GRANT ALTER SYSTEM ON PARAMETER work_mem, shared_buffers TO rb;
\connect rbtest
GRANT EXECUTE ON FUNCTION pg_reload_conf() TO rb;
-- an extension with effects that a read must not reach (security_pg_spec)
CREATE EXTENSION dblink;
SQL
    cat >"$LAB/pg.env" <<ENV
RB_TEST_PG_DSN=postgresql://rb:$pass@127.0.0.1:$port/rbtest
RB_TEST_PG_SUPERDSN='$super dbname=rbtest'
RB_TEST_PG_LOG=$DIR/statements.log
RB_TEST_PG_PORT=$port
RB_TEST_PG_SOCKET=$DIR/run
ENV
}

stop() {
    [ -f "$DATA/postmaster.pid" ] || return 0
    as_pg "$BIN/pg_ctl" -D "$DATA" stop -m immediate -w -t 30 >/dev/null 2>&1 || {
        local pid
        pid=$(cat "$DIR/postgres.pid" 2>/dev/null) && [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    }
    return 0
}

case $CMD in
    start) start ;;
    stop) stop ;;
    *) echo "usage: pg.sh start|stop LABDIR" >&2; exit 2 ;;
esac
