#!/usr/bin/env bash
# lab: httprec pprof k8s tmisim tmiprom
# The HTML report in a real browser (headless Chromium through the DevTools
# protocol: tests/lab/cdp.py). Reports of real runs — a fixture with charts,
# profiles and a plan against the recording HTTP server and the Go pprof
# program, and the TMI goroutine-leaks section on the lab in
# --investigate-only and --dry-run — are opened and checked: every finding
# and planned action the audit log recorded is in the DOM, the chart has the
# right number of points and its threshold lines sit at the right value, the
# flame graph is inline, the audit hashes are the log's, the page fetched
# nothing but itself and logged no error (a control page proves the probe
# sees a fetch and a console error), a canary secret is nowhere. `runbook
# report` rebuilds a run from report.json and from the audit alone, and puts
# several runs on one timeline. Bounds: 500 steps < 1.5 MB and load < 10 s; a
# 100k-sample series < 200 KB and load < 5 s (wall time on a shared machine:
# measured 3-4.5 s and 0.2 s at a load average of 20 on 2 cores). Screenshots are kept in the
# test's temp dir (path printed) or in $RB_REPORT_ARTIFACTS when set.
. "$(dirname "$0")/lib.sh"
CDP="python3 $ROOT/tests/lab/cdp.py"
DOM=$ROOT/tests/e2e/fixtures/report_dom.js
FX=$ROOT/tests/e2e/fixtures/report_demo.lua
AUD=$T_TMP/audit.jsonl
ART=${RB_REPORT_ARTIFACTS:-$T_TMP/artifacts}
mkdir -p "$ART"
CANARY=tok-CANARY-$$-5eed1e55
REQ=$RB_TEST_HTTP_LOG
SKIP=$(wc -l <"$REQ")
requests_to() { tail -n +$((SKIP + 1)) "$REQ" | grep -c "\"path\": \"$1\"" || true; }

if ! command -v chromium >/dev/null; then
    fail "chromium is installed (make deps installs Debian's chromium)"
    done_testing; exit 1
fi

# open NAME HTML: DOM facts, requests, console and screenshot -> $T_TMP/NAME.json
open_page() {
    if timeout 90 $CDP "$2" --js "$DOM" --screenshot "$ART/$1.png" --timeout 60 >"$T_TMP/$1.json" 2>"$T_TMP/$1.err"; then
        ok "$1: chromium opened the report (screenshot: $ART/$1.png)"
    else
        fail "$1: chromium could not open $2"; sed 's/^/#   /' "$T_TMP/$1.err" | head -10
    fi
}

# page_check NAME RUN_ID [extra python]: the DOM against the audit's events of the run
page_check() {
    python3 - "$T_TMP/$1.json" "$AUD" "$2" "$1" "${3:-}" <<'PY'
import json, sys
page, aud, run, name, extra = sys.argv[1:6]
d = json.load(open(page)); r = d.get("result") or {}
events = [json.loads(l) for l in open(aud)]
mine = [e for e in events if e.get("run") == run]
n = 0
def check(cond, what, detail=""):
    global n; n += 1
    print(("ok" if cond else "not ok") + f" - {name}: {what}" + ("" if cond else f"  # {detail}"))
check(d.get("js_error") is None, "the DOM probe ran", d.get("js_error"))
others = [u for u in d["requests"] if u != d["url"] and not u.startswith("data:")]
check(others == [], "the page fetched nothing but itself (data: URLs are inline)", others)
errs = [c for c in d["console"] if c["level"] in ("error", "warning", "assert")] + d["exceptions"] + \
       [l for l in d["log"] if l["level"] in ("error", "warning")]
check(errs == [], "no console errors, exceptions or CSP violations", errs)
want = sorted(e["finding"]["name"] for e in mine if e["event"] == "finding")
got = sorted(f["name"] for f in r.get("findings", []))
check(len(want) > 0 and got == want, f"every finding the audit recorded is in the table ({len(want)})", (want, got))
plans = [e for e in mine if e["event"] == "plan"]
want = sorted((a["binding"], a["op"], a["target"]) for p in plans for a in p.get("actions", []))
got = sorted((a["binding"], a["op"], a["target"]) for a in r.get("actions", []))
check(got == want, f"every planned action is listed ({len(want)})", (want, got))
check(r.get("first_hash") == mine[0]["hash"] and r.get("last_hash") == mine[-1]["hash"],
      "the header shows the run's first and last audit hash", (r.get("first_hash"), mine[0]["hash"]))
check(r.get("audit_rows") == len(mine), f"the audit timeline lists the run's {len(mine)} events", r.get("audit_rows"))
if extra:
    exec(extra)
print(f"# {name}: {n} checks", file=sys.stderr)
PY
}

