#!/usr/bin/env bash
# tests/build/image.sh — the Dockerfile builds the image deploy/ runs. No
# container runtime here, so each stage is checked for what it must get right:
#   build stage    installs DEPS_BUILD only (`make deps-build`), and those
#                  packages provide every pkg-config module, the cjson
#                  archive and luac the build uses; the paths it COPYs are
#                  enough: a tree of only those files builds and installs
#                  (PREFIX=/usr), and the installed binary lists the shipped
#                  book and serves /healthz with its engine from lib/runbook;
#   runtime stage  installs exactly the packages of the libraries the binary
#                  and engine.so name (NEEDED, as dpkg-shlibdeps would) plus
#                  ca-certificates, and runs as the uid deploy/ expects.
# Uses the build in $RB_BUILD (default build) for NEEDED; prints TAP.
# lab: none
. "$(dirname "$0")/../e2e/lib.sh"
BUILD=${RB_BUILD:-build}
DF=$ROOT/Dockerfile
[ -f "$DF" ] || { fail "no Dockerfile"; done_testing; exit 1; }
mkvar() { make -s -C "$ROOT" --no-print-directory -f - print-var <<<"include Makefile
print-var: ; @echo \$($1)"; }
DEPS_BUILD=$(mkvar DEPS_BUILD) PKGS=$(mkvar PKGS)
# pkg_of FILE: its Debian package (usrmerge: also tried as /lib/... and /bin/...)
pkg_of() {
    local f p
    for f in "$1" "${1#/usr}"; do
        p=$(dpkg -S "$f" 2>/dev/null | head -1 | cut -d: -f1); [ -n "$p" ] && { echo "$p"; return 0; }
    done
    return 1
}
in_list() { case " $2 " in *" $1 "*) return 0;; esac; return 1; }

# ---- build stage
grep -q "^RUN make deps-build" "$DF" && ok "the build stage installs DEPS_BUILD (make deps-build)" \
    || fail "the build stage does not run make deps-build"
missing=""
for m in $PKGS; do
    p=$(pkg_of "$(pkg-config --path "$m")"); in_list "$p" "$DEPS_BUILD" || missing="$missing $m($p)"
done
p=$(pkg_of "$(readlink -f "$(cc -print-file-name=liblua5.4-cjson.a)")"); in_list "$p" "$DEPS_BUILD" || missing="$missing cjson($p)"
p=$(pkg_of "$(command -v luac5.4)"); in_list "$p" "$DEPS_BUILD" || missing="$missing luac5.4($p)"
[ -z "$missing" ] && ok "DEPS_BUILD provides every module of PKGS, the cjson archive and luac5.4" \
    || fail "not provided by DEPS_BUILD:$missing"

# a tree of only what the build stage copies
TREE=$T_TMP/src DEST=$T_TMP/dest
mkdir -p "$TREE"
sed -nE 's/^COPY +([^-][^ ]*) +[^ ]+$/\1/p' "$DF" >"$T_TMP/copied"
(cd "$ROOT" && git ls-files -- $(cat "$T_TMP/copied") | tar -T - -cf -) | tar -xf - -C "$TREE"
[ -f "$TREE/Makefile" ] && [ -d "$TREE/engine" ] && ok "the COPY lines name $(wc -l <"$T_TMP/copied") paths" || fail "COPY parse"
check "a tree of only the copied paths builds and installs (PREFIX=/usr)" \
    make -s -C "$TREE" -j2 all install DESTDIR="$DEST" PREFIX=/usr
BIN=$DEST/usr/bin/runbook
cd /
RUNBOOK_PATH= expect_rc "the installed binary lists the shipped TMI book" 0 "$BIN" list tmi
contains "... from PREFIX/share/runbook/runbooks" "$T_TMP/out" "goroutine-leaks"
RUNBOOK_PATH= expect_rc "runbook list (no argument, run from /) lists the installed books" 0 "$BIN" list
contains "... the TMI book among them" "$T_TMP/out" "tmi/goroutine-leaks"
RUNBOOK_PATH= expect_rc "runbook list NOSUCH: exit 2" 2 "$BIN" list nosuch
contains "... naming where books are looked for" "$T_TMP/err" "share/runbook/runbooks"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$T_TMP/state"
RUNBOOK_SERVE_TOKEN=0123456789abcdef0123 XDG_STATE_HOME=$T_TMP/state timeout 20 "$BIN" serve \
    --listen "127.0.0.1:$PORT" --reports "$T_TMP/reports" >"$T_TMP/serve.log" 2>&1 &
SPID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" -o "$T_TMP/health" && break; sleep 0.1; done
kill -TERM $SPID 2>/dev/null; wait $SPID 2>/dev/null
contains "the installed serve (engine from lib/runbook) answers /healthz" "$T_TMP/health" '"status":"ok"'
cd "$ROOT"

# ---- runtime stage
runtime=$(awk '/^FROM/ {n++} n == 2' "$DF" | sed -n '/apt-get install/,/rm -rf/p' | tr -s ' \\\n' ' ' |
    sed -E 's/.*--no-install-recommends (.*) && rm -rf.*/\1/' | tr ' ' '\n' | grep . | sort -u)
need=$( { objdump -p "$BUILD/runbook"; objdump -p "$BUILD/engine.so"; } | awk '$1 == "NEEDED" {print $2}' | sort -u |
    while read -r so; do
        path=$(ldconfig -p | awk -v so="$so" '$1 == so && /x86-64|x86_64/ {print $NF; exit}')
        pkg_of "$(readlink -f "$path")" || pkg_of "$path"
    done | grep -vx libc6 | sort -u)
[ -n "$need" ] || fail "no NEEDED libraries read"
diff <( (echo "$need"; echo ca-certificates) | sort -u) <(echo "$runtime") >"$T_TMP/rtdiff" \
    && ok "the runtime stage installs exactly the NEEDED libraries' packages + ca-certificates ($(echo $need))" \
    || { fail "runtime packages differ from what the binaries need (< needed, > installed)"; sed 's/^/#   /' "$T_TMP/rtdiff"; }
uid=$(sed -nE 's/^ *runAsUser: *([0-9]+).*/\1/p' "$ROOT/deploy/deployment.yaml" | head -1)
grep -qE "^USER $uid(:|$)" "$DF" && ok "the image runs as uid $uid, the Deployment's runAsUser" || fail "USER is not $uid"
done_testing
