-- rb.cli.triage — `runbook triage [BOOK]`: evaluates the book's thresholds now
-- (all queries in one round trip) and ranks the sections whose indicators fire.
local args = require "rb.cli.args"
local loader = require "rb.loader"
local runner = require "rb.runner"
local config = require "rb.config"
local thresholds = require "rb.thresholds"
local ui = require "rb.ui"
local rb = require "rb"

local HELP = [[
usage: runbook triage [BOOK] [--env NAME] [--config FILE] [--set KEY=VALUE] [--output text|json]

Evaluates every threshold of BOOK (a book directory or id; default: the only
book under runbooks/) against Prometheus now, and ranks the sections whose
indicators are at warning or critical. Prometheus comes from the target
`prometheus` (--env/--config) or PROMETHEUS_URL.
exit: 0 nothing critical, 4 something critical, 1 Prometheus unreachable, 2 usage/load error
]]

local SPEC = { flags = { help = true }, options = { env = true, config = true, output = true },
  ["repeat"] = { set = true }, alias = { h = "help" } }

local function print_text(book, evaluated, ranked)
  print(("triage: %s — %s"):format(book.id, book.title))
  print("")
  for _, e in ipairs(evaluated) do
    local lbl = ({ good = "[ OK ]", warning = "[WARN]", critical = "[CRIT]", unknown = "[ ?? ]" })[e.level]
    print(("  %s %-32s %12s   (warn %s, crit %s)%s"):format(lbl, e.title, ui.fmtnum(e.value, e.threshold.unit),
      ui.fmtnum(e.threshold.warn), ui.fmtnum(e.threshold.crit), e.err and ("  " .. e.err) or ""))
  end
  print("")
  if #ranked == 0 then print("no section applies: every indicator is good") return end
  print("sections to run, most urgent first:")
  for i, s in ipairs(ranked) do
    print(("  %d. %-8s runbook run %s/%-26s %s"):format(i, s.level, book.id, s.id, table.concat(s.reasons, ", ")))
  end
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
  local prom = require "rb.prom"
  local ok, evaluated = pcall(thresholds.evaluate, book, prom, params)
  if not ok then io.stderr:write("runbook: triage: ", tostring(evaluated), "\n"); return 1 end
  local ranked = thresholds.rank(book, evaluated)
  if o.output == "json" then
    local cjson = require "cjson"
    local ev = {}
    for i, e in ipairs(evaluated) do
      ev[i] = { name = e.name, title = e.title, value = e.value, level = e.level, error = e.err,
        warn = e.threshold.warn, crit = e.threshold.crit, unit = e.threshold.unit }
    end
    print(cjson.encode { book = book.id, indicators = ev, sections = ranked })
  else
    print_text(book, evaluated, ranked)
  end
  local all_unknown = true
  for _, e in ipairs(evaluated) do
    if e.level == "critical" then return 4 end
    all_unknown = all_unknown and e.level == "unknown"
  end
  return all_unknown and #evaluated > 0 and 1 or 0
end
