#!/usr/bin/env bash
# tests/fuzz/run.sh — `make fuzz`: builds each libFuzzer target here with
# clang -fsanitize=fuzzer,address,undefined and runs it for FUZZ_SECONDS
# (default 60) from the seeds in tests/fuzz/seeds/NAME, in a scratch corpus
# under build/fuzz. Any crash, leak or UB report fails the run; the input
# that caused it is left in build/fuzz/NAME/ and named in the output.
#   FUZZ_SECONDS=10 bash tests/fuzz/run.sh [NAME...]
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
SECS=${FUZZ_SECONDS:-60}
OUT=${FUZZ_OUT:-${RB_BUILD:-build}/fuzz}
CC=${FUZZ_CC:-clang}
FLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iengine"

# target -> the engine sources it links (pure C parsers only: no Lua, no network)
declare -A SRC=(
    [pprof]="engine/core/pprof.c engine/core/pprof_top.c engine/core/pprof_flame.c"
    [goroutine]="engine/core/goroutine.c"
    [kubeconfig]="engine/core/kubeconfig.c"
    [pg_sql]="engine/core/pg_sql.c"
)
declare -A LIBS=([pprof]="-lz" [goroutine]="" [kubeconfig]="-lyaml" [pg_sql]="")
declare -A MAXLEN=([pprof]=65536 [goroutine]=65536 [kubeconfig]=16384 [pg_sql]=8192)

names=${*:-${!SRC[*]}}
command -v "$CC" >/dev/null || { echo "fuzz: $CC not found"; exit 1; }
failed=0
for name in $names; do
    [ -n "${SRC[$name]:-}" ] || { echo "fuzz: no target $name"; failed=1; continue; }
    dir="$OUT/$name"
    mkdir -p "$dir/corpus"
    cp -n tests/fuzz/seeds/"$name"/* "$dir/corpus/" 2>/dev/null
    # shellcheck disable=SC2086
    if ! $CC $FLAGS -o "$dir/fuzz_$name" "tests/fuzz/fuzz_$name.c" ${SRC[$name]} ${LIBS[$name]}; then
        echo "not ok - fuzz $name: build failed"; failed=1; continue
    fi
    echo "# fuzz $name for ${SECS}s"
    if (cd "$dir" && UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ./"fuzz_$name" \
            -max_total_time="$SECS" -max_len="${MAXLEN[$name]}" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 corpus >"run.log" 2>&1); then
        echo "ok - fuzz $name: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/run.log" | grep -o '[0-9]*$') runs, no crash"
    else
        echo "not ok - fuzz $name: crash (see $dir/run.log)"
        grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$dir/run.log" | head -10 | sed 's/^/#   /'
        failed=1
    fi
done
exit $failed
