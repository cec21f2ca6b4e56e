#!/usr/bin/env bash
# runbook triage tells the truth: Prometheus down -> exit 5 naming why (not
# 0, not 1), a Prometheus with no data yet -> 5, a bad window -> 5 with
# Prometheus's own error, the lab with every indicator evaluated and good -> 0,
# and --output json carries the same verdict with real arrays. The "no data"
# Prometheus is a real one with no scrape targets, so nothing can be evaluated.
. "$(dirname "$0")/lib.sh"
CFG=$T_TMP/config.yaml
tri() { local book=tmi; case ${1:-} in /*) book=$1; shift ;; esac
    timeout 60 "$RUNBOOK" triage "$book" --config "$CFG" --env lab "$@"; }
config() { printf 'environments:\n  lab:\n    prometheus: %s\n' "$1" >"$CFG"; }

# --- Prometheus down: a port nothing listens on
config "http://127.0.0.1:$(free_port)"
expect_rc "Prometheus down: exit 5 (cannot tell)" 5 tri
contains "Prometheus down: says it cannot tell" "$T_TMP/out" "cannot tell:"
contains "Prometheus down: names the connection failure" "$T_TMP/out" "Couldn't connect"
lacks "Prometheus down: never 'every indicator ... is good'" "$T_TMP/out" "is good"
lacks "Prometheus down: no indicator is OK" "$T_TMP/out" "[ OK ]"

# --- a Prometheus with no data yet (no targets at all)
P=$T_TMP/prom; mkdir -p "$P/data"; PORT=$(free_port)
printf 'global:\n  scrape_interval: 1s\nscrape_configs: []\n' >"$P/prometheus.yml"
prometheus --config.file="$P/prometheus.yml" --storage.tsdb.path="$P/data" \
    --web.listen-address="127.0.0.1:$PORT" >"$P/log" 2>&1 &
echo $! >"$P/pid"
trap 'stop_pidfile "$P/pid"; rm -rf "$T_TMP"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/-/ready" >/dev/null 2>&1 && break; sleep 0.2; done
config "http://127.0.0.1:$PORT"
expect_rc "no data yet: exit 5" 5 tri
contains "no data yet: each indicator says no data" "$T_TMP/out" "unknown: no data"
lacks "no data yet: nothing is called good" "$T_TMP/out" "[ OK ]"
expect_rc "no data yet: --output json exits 5 too" 5 tri --output json
python3 - "$T_TMP/out" <<'PY' && ok "no data yet: json verdict 'cannot tell', every level unknown, sections is []" || fail "json verdict"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["verdict"] == "cannot tell" and d["exit"] == 5, d
assert d["sections"] == [] and all(i["level"] == "unknown" and i["error"] for i in d["indicators"]), d
PY
stop_pidfile "$P/pid"

# --- a book threshold without a query (docs/lua/rb.md allows it): no crash
B=$T_TMP/noquery; mkdir -p "$B"
cat >"$B/book.lua" <<'LUA'
local rb = require "rb"
return rb.book { id = "noquery", title = "No query", sections = { "s" },
  thresholds = {
    manual = { title = "Checked by hand", warn = 1, crit = 2, sections = { "s" } },
    up = { title = "Targets up", warn = 0, crit = -1, higher_is_worse = false, query = "min(up)", sections = { "s" } },
  } }
LUA
cat >"$B/s.lua" <<'LUA'
local rb = require "rb"
local S = rb.section { id = "s", title = "S",
  indicators = { { name = "scrapes", title = "Scrape targets down", query = "count(up == 0) or vector(0)", warn = 1, crit = 1 } } }
S:investigate("nothing", function() end)
return S
LUA
config "http://127.0.0.1:$(free_port)"
expect_rc "Prometheus down: triage exits 5, no crash on the threshold without a query" 5 tri "$B"
lacks "no query: a step-only threshold is not an indicator triage reads" "$T_TMP/out" "Checked by hand"
contains "... it is named apart" "$T_TMP/out" "not triaged: 1 step-only threshold(s) without a query, read by their steps: manual"
expect_rc "runbook check: a step-only threshold is not a problem" 0 "$RUNBOOK" check "$B"
contains "... check notes it" "$T_TMP/out" "step-only threshold(s) without a query (triage and export-alerts leave them out): manual"
expect_rc "no query: export-alerts exits 0" 0 timeout 30 "$RUNBOOK" export-alerts "$B" -o "$T_TMP/rules.yml"
contains "no query: export-alerts warns that it left the threshold out" "$T_TMP/err" "threshold 'manual' left out: no query"
lacks "no query: the threshold has no rule" "$T_TMP/rules.yml" "threshold: manual"
contains "no query: the other threshold has its rules" "$T_TMP/rules.yml" "threshold: up"
contains "a section's own indicator gets rules too" "$T_TMP/rules.yml" "threshold: s/scrapes"
config "$RB_TEST_TMIPROM_URL"
# the lab's Prometheus scrapes its first targets a few seconds after it starts (bounded wait)
for _ in $(seq 60); do
    curl -sf "$RB_TEST_TMIPROM_URL/api/v1/query?query=min(up)" | jq -e '.data.result | length > 0' >/dev/null && break
    sleep 0.5
done
expect_rc "the lab: every indicator good, the step-only threshold does not make triage 'cannot tell' (exit 0)" 0 tri "$B"
contains "the section's indicator is evaluated and good" "$T_TMP/out" "[ OK ] Scrape targets down"
tri "$B" --output json >"$T_TMP/nq.json" 2>&1
jq -e '.verdict == "ok" and .step_only == ["manual"] and ([.indicators[].name] | index("manual") == null)' "$T_TMP/nq.json" >/dev/null \
    && ok "json: verdict ok, step_only lists it, no indicator for it" || fail "json step_only: $(cat "$T_TMP/nq.json")"
# a threshold that fires but lists no section is said so, not "no section applies"
B2=$T_TMP/unclaimed; mkdir -p "$B2"; cp "$B/s.lua" "$B2/s.lua"
cat >"$B2/book.lua" <<'LUA'
local rb = require "rb"
return rb.book { id = "unclaimed", title = "Unclaimed", sections = { "s" },
  thresholds = { lonely = { title = "Always five", query = "vector(5)", warn = 1, crit = 10 } } }
LUA
expect_rc "a warning claimed by no section: exit 0 (nothing critical)" 0 tri "$B2"
contains "... triage says it fires and no section lists it" "$T_TMP/out" "firing, but no section lists it (add \`sections\` to the threshold): Always five (warning)"
lacks "... and does not call the book good" "$T_TMP/out" "every indicator was evaluated and is good"

# --- the lab: a bad window, then everything evaluated and good
config "$RB_TEST_TMIPROM_URL"
expect_rc "bad window: exit 5" 5 tri --set window=bogus
contains "bad window: Prometheus's parse error is the reason" "$T_TMP/out" "bad_data"
W="--set window=15s --set short_window=10s"
# the lab at rest: a warm cache (the seed's warmup), as after the lab starts
curl -sf -X POST "$RB_TEST_TMISIM_URL/admin/cache/warmup" >/dev/null
# earlier suites share this lab (faults, locks, slow queries): wait, bounded, for it to settle
for _ in $(seq 90); do tri $W >"$T_TMP/settle" 2>&1 && grep -q "every indicator was evaluated and is good" "$T_TMP/settle" && break; sleep 1; done
expect_rc "clean lab: exit 0" 0 tri $W
contains "clean lab: every indicator evaluated and good" "$T_TMP/out" "every indicator was evaluated and is good"
lacks "clean lab: no unknown indicator" "$T_TMP/out" "[ ?? ]"
contains "clean lab: the window used is shown" "$T_TMP/out" "window 1"
done_testing
