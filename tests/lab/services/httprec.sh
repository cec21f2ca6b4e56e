#!/usr/bin/env bash
# httprec: the recording HTTP service (tests/lab/httprec/httprec.py).
# Writes RB_TEST_HTTP_URL and RB_TEST_HTTP_LOG to LABDIR/httprec.env.
set -eu
cmd=$1; lab=$2; dir=$lab/httprec
here=$(cd "$(dirname "$0")/../httprec" && pwd)
case $cmd in
start)
    mkdir -p "$dir"
    python3 "$here/httprec.py" "$dir/port" "$dir/requests.log" >"$dir/server.log" 2>&1 &
    echo $! >"$dir/pid"
    for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
    [ -s "$dir/port" ] || { echo "httprec did not start"; cat "$dir/server.log"; exit 1; }
    port=$(cat "$dir/port")
    printf 'RB_TEST_HTTP_URL=http://127.0.0.1:%s\nRB_TEST_HTTP_LOG=%s\n' "$port" "$dir/requests.log" >"$lab/httprec.env"
    ;;
stop)
    [ -f "$dir/pid" ] && kill "$(cat "$dir/pid")" 2>/dev/null || true
    rm -f "$dir/pid"
    ;;
esac
