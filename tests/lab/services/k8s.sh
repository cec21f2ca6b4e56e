#!/usr/bin/env bash
# tests/lab/services/k8s.sh — the Kubernetes API stand-in (tests/lab/k8s, Go
# standard library only, built here with no module download) on
# https://127.0.0.1:PORT with a CA, server and client certificates made at
# start. See docs/lab.md for what it serves.
#
#   k8s.sh start LABDIR   writes LABDIR/k8s/{ca,client}.{crt,key}, token,
#                         kubeconfig (contexts "lab": bearer token, current;
#                         "lab-cert": client certificate; "lab-tokenfile":
#                         tokenFile), proxy.json (each tmi-api pod to its own
#                         TMI simulator process, service tmi-api-service to all
#                         of them, resolved from LABDIR/*.env when a request
#                         comes), pod-targets.json (Prometheus file_sd: each
#                         tmi-api pod's simulator, label pod) and LABDIR/k8s.env:
#                           RB_TEST_K8S_KUBECONFIG  kubeconfig above
#                           RB_TEST_K8S_URL         https://127.0.0.1:PORT
#                           RB_TEST_K8S_TOKEN_FILE  the bearer token
#                           RB_TEST_K8S_CA          CA certificate (PEM)
#                           RB_TEST_K8S_LOG         request log (JSON lines)
#                           RB_TEST_K8S_BIN         the stand-in, for tests that run their own
#   k8s.sh stop LABDIR    kill the pid recorded at start (idempotent)
set -eu
. "$(dirname "$0")/../lib.sh"
CMD=${1:?usage: k8s.sh start|stop LABDIR}
LAB=${2:?usage: k8s.sh start|stop LABDIR}
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
DIR=$LAB/k8s
PIDFILE=$DIR/k8s.pid

build() {
    # Go wants a writable HOME and cache; CI runs as root without a usable HOME.
    export HOME="$DIR/gohome" GOCACHE="${RB_GOCACHE:-/tmp/rb-lab-gocache}" GOPATH="$DIR/gohome/go" \
        GOPROXY=off GOFLAGS= GO111MODULE=on
    mkdir -p "$HOME"
    # RB_K8S_BUILD_FLAGS: extra `go build` flags, e.g. -race when hunting races
    (cd "$ROOT/tests/lab/k8s" && go build ${RB_K8S_BUILD_FLAGS:-} -o "$DIR/k8s-lab" .)
}

write_kubeconfig() {
    local url=$1
    cat >"$DIR/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster:
    server: $url
    certificate-authority: $DIR/ca.crt
users:
- name: lab-token
  user:
    token: $(cat "$DIR/token")
- name: lab-cert
  user:
    client-certificate: $DIR/client.crt
    client-key: $DIR/client.key
- name: lab-tokenfile
  user:
    tokenFile: $DIR/token
contexts:
- name: lab
  context:
    cluster: lab
    user: lab-token
    namespace: tmi
- name: lab-cert
  context:
    cluster: lab
    user: lab-cert
    namespace: tmi
- name: lab-tokenfile
  context:
    cluster: lab
    user: lab-tokenfile
    namespace: tmi
current-context: lab
preferences: {}
KC
    chmod 600 "$DIR/kubeconfig"
}

start() {
    mkdir -p "$DIR"
    rm -f "$DIR/addr"
    build
    cat >"$DIR/proxy.json" <<'JSON'
{"pods": {"tmi-api": {"8080": "$RB_TEST_TMISIM_URLS", "http": "$RB_TEST_TMISIM_URLS",
                      "6060": ["$RB_TEST_TMISIM_PPROF_URLS", "$RB_TEST_PPROF_URL"],
                      "pprof": ["$RB_TEST_TMISIM_PPROF_URLS", "$RB_TEST_PPROF_URL"]}},
 "services": {"tmi-api-service": {"80": "$RB_TEST_TMISIM_URLS", "http": "$RB_TEST_TMISIM_URLS",
                                  "6060": ["$RB_TEST_TMISIM_PPROF_URLS", "$RB_TEST_PPROF_URL"]}}}
JSON
    "$DIR/k8s-lab" -dir "$DIR" -proxy "$DIR/proxy.json" -pod-targets "$DIR/pod-targets.json" -pod-targets-app tmi-api </dev/null >"$DIR/k8s-lab.log" 2>&1 &
    echo $! >"$PIDFILE"
    if ! wait_up "$PIDFILE" 200 answers; then
        echo "k8s-lab did not answer" >&2
        tail -20 "$DIR/k8s-lab.log" >&2 2>/dev/null || true
        return 1
    fi
    local addr
    addr=$(cat "$DIR/addr")
    write_kubeconfig "https://$addr"
    cat >"$LAB/k8s.env" <<ENV
RB_TEST_K8S_KUBECONFIG=$DIR/kubeconfig
RB_TEST_K8S_URL=https://$addr
RB_TEST_K8S_TOKEN_FILE=$DIR/token
RB_TEST_K8S_CA=$DIR/ca.crt
RB_TEST_K8S_LOG=$DIR/requests.log
RB_TEST_K8S_BIN=$DIR/k8s-lab
ENV
}

# answers: the stand-in wrote its address and serves its health endpoint
answers() {
    [ -s "$DIR/addr" ] && curl -sf --max-time 2 --cacert "$DIR/ca.crt" "https://$(cat "$DIR/addr")/__lab/healthz" >/dev/null
}

stop() { stop_pidfile "$PIDFILE"; }

case $CMD in
    start) start ;;
    stop) stop ;;
    *) echo "usage: k8s.sh start|stop LABDIR" >&2; exit 2 ;;
esac
