# tests/lab/lib.sh — shell helpers the lab service scripts share (sourced).

# stop_pidfile FILE: TERM the process whose pid FILE holds, wait up to 5 s,
# then KILL; removes FILE. Idempotent: no file or no process is fine.
stop_pidfile() {
    local pid i
    pid=$(cat "$1" 2>/dev/null) || return 0
    [ -n "$pid" ] || { rm -f "$1"; return 0; }
    kill "$pid" 2>/dev/null || { rm -f "$1"; return 0; }
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$1"; return 0; }
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$1"
}

# free_port: a TCP port on 127.0.0.1 nothing listens on right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_up PIDFILE TRIES COMMAND...: run COMMAND every 0.1 s until it succeeds
# (0), the process in PIDFILE dies or TRIES runs out (1).
wait_up() {
    local pidfile=$1 tries=$2 i
    shift 2
    for i in $(seq 1 "$tries"); do
        "$@" && return 0
        kill -0 "$(cat "$pidfile")" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# lab_environments: the configuration block of the lab's targets (the TMI
# book's environment "lab", from the services' RB_TEST_* variables): make lab's
# config file, and the e2e tests that run books against the lab. tests/run
# reads only a test file for the services it needs: a test that calls this
# declares "# lab: tmisim tmiprom k8s pg redis" itself.
lab_environments() {
    cat <<YAML
environments:
  lab:
    prometheus: $RB_TEST_TMIPROM_URL
    postgres: $RB_TEST_TMISIM_PG_URL
    redis: $RB_TEST_REDIS_URL
    kubeconfig: $RB_TEST_K8S_KUBECONFIG
    kube_context: lab
    namespace: tmi
    http: { api: $RB_TEST_TMISIM_URL }
YAML
}
