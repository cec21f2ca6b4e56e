#!/usr/bin/env bash
# tests/build/fresh_machine.sh — `make demo` and `make test` work the first
# time on a machine without the packages: they install them (`make deps`),
# then build, in one invocation. Runs both on a copy of the tree (the files
# git tracks, as they are in the working tree) with stubs first on PATH:
#   dpkg-query  no package is installed;
#   pkg-config  finds nothing until apt-get has "installed" (then the real one);
#   apt-get     records its arguments; `install` marks the packages installed;
#   cc          records each compile with whether pkg-config's flags were on
#               it, then runs the real compiler;
# and the copy's tools/demo.sh and tests/run replaced by stubs that record
# that they ran (no lab, no suites). Prints TAP (tests/e2e/lib.sh).
# lab: none
. "$(dirname "$0")/../e2e/lib.sh"
REAL_CC=$(command -v cc); REAL_PKG=$(command -v pkg-config)
[ -n "$REAL_CC" ] && [ -n "$REAL_PKG" ] || { fail "cc and pkg-config are installed"; done_testing; exit 1; }
WANT_CFLAG=$("$REAL_PKG" --cflags lua5.4 | awk '{print $1}')    # e.g. -I/usr/include/lua5.4
WANT_LIB=$("$REAL_PKG" --libs libpq | awk '{print $1}')         # -lpq
TREE=$T_TMP/tree STUBS=$T_TMP/stubs LOGF=$T_TMP/calls.log MARK=$T_TMP/installed
mkdir -p "$TREE" "$STUBS"

copy_tree() {
    if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
        git -C "$ROOT" ls-files -z | (cd "$ROOT" && tar --null -T - --ignore-failed-read -cf - 2>/dev/null) |
            tar -xf - -C "$TREE"
    else
        (cd "$ROOT" && tar --exclude='./build*' -cf - .) | tar -xf - -C "$TREE"
    fi
}

write_stubs() {
    printf '#!/bin/sh\nexit 1\n' >"$STUBS/dpkg-query"
    cat >"$STUBS/pkg-config" <<EOF
#!/bin/sh
[ -f "$MARK" ] && exec "$REAL_PKG" "\$@"
echo "pkg-config-missing \$*" >>"$LOGF"; exit 1
EOF
    cat >"$STUBS/apt-get" <<EOF
#!/bin/sh
echo "apt-get \$*" >>"$LOGF"
[ "\$1" = install ] && touch "$MARK"
exit 0
EOF
    cat >"$STUBS/cc" <<EOF
#!/bin/sh
case " \$* " in
*" -c "*) src=; for a; do case \$a in *.c) src=\$a;; esac; done
          case " \$* " in *" $WANT_CFLAG "*) f=flags;; *) f=noflags;; esac
          echo "compile \$f \$src" >>"$LOGF";;
*" -shared "*) case " \$* " in *" $WANT_LIB "*) f=libs;; *) f=nolibs;; esac
          echo "link-engine \$f" >>"$LOGF";;
esac
exec "$REAL_CC" "\$@"
EOF
    cat >"$TREE/tools/demo.sh" <<'EOF'
#!/bin/sh
# stub: the real demo would start a lab; record that it ran and what it found.
echo "demo ran runbook=$([ -x build/runbook ] && echo yes) engine=$(build/runbook lua -e 'io.write(require("rb.yaml").encode({a = 1}))' 2>&1 | tr -d '\n')" >>"$LOGF"
EOF
    cat >"$TREE/tests/run" <<'EOF'
#!/bin/sh
# stub: record that the harness ran and which unit binaries it would find.
echo "tests/run ran units=$(ls "${RB_BUILD:-build}"/tests/ | grep -c '^test_')" >>"$LOGF"
EOF
    sed -i "s|\$LOGF|$LOGF|g" "$TREE/tools/demo.sh" "$TREE/tests/run"
    chmod +x "$STUBS"/*
}

# fresh_make ARGS...: make in the copy as on a fresh machine (stubs first on
# PATH, no inherited make or compiler settings); output in $T_TMP/make.out,
# its tail on stdout (shown when a check fails).
fresh_make() {
    env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u CC -u CFLAGS -u BUILD PATH="$STUBS:$PATH" \
        make -C "$TREE" "$@" >"$T_TMP/make.out" 2>&1
    local rc=$?
    tail -15 "$T_TMP/make.out"
    return $rc
}

# first_line PATTERN: line number of the first call-log line matching PATTERN (or 999999).
first_line() { grep -nE "$1" "$LOGF" | head -1 | cut -d: -f1 | grep . || echo 999999; }

# installed_before_compiling NAME: apt-get install is logged before the first compile.
installed_before_compiling() {
    local i c
    i=$(first_line '^apt-get install'); c=$(first_line '^compile ')
    if [ "$i" -lt "$c" ]; then ok "$1"; else fail "$1 (apt-get install at line $i, first compile at $c)"; sed 's/^/#   /' "$LOGF" | head -8; fi
}

copy_tree; write_stubs; : >"$LOGF"

# Parsing the Makefile must not ask pkg-config (it would get nothing before deps).
fresh_make -n deps >/dev/null
lacks "parsing the Makefile runs no pkg-config" "$LOGF" "pkg-config"
# Without the packages, a plain make stops with what to do.
expect_rc "make without the packages fails" 2 fresh_make -n all
contains "... and says to run make deps" "$T_TMP/make.out" "run \`make deps\`"

: >"$LOGF"
check "make demo on a fresh machine succeeds in one invocation" fresh_make -j2 demo
contains "make demo installs the missing packages" "$LOGF" "apt-get install -y -qq liblua5.4-dev"
installed_before_compiling "the packages are installed before anything is compiled"
lacks "every compile has pkg-config's flags ($WANT_CFLAG)" "$LOGF" "compile noflags"
contains "engine.so links the libraries pkg-config names ($WANT_LIB)" "$LOGF" "link-engine libs"
contains "the demo runs on the binary and engine just built" "$LOGF" "demo ran runbook=yes engine=a: 1"

# make test on a fresh machine: the build is there, the unit tests are not.
rm -f "$MARK"; : >"$LOGF"
check "make test on a fresh machine succeeds in one invocation" fresh_make -j2 test
contains "make test installs the missing packages" "$LOGF" "apt-get install"
installed_before_compiling "... before compiling the unit tests"
lacks "... every unit test compiled with pkg-config's flags" "$LOGF" "compile noflags"
n_units=$(ls "$TREE"/tests/unit/test_*.c | wc -l)
contains "the harness runs with every unit test built" "$LOGF" "tests/run ran units=$n_units"

# Header dependencies (-MMD -MP): touching a header rebuilds its users only.
touch "$TREE/engine/core/pprof.h"
fresh_make -n all >/dev/null
contains "a changed header rebuilds the files that include it" "$T_TMP/make.out" "engine/core/pprof.c"
lacks "... and not the others" "$T_TMP/make.out" "engine/core/redis_url.c"
done_testing
