#!/usr/bin/env bash
# tests/build/engine_layout.sh — the engine is a file beside the binary:
# `make install DESTDIR=... PREFIX=/usr` puts it in PREFIX/lib/runbook/, the
# installed binary finds it from its real path (run from /, through a
# symlink), a missing engine or a missing library of it is reported at the
# first binding use naming the file, and commands that only read runbooks
# still work. Also: engine.so exports one symbol and names its libraries;
# the binary does not; parser unit tests link no binding. Uses the build in
# $RB_BUILD (default build); prints TAP (tests/e2e/lib.sh).
# lab: none
. "$(dirname "$0")/../e2e/lib.sh"
BUILD=${RB_BUILD:-build}
DEST=$T_TMP/dest
BIN=$DEST/usr/bin/runbook LIBDIR=$DEST/usr/lib/runbook
# A section whose step uses a binding.
mkdir -p "$T_TMP/book"; export RUNBOOK_AUDIT=$T_TMP/audit.jsonl
cat >"$T_TMP/book/s.lua" <<'EOF'
local rb = require "rb"
local yaml = require "rb.yaml"
local S = rb.section { id = "s", title = "S", symptoms = { "slow" } }
S:investigate("Look", function(ctx) ctx:log(yaml.encode({ a = 1 })) end)
return S
EOF
# run_refused NAME: running that section stops before any step (exit 2: the
# audit log, in the engine, opens first); its output in $T_TMP/all.
run_refused() {
    expect_rc "$1" 2 "$BIN" run "$T_TMP/book/s.lua" --investigate-only
    cat "$T_TMP/out" "$T_TMP/err" >"$T_TMP/all"
}
# MAPS: the engine.so / memfd mappings of a runbook process that used the engine
MAPS='require("rb.yaml").encode({}) for l in io.lines("/proc/self/maps") do
  if l:find("engine.so", 1, true) or l:find("memfd", 1, true) then print(l:match("%S+$")) end end'

check "make install DESTDIR=... PREFIX=/usr" \
    make -s -C "$ROOT" BUILD="$BUILD" install DESTDIR="$DEST" PREFIX=/usr
check "the engine is installed in PREFIX/lib/runbook" test -f "$LIBDIR/engine.so"

cd /
expect_rc "the installed binary, run from /, runs a step using the engine" 0 "$BIN" run "$T_TMP/book/s.lua" --investigate-only
contains "... and the engine works" "$T_TMP/out" "a: 1"
expect_rc "the engine mapped is the installed file" 0 "$BIN" lua -e "$MAPS"
contains "... $LIBDIR/engine.so" "$T_TMP/out" "$LIBDIR/engine.so"
lacks "... not a memfd" "$T_TMP/out" "memfd"
mkdir -p "$T_TMP/elsewhere"; ln -s "$BIN" "$T_TMP/elsewhere/runbook"
expect_rc "through a symlink elsewhere, the real install's engine is found" 0 "$T_TMP/elsewhere/runbook" lua -e "$MAPS"
contains "... $LIBDIR/engine.so" "$T_TMP/out" "$LIBDIR/engine.so"

# Without the engine file: reading runbooks works, a binding says what is missing.
mv "$LIBDIR/engine.so" "$T_TMP/engine.so.saved"
expect_rc "without engine.so, runbook list still works" 0 "$BIN" list "$ROOT/runbooks"
contains "... and lists the book" "$T_TMP/out" "tmi/"
run_refused "without engine.so, runbook run stops before any step"
contains "... naming the file looked for" "$T_TMP/all" "engine library not found: looked for $LIBDIR/engine.so"

# An engine whose library is missing (libgone.so, removed after linking).
cat >"$T_TMP/gone.c" <<'EOF'
int gone(void) { return 1; }
EOF
cat >"$T_TMP/fake.c" <<'EOF'
int gone(void);
struct entry { int abi; const void *modules, *init, *redact; };
__attribute__((visibility("default"))) const struct entry rb_engine = {999, 0, 0, 0};
int use(void) { return gone(); }
EOF
cc -shared -fPIC -o "$T_TMP/libgone.so" "$T_TMP/gone.c"
cc -shared -fPIC -o "$LIBDIR/engine.so" "$T_TMP/fake.c" -L"$T_TMP" -lgone
rm "$T_TMP/libgone.so"
run_refused "an engine whose library is missing: run stops before any step"
contains "... saying the engine cannot load" "$T_TMP/all" "cannot load the engine library: "
contains "... naming the library (libgone.so)" "$T_TMP/all" "libgone.so: cannot open shared object file"
# An engine built for another interface.
cc -shared -fPIC -o "$T_TMP/libgone.so" "$T_TMP/gone.c"
cc -shared -fPIC -o "$LIBDIR/engine.so" "$T_TMP/fake.c" -L"$T_TMP" -lgone -Wl,-rpath,"$T_TMP"
run_refused "an engine of another interface is refused"
contains "... saying so" "$T_TMP/all" "is built for another runbook (engine interface 999"
mv "$T_TMP/engine.so.saved" "$LIBDIR/engine.so"
cd "$ROOT"

# What the files say to packagers.
nm -D --defined-only "$BUILD/engine.so" | awk '{print $3}' >"$T_TMP/exports"
check "engine.so exports exactly one symbol, rb_engine" test "$(cat "$T_TMP/exports")" = rb_engine
readelf -d "$BUILD/engine.so" >"$T_TMP/engine.dyn"
for lib in libcurl libpq libhiredis libyaml; do contains "engine.so needs $lib" "$T_TMP/engine.dyn" "[$lib"; done
readelf -d "$BUILD/runbook" >"$T_TMP/runbook.dyn"
for lib in libcurl libpq libhiredis; do lacks "the binary does not load $lib" "$T_TMP/runbook.dyn" "[$lib"; done

# Unit tests of the pure parsers link engine/core objects only.
make -s -C "$ROOT" BUILD="$BUILD" units >/dev/null 2>&1
for t in test_pprof test_goroutine test_kubeconfig test_pg_sql test_redis; do
    [ -x "$BUILD/tests/$t" ] || { fail "$t is built"; continue; }
    n=$(nm "$BUILD/tests/$t" | grep -c 'luaopen_rb_\|rb_gate_\|rb_http_')
    check "$t links no binding, gate or transport" test "$n" = 0
    readelf -d "$BUILD/tests/$t" >"$T_TMP/t.dyn"
    lacks "... nor libcurl" "$T_TMP/t.dyn" "[libcurl"
done
done_testing
