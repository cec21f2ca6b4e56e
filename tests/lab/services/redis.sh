#!/usr/bin/env bash
# tests/lab/services/redis.sh — a throwaway Redis 7 for the spec and e2e suites
# (see README.md here).
#
#   redis.sh start LABDIR   redis-server on 127.0.0.1:PORT and a unix socket
#                           LABDIR/redis/redis.sock, no persistence, AUTH
#                           required, every command in SLOWLOG (slower than 0 us,
#                           1024 entries) so helpers have entries to find; an ACL
#                           user `rb` with its own password; writes LABDIR/redis.env
#   redis.sh stop  LABDIR   kill the pid recorded at start (idempotent)
set -eu
. "$(dirname "$0")/../lib.sh"
CMD=${1:?usage: redis.sh start|stop LABDIR}
LAB=${2:?usage: redis.sh start|stop LABDIR}
DIR=$LAB/redis
PIDFILE=$DIR/redis.pid

secret() { head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

start() {
    mkdir -p "$DIR"
    local port pass upass
    port=$(free_port)
    pass=$(secret)
    upass=$(secret)
    # Config file rather than flags: the ACL user line and the passwords stay
    # out of `ps` output.
    cat >"$DIR/redis.conf" <<CONF
port $port
bind 127.0.0.1
protected-mode yes
unixsocket $DIR/redis.sock
unixsocketperm 700
dir $DIR
save ""
appendonly no
daemonize no
logfile $DIR/redis.log
requirepass $pass
user rb on >$upass ~* &* +@all
slowlog-log-slower-than 0
slowlog-max-len 1024
CONF
    chmod 600 "$DIR/redis.conf"
    redis-server "$DIR/redis.conf" </dev/null >/dev/null 2>&1 &
    echo $! >"$PIDFILE"
    if ! wait_up "$PIDFILE" 100 pongs "$pass" "$port"; then
        echo "redis-server did not answer on 127.0.0.1:$port" >&2
        tail -20 "$DIR/redis.log" >&2 2>/dev/null || true
        return 1
    fi
    cat >"$LAB/redis.env" <<ENV
RB_TEST_REDIS_URL=redis://:$pass@127.0.0.1:$port/0
RB_TEST_REDIS_USER_URL=redis://rb:$upass@127.0.0.1:$port/0
RB_TEST_REDIS_PORT=$port
RB_TEST_REDIS_PASSWORD=$pass
RB_TEST_REDIS_SOCKET=$DIR/redis.sock
RB_TEST_REDIS_PID=$(cat "$PIDFILE")
ENV
}

# pongs PASSWORD PORT: the server answers PING
pongs() {
    REDISCLI_AUTH=$1 redis-cli -h 127.0.0.1 -p "$2" PING 2>/dev/null | grep -q PONG
}

stop() { stop_pidfile "$PIDFILE"; }

case "$CMD" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: redis.sh start|stop LABDIR" >&2; exit 2 ;;
esac