# emit FILE: the TAP lines page_check wrote, renumbered into this suite
emit() { while read -r line; do case $line in ok*) ok "${line#ok - }";; "not ok"*) fail "${line#not ok - }";; esac; done <"$1"; }

run_id_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run"])' "$1"; }

# --- a fixture run: charts, profiles, a plan, a canary secret ---------------
expect_rc "fixture: --dry-run with --report-dir exits 0" 0 timeout 60 "$RUNBOOK" run "$FX" --dry-run --audit "$AUD" \
    --set base="$RB_TEST_HTTP_URL" --set pprof="$RB_TEST_PPROF_URL" --set api_token="$CANARY" --report-dir "$T_TMP/demo"
for f in report.html report.md report.json; do
    [ "$(stat -c %a "$T_TMP/demo/$f" 2>/dev/null)" = 600 ] && ok "--report-dir wrote $f (mode 0600)" || fail "--report-dir: $f missing or not 0600"
done
RUN=$(run_id_of "$T_TMP/demo/report.json")
[ "$(requests_to /admin/scale?replicas=5)" = 0 ] && ok "the dry run sent no POST to the server" || fail "the dry run sent a POST"
cat "$T_TMP"/demo/report.* "$T_TMP/out" "$T_TMP/err" "$AUD" >"$T_TMP/all"
for f in "$(dirname "$AUD")/runs/$RUN"/*; do cat "$f" >>"$T_TMP/all"; done
lacks "the canary secret is in no report, run file, output or audit line" "$T_TMP/all" "$CANARY"
contains "where it was, the HTML says [REDACTED]" "$T_TMP/demo/report.html" "the token [REDACTED]"
contains "Markdown: findings with units" "$T_TMP/demo/report.md" "| p95 latency | 450 ms | 300 ms | 500 ms | **warning** |"
contains "Markdown: per-step start time and duration" "$T_TMP/demo/report.md" "Started 20"
contains "Markdown: a sparkline with min and max" "$T_TMP/demo/report.md" "min 100 ms, max 550 ms (60 samples)"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); s=d["steps"][0]; assert s["logs"] != {} and isinstance(d["steps"][2]["plan"][0]["args"], dict); assert len(s["charts"][0]["series"][0]["points"]) == 60' \
    "$T_TMP/demo/report.json" && ok "JSON: real arrays, structured plan args, the series" || fail "JSON document shape"

open_page demo "$T_TMP/demo/report.html"
page_check demo "$RUN" '
c = r["charts"][0]; s = c["series"][0]
check(c["title"] == "p95 latency" and s["drawn"] == 60 and s["total"] == 60, "the chart draws its 60 samples", c)
def y(v): return c["top"] + (c["hi"] - v) / (c["hi"] - c["lo"]) * (c["bottom"] - c["top"])
for k, v in (("warn", 300), ("crit", 500)):
    t = c["thresholds"].get(k, {})
    check(t.get("value") == v and abs(t.get("y", -1) - y(v)) < 0.1, f"the {k} line is drawn at {v} ms", t)
check(abs(s["min_y"] - y(550)) < 0.1 and abs(s["max_y"] - y(100)) < 0.1, "the samples span 100..550 ms on the axis", s)
check(any("main.alloc" in f for f in r["flamegraphs"]), "the heap flame graph is inline (main.alloc*)", r["flamegraphs"])
check(any(h.endswith("-heap.pb.gz") for h in r["pprof_links"]), "the saved profile is linked by file name", r["pprof_links"])
check(r["goroutines"] and r["goroutines"][0] > 1000, "the goroutine dump is shown", r["goroutines"])
check(r["sorted"]["desc"][0] == "error rate" and r["sorted"]["asc"][0] == "health endpoint answers",
      "clicking the level header sorts the findings (critical first, then good first)", r["sorted"])
check(r["steps"] == ["Latency", "Profiles", "Scale up"], "every step has its section", r["steps"])
check("[REDACTED]" in r["text"] and "CANARY" not in r["text"], "the rendered text is redacted", "")
' >"$T_TMP/demo.tap"
emit "$T_TMP/demo.tap"
[ "$(stat -c %s "$ART/demo.png" 2>/dev/null || echo 0)" -gt 20000 ] && ok "screenshot kept: $ART/demo.png" || fail "no screenshot"

# --- the probe can fail: a page that fetches and logs an error is caught ----
cat >"$T_TMP/control.html" <<HTML
<!DOCTYPE html><html><head><meta charset="utf-8"><title>control</title></head><body>
<img src="$RB_TEST_HTTP_URL/report-probe.png"><script>console.error("control error")</script></body></html>
HTML
timeout 90 $CDP "$T_TMP/control.html" --js "$DOM" >"$T_TMP/control.json" 2>/dev/null
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert any(u.endswith("/report-probe.png") for u in d["requests"]), d["requests"]
assert any(c["level"] == "error" and "control error" in c["text"] for c in d["console"]), d["console"]' "$T_TMP/control.json" \
    && ok "control: the probe reports a page that fetches a URL and logs an error" || fail "control: the probe missed a fetch or an error"
[ "$(requests_to /report-probe.png)" -ge 1 ] && ok "control: the fetch reached the recording server (the probe is not blind)" \
    || fail "control: the fetch never reached the server"
sed 's|<head>|<head><meta http-equiv="Content-Security-Policy" content="default-src '"'"'none'"'"'">|' "$T_TMP/control.html" >"$T_TMP/csp.html"
before=$(requests_to /report-probe.png)
timeout 90 $CDP "$T_TMP/csp.html" >"$T_TMP/csp.json" 2>/dev/null
[ "$(requests_to /report-probe.png)" = "$before" ] && ok "control: under the report's CSP the same page sends nothing" \
    || fail "control: a fetch went out despite the CSP"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert any(l["level"]=="error" for l in d["log"]+d["console"]) or d["exceptions"], d' \
    "$T_TMP/csp.json" && ok "control: the blocked fetch is reported as an error" || fail "control: a CSP violation went unnoticed"

# --- the TMI book on the lab: --investigate-only and --dry-run --------------
SIM=$RB_TEST_TMISIM_URL
CFG=$T_TMP/config.yaml
lab_environments >"$CFG"
POD=$(timeout 20 kubectl --kubeconfig "$RB_TEST_K8S_KUBECONFIG" -n tmi get pods -l app=tmi-api -o name | sed -n 2p | sed 's|pod/||')  # not the first in sort order
curl -sf -X POST "$SIM/admin/faults/goroutine_leak?on=1&pod=$POD" >/dev/null && ok "goroutine leak injected into $POD" || fail "fault switch"
tmi() { timeout 150 "$RUNBOOK" run tmi/goroutine-leaks --env lab --config "$CFG" --audit "$AUD" --set window=15s "$@"; }
# Prometheus sees the leak at its next scrape: run until critical (bounded, as tmi.sh does)
for _ in 1 2 3 4 5 6; do
    rm -rf "$T_TMP/tmi-inv"
    tmi --investigate-only --report "$T_TMP/tmi-inv.html" --report-dir "$T_TMP/tmi-inv" >"$T_TMP/out" 2>&1; rc=$?
    [ $rc = 4 ] && break; sleep 5
done
[ $rc = 4 ] && ok "TMI goroutine-leaks --investigate-only exits 4 (critical)" || fail "TMI --investigate-only exit $rc, want 4"
INV=$(run_id_of "$T_TMP/tmi-inv/report.json")
expect_rc "TMI goroutine-leaks --dry-run exits 0" 0 tmi --dry-run --report "$T_TMP/tmi-dry.html" --report-dir "$T_TMP/tmi-dry"
DRY=$(run_id_of "$T_TMP/tmi-dry/report.json")
curl -sf -X POST "$SIM/admin/faults/all?on=0&pod=all" >/dev/null
open_page tmi-inv "$T_TMP/tmi-inv.html"
page_check tmi-inv "$INV" 'check(any(f["level"] == "critical" for f in r["findings"]), "the critical goroutine count is marked critical", r["findings"])' >"$T_TMP/inv.tap"
open_page tmi-dry "$T_TMP/tmi-dry.html"
page_check tmi-dry "$DRY" "check(len(r['actions']) >= 1 and any('$POD' in a['target'] for a in r['actions']), 'the dry-run plan deletes the leaking pod $POD', r['actions'])" >"$T_TMP/dry.tap"
emit "$T_TMP/inv.tap"; emit "$T_TMP/dry.tap"

# --- runbook report: rebuild a past run, from report.json and from the audit --
expect_rc "runbook report RUN -o FILE.html exits 0" 0 "$RUNBOOK" report "$RUN" --audit "$AUD" -o "$T_TMP/re.html"
open_page rebuilt "$T_TMP/re.html"
page_check rebuilt "$RUN" 'check(len(r["charts"]) == 1 and r["charts"][0]["series"][0]["drawn"] == 60, "the rebuilt report keeps the chart (from report.json)", r["charts"])' >"$T_TMP/re.tap"
expect_rc "a run id prefix works (-o .md)" 0 "$RUNBOOK" report "${RUN:0:10}" --audit "$AUD" -o "$T_TMP/re.md"
contains "the rebuilt Markdown names the run" "$T_TMP/re.md" "- run: \`$RUN\`"
mv "$(dirname "$AUD")/runs/$DRY/report.json" "$T_TMP/dry-saved.json"
expect_rc "with report.json gone, the report is rebuilt from the audit" 0 "$RUNBOOK" report "$DRY" --audit "$AUD" -o "$T_TMP/audit-only.html"
contains "it says it was rebuilt from the audit alone" "$T_TMP/audit-only.html" "rebuilt from the audit log alone"
open_page audit-only "$T_TMP/audit-only.html"
page_check audit-only "$DRY" >>"$T_TMP/re.tap"
expect_rc "runbook report --since 2h puts every run on one page" 0 "$RUNBOOK" report --since 2h --audit "$AUD" -o "$T_TMP/since.html"
open_page since "$T_TMP/since.html"
NRUNS=$(grep -c '"event":"run_start"' "$AUD")
python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["result"]; n=int(sys.argv[2]); assert r["runs"]==n and r["timeline_rows"][0] >= 2*n, (r["runs"], r["timeline_rows"])' \
    "$T_TMP/since.json" "$NRUNS" && ok "--since: $NRUNS runs, each with its steps on the one timeline" || fail "--since page"
emit "$T_TMP/re.tap"
expect_rc "an unknown run exits 2" 2 "$RUNBOOK" report 00nosuchrun --audit "$AUD" -o "$T_TMP/x.html"
contains "naming the run and the audit file" "$T_TMP/err" "no run '00nosuchrun' in $AUD"
expect_rc "an unknown extension is a usage error" 2 "$RUNBOOK" report "$RUN" --audit "$AUD" -o "$T_TMP/x.pdf"
contains "naming the extensions" "$T_TMP/err" "the extension must be .md, .json or .html"
printf 'keep me\n' >"$T_TMP/victim"; ln -s "$T_TMP/victim" "$T_TMP/link.html"; sum=$(sha256sum <"$T_TMP/victim")
expect_rc "an output path that is a symlink is refused" 1 "$RUNBOOK" report "$RUN" --audit "$AUD" -o "$T_TMP/link.html"
[ "$(sha256sum <"$T_TMP/victim")" = "$sum" ] && ok "the file it pointed at is unchanged" || fail "the symlink target was overwritten"

# --- bounds: 500 steps, a 100k-sample series ---------------------------------
sed 's/^local EXTRA = 0$/local EXTRA = 500/' "$FX" >"$T_TMP/big_steps.lua"
expect_rc "a run of 503 steps" 0 timeout 120 "$RUNBOOK" run "$T_TMP/big_steps.lua" --dry-run --audit "$T_TMP/big.jsonl" --report "$T_TMP/steps.html"
size=$(stat -c %s "$T_TMP/steps.html")
[ "$size" -lt $((1536 * 1024)) ] && ok "500 steps: the HTML is $size bytes (< 1.5 MB)" || fail "500 steps: $size bytes"
timeout 90 $CDP "$T_TMP/steps.html" --js "$DOM" >"$T_TMP/steps.json" 2>/dev/null
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["result"]["steps"])==503 and d["page_load_ms"] < 10000 and not d["exceptions"], (len(d["result"]["steps"]), d["page_load_ms"]); print("# load", d["page_load_ms"], "ms")' \
    "$T_TMP/steps.json" && ok "500 steps: every step rendered, loaded in < 10 s" || fail "500 steps did not render in time"
cat >"$T_TMP/big_series.lua" <<'LUA'
-- a run object with one 100k-sample series (ctx:chart carries fewer across the world boundary)
local report = require "rb.report"
local pts = {}
for i = 1, 100000 do pts[i] = { 1700000000 + i, 100 + (i % 10) * 50 + (i == 54321 and 5000 or 0) } end
local run = { id = "big-series", name = "bounds", section = { title = "100k samples" }, user = "t", host = "h",
  params = {}, exit = 0, audit_path = arg[2], started = 1700000000, ended = 1700100000, findings = {},
  steps = { { title = "Series", kind = "investigate", ok = true, ms = 1, started = 1700000000, findings = {},
    notes = {}, logs = {}, charts = { { title = "rps", unit = "req/s", crit = 900, series = { { name = "rps", points = pts } } } } } } }
assert(report.write(arg[1], run))
LUA
check "a 100k-sample series is written" "$RUNBOOK" lua "$T_TMP/big_series.lua" "$T_TMP/series.html" "$AUD"
size=$(stat -c %s "$T_TMP/series.html")
[ "$size" -lt $((200 * 1024)) ] && ok "100k samples: the HTML is $size bytes (< 200 KB)" || fail "100k samples: $size bytes"
timeout 90 $CDP "$T_TMP/series.html" --js "$DOM" >"$T_TMP/series.json" 2>/dev/null
python3 -c '
import json, sys
d = json.load(open(sys.argv[1])); c = d["result"]["charts"][0]; s = c["series"][0]
assert s["total"] == 100000 and 0 < s["drawn"] <= 1268 and d["page_load_ms"] < 5000, (s, d["page_load_ms"])
y = lambda v: c["top"] + (c["hi"] - v) / (c["hi"] - c["lo"]) * (c["bottom"] - c["top"])
assert abs(s["min_y"] - y(5150)) < 0.1, "the spike was lost"
print("# load", d["page_load_ms"], "ms,", s["drawn"], "points drawn")' "$T_TMP/series.json" \
    && ok "100k samples: at most 2 points per pixel column drawn, the spike kept, loaded in < 5 s" || fail "100k-sample chart"

echo "# screenshots: $ART"
done_testing
