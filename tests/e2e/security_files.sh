#!/usr/bin/env bash
# security_files.sh — files the engine writes, and bombs through the whole
# binary (issue 11, classes 3 and 4). Every redirection a local attacker can
# plant (a symlink, a file owned by someone else, a file or directory others
# can write, a directory link planted in a sticky world-writable directory)
# is attempted against `runbook run --audit` and `--report`; each must be
# refused AND the file it aimed at must be byte-for-byte unchanged (sha256
# before and after). Audit lines carrying invalid UTF-8 must parse with a
# strict JSON parser, and `runbook audit verify` must still pass. A gzip bomb
# served over HTTP to pprof.fetch must be rejected within a second, the
# whole process staying under 200 MB of RSS (/usr/bin/time). Foreign
# ownership needs root (chown to nobody): skipped otherwise.
. "$(dirname "$0")/lib.sh"
D=$T_TMP/files
mkdir -p "$D"; chmod 700 "$D"
cat >"$D/sec.lua" <<'LUA'
local rb = require "rb"
local S = rb.section { id = "bounds-files", title = "Files the engine writes", params = { tag = "plain" } }
S:investigate("Note the tag", function(ctx)
  ctx:note("tag is " .. ctx.params.tag)
  ctx:check { name = "level", value = 1, warn = 5, crit = 10 }
end)
return S
LUA
run() { "$RUNBOOK" run "$D/sec.lua" "$@"; }
sum() { sha256sum "$1" | cut -d' ' -f1; }
ROOTED=0; [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 && ROOTED=1

# --- invalid UTF-8 in audit fields: every line strict JSON, the chain verifies
AUD=$D/audit.jsonl
expect_rc "a run whose param holds invalid UTF-8 succeeds" 0 run --audit "$AUD" --set tag=$'bad\xff\xfe cut\xe2\x82 ok \xc3\xa9'
python3 - "$AUD" >"$T_TMP/strict" 2>&1 <<'PY' && ok "every audit line is strict UTF-8 JSON" || { fail "an audit line is not strict JSON"; sed 's/^/#   /' "$T_TMP/strict"; }
import json, sys
def no_nan(x): raise ValueError("non-standard number " + x)
for n, raw in enumerate(open(sys.argv[1], "rb"), 1):
    json.loads(raw.decode("utf-8", errors="strict"), parse_constant=no_nan)
PY
grep -qF '"tag":"bad\\xff\\xfe cut\\xe2\\x82 ok é"' "$AUD" && ok "invalid bytes are visible as \\xHH, valid UTF-8 kept" \
    || { fail "the escaped param is not in the audit"; grep -F run_start "$AUD" | sed 's/^/#   /'; }
check "runbook audit verify still passes" "$RUNBOOK" audit verify "$AUD"
[ "$(stat -c %a "$AUD")" = 600 ] && ok "a new audit file is created 0600" || fail "audit file mode $(stat -c %a "$AUD")"

# --- refused targets: REFUSED NAME WANT-IN-STDERR TARGET-FILE RUN-ARGS...
refused() {
    local name=$1 want=$2 target=$3; shift 3
    local before; before=$(sum "$target")
    "$RUNBOOK" run "$D/sec.lua" "$@" >"$T_TMP/out" 2>"$T_TMP/err" </dev/null; local rc=$?
    if [ "$rc" != 0 ] && grep -qF -- "$want" "$T_TMP/err" "$T_TMP/out"; then ok "$name is refused ($want)"
    else fail "$name is not refused (exit $rc)"; sed 's/^/#   /' "$T_TMP/err" | head -5; fi
    [ "$(sum "$target")" = "$before" ] && ok "$name: the target file is unchanged" || fail "$name: the target file CHANGED"
}
printf 'precious evidence\n' >"$D/victim"; chmod 600 "$D/victim"
cp "$AUD" "$D/chain.jsonl"

ln -s "$D/victim" "$D/link.jsonl"
refused "an audit path that is a symlink" "is a symbolic link: refusing" "$D/victim" --audit "$D/link.jsonl"
cp "$AUD" "$D/open.jsonl"; chmod 666 "$D/open.jsonl"
refused "an audit file of mode 0666" "is writable by others (mode 0666): refusing; chmod 600 $D/open.jsonl" \
    "$D/open.jsonl" --audit "$D/open.jsonl"
chmod 660 "$D/open.jsonl"
refused "a group-writable audit file" "is writable by its group (mode 0660)" "$D/open.jsonl" --audit "$D/open.jsonl"
ln "$D/victim" "$D/hard.jsonl"
refused "an audit path hard-linked to another file" "hard links" "$D/victim" --audit "$D/hard.jsonl"
mkdir -m 777 "$D/wide"; chmod 777 "$D/wide"
refused "an audit file in a world-writable directory" "is writable by others (mode 0777)" "$D/victim" --audit "$D/wide/a.jsonl"
[ ! -e "$D/wide/a.jsonl" ] && ok "nothing was created there" || fail "an audit file was created in a world-writable directory"

if [ "$ROOTED" = 1 ]; then
    cp "$AUD" "$D/theirs.jsonl"; chown nobody "$D/theirs.jsonl"
    refused "an audit file owned by nobody" "is owned by nobody, not by you" "$D/theirs.jsonl" --audit "$D/theirs.jsonl"
    mkdir -m 1777 "$D/tmp"; chmod 1777 "$D/tmp"; mkdir -m 700 "$D/mine"; cp "$AUD" "$D/mine/audit.jsonl"
    ln -s "$D/mine" "$D/tmp/state"; chown -h nobody "$D/tmp/state"
    refused "a directory link planted by nobody in a sticky directory" "symbolic link owned by nobody" \
        "$D/mine/audit.jsonl" --audit "$D/tmp/state/audit.jsonl"
else
    ok "# skip foreign ownership: not root"
fi

# --- report paths (report.lua opens them with rb._audit.open_private)
ln -sf "$D/victim" "$D/link.md"
refused "a report path that is a symlink" "is a symbolic link: refusing" "$D/victim" --audit "$AUD" --report "$D/link.md"
printf 'old report\n' >"$D/shared.md"; chmod 666 "$D/shared.md"
refused "a report file of mode 0666" "is writable by others (mode 0666)" "$D/shared.md" --audit "$AUD" --report "$D/shared.md"
if [ "$ROOTED" = 1 ]; then
    printf 'their report\n' >"$D/theirs.md"; chown nobody "$D/theirs.md"
    refused "a report file owned by nobody" "is owned by nobody" "$D/theirs.md" --audit "$AUD" --report "$D/theirs.md"
fi
expect_rc "a report to a fresh path is written" 0 run --audit "$AUD" --report "$D/new.md"
[ "$(stat -c %a "$D/new.md" 2>/dev/null)" = 600 ] && ok "a new report is created 0600" || fail "report mode $(stat -c %a "$D/new.md" 2>/dev/null)"
check "the real audit chain still verifies after every refusal" "$RUNBOOK" audit verify "$AUD"

# --- a gzip bomb served over HTTP to pprof.fetch
mkdir -p "$D/www/debug/pprof"
python3 - "$D/www/debug/pprof/heap" <<'PY'
import gzip, sys
chunk = b"\x12\x00" * (1 << 19)            # empty Sample messages
with gzip.open(sys.argv[1], "wb", 9) as f:
    for _ in range(20): f.write(chunk)     # 20 MB inflated, 20M samples
PY
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$D/www" "$PORT" >/dev/null 2>&1 &
SRV=$!
for _ in $(seq 50); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/debug/pprof/heap" && break; sleep 0.1; done
cat >"$D/bomb.lua" <<LUA
local pprof = require "rb.pprof"
local t0 = os.clock()
local p, err = pprof.fetch("http://127.0.0.1:$PORT", "heap", { timeout = 10 })
io.write(("cpu=%.3f\n"):format(os.clock() - t0), tostring(p), " ", tostring(err), "\n")
LUA
/usr/bin/time -f "maxrss_kb=%M" "$RUNBOOK" lua "$D/bomb.lua" >"$T_TMP/bomb" 2>&1
kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null
contains "the gzip bomb is rejected at max_samples" "$T_TMP/bomb" "max_samples"
CPU=$(sed -n 's/^cpu=//p' "$T_TMP/bomb"); RSS=$(sed -n 's/^maxrss_kb=//p' "$T_TMP/bomb")
awk -v c="${CPU:-9}" 'BEGIN { exit !(c < 1) }' && ok "within a second (${CPU} s of CPU)" || fail "took ${CPU:-?} s"
[ -n "$RSS" ] && [ "$RSS" -lt 204800 ] && ok "the process stayed under 200 MB RSS ($((RSS / 1024)) MB)" || fail "RSS ${RSS:-?} KB"
done_testing
