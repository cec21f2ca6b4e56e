-- rb.cli.triage — `runbook triage [BOOK]`: evaluates the book's thresholds now
-- (all queries in one round trip), ranks the sections whose indicators fire
-- and says "cannot tell" (exit 5) when an indicator could not be evaluated.
local args = require "rb.cli.args"
local loader = require "rb.loader"
local runner = require "rb.runner"
local config = require "rb.config"
local thresholds = require "rb.thresholds"
local ui = require "rb.ui"
local rb = require "rb"

local HELP = [[
usage: runbook triage [BOOK] [--env NAME] [--config FILE] [--set KEY=VALUE]
                      [--short-window RANGE] [--output text|json]

Evaluates every threshold with a query of BOOK (a book directory or id; default: the only
book under runbooks/) and its sections' indicators against Prometheus now,
all queries in one round, and
ranks the sections whose indicators are at warning or critical: severity
first, then the section that owns the indicator (its first section). Each
indicator is good, warning, critical or unknown (with why); unknown is never
counted as good. Rates are read over the book's `window` param and over
--short-window (default 1m); the worse reading counts and says its window.
Prometheus comes from the target `prometheus` (--env/--config) or PROMETHEUS_URL.
exit: 0 every indicator evaluated and none critical, 4 something critical,
      5 cannot tell (an indicator could not be evaluated, none critical),
      2 usage/load error
]]

local SPEC = { flags = { help = true }, options = { env = true, config = true, output = true, ["short-window"] = true },
  ["repeat"] = { set = true }, alias = { h = "help" } }

local LABEL = { good = "[ OK ]", warning = "[WARN]", critical = "[CRIT]", unknown = "[ ?? ]" }

local function verdict(evaluated)
  local unknown = {}
  for _, e in ipairs(evaluated) do
    if e.level == "critical" then return 4, "critical", unknown end
  end
  for _, e in ipairs(evaluated) do
    if e.level == "unknown" then unknown[#unknown + 1] = e end
  end
  if #unknown > 0 or #evaluated == 0 then return 5, "cannot tell", unknown end
  return 0, "ok", unknown
end

local function print_text(book, evaluated, ranked)
  print(("triage: %s — %s"):format(book.id, book.title))
  print("")
  for _, e in ipairs(evaluated) do
    local t = e.threshold
    print(("  %s %-34s %12s   (warn %s, crit %s)%s%s%s"):format(LABEL[e.level], e.title, ui.fmtnum(e.value, t.unit),
      ui.fmtnum(t.warn), ui.fmtnum(t.crit), e.window and ("  window " .. e.window) or "",
      t.origin == "book" and "  [book]" or "", e.err and ("  unknown: " .. e.err) or ""))
  end
  print("")
  local _, v, unknown = verdict(evaluated)
  if #ranked > 0 then
    print("sections to run, most urgent first:")
    for i, s in ipairs(ranked) do
      print(("  %d. %-8s runbook run %s/%-26s %s"):format(i, s.level, book.id, s.id, table.concat(s.reasons, ", ")))
    end
  end
  local unclaimed = {}   -- firing, but no section lists the threshold
  for _, e in ipairs(evaluated) do
    if (e.level == "warning" or e.level == "critical") and #(e.threshold.sections or {}) == 0 then
      unclaimed[#unclaimed + 1] = ("%s (%s)"):format(e.title, e.level)
    end
  end
  if #unclaimed > 0 then
    print(("firing, but no section lists it (add `sections` to the threshold): %s"):format(table.concat(unclaimed, ", ")))
  end
  local firing = #ranked > 0 or #unclaimed > 0
  if v == "cannot tell" then
    print(("cannot tell: %d indicator(s) could not be evaluated%s"):format(#unknown,
      firing and "" or "; nothing else is firing"))
    for _, e in ipairs(unknown) do print(("  %s: %s"):format(e.title, e.err or "no value")) end
  elseif not firing then
    print("no section applies: every indicator was evaluated and is good")
  end
  local step_only = thresholds.step_only(book)
  if #step_only > 0 then
    print(("not triaged: %d step-only threshold(s) without a query, read by their steps: %s")
      :format(#step_only, table.concat(step_only, ", ")))
  end
end

-- JSON with real arrays (cjson writes an empty table as {}).
local function json_array(cjson, list)
  local parts = {}
  for i, x in ipairs(list) do parts[i] = cjson.encode(x) end
  return "[" .. table.concat(parts, ",") .. "]"
end

local function print_json(book, evaluated, ranked)
  local cjson = require "cjson"
  local code, v = verdict(evaluated)
  local ev, secs = {}, {}
  for i, e in ipairs(evaluated) do
    local t = e.threshold
    ev[i] = { name = e.name, title = e.title, value = e.value, level = e.level, error = e.err, window = e.window,
      warn = t.warn, crit = t.crit, unit = t.unit, origin = t.origin, owner = (t.sections or {})[1] }
  end
  for i, s in ipairs(ranked) do
    secs[i] = '{"id":' .. cjson.encode(s.id) .. ',"title":' .. cjson.encode(s.title or s.id) .. ',"level":'
      .. cjson.encode(s.level) .. ',"owner":' .. tostring(s.owner) .. ',"score":' .. s.score
      .. ',"reasons":' .. json_array(cjson, s.reasons) .. "}"
  end
  print('{"book":' .. cjson.encode(book.id) .. ',"verdict":' .. cjson.encode(v) .. ',"exit":' .. code
    .. ',"indicators":' .. json_array(cjson, ev) .. ',"sections":[' .. table.concat(secs, ",") .. "]"
    .. ',"step_only":' .. json_array(cjson, thresholds.step_only(book)) .. "}")
end

return function(argv)
  local o, pos = args.parse(argv, SPEC)
  if not o then return args.usage(pos, HELP) end
  if o.help then io.stdout:write(HELP); return 0 end
  local targets, terr = config.load(o.config, o.env)
  if not targets then io.stderr:write("runbook: ", terr, "\n"); return 2 end
  rb._set_targets(targets)
  local book, err = loader.find_book(pos[1])
  if not book then io.stderr:write("runbook: ", err, "\n"); return 2 end
  local sets, serr = args.sets(o.set)
  if not sets then return args.usage(serr, HELP) end
  local params, perr = runner.params({ book.params }, sets)
  if not params then io.stderr:write("runbook: ", perr, "\n"); return 2 end
  if o.output and o.output ~= "json" and o.output ~= "text" then return args.usage("--output is text or json", HELP) end
  local prom = require "rb.prom"
  require("rb._gate").set_mode("investigate")   -- the engine's own reads: nothing else
  local evaluated = thresholds.evaluate(book, prom, params,
    { short_window = o["short-window"] or params.short_window or "1m" })
  local ranked = thresholds.rank(book, evaluated)
  if o.output == "json" then print_json(book, evaluated, ranked) else print_text(book, evaluated, ranked) end
  return (verdict(evaluated))
end
