-- rb.cli.report — `runbook report RUN -o FILE` rebuilds the report of a past
-- run (the postmortem's starting point) and `runbook report --since 2h -o
-- FILE` puts every run since then on one timeline. The run is found in the
-- audit log; its document comes from report.json in its run directory (the
-- audit's run_end names it), else it is rebuilt from the audit events alone.
local args = require "rb.cli.args"
local audit = require "rb.audit"
local report = require "rb.report"
local raudit = require "rb.report_audit"

local HELP = [[
usage: runbook report RUN -o FILE [--audit FILE]
       runbook report --since DURATION -o FILE [--audit FILE]

Rebuilds the report of a past run. RUN is a run id (or a prefix of exactly
one), a run directory, or a saved report.json. The format follows the output
file's extension: .html (self-contained, charts, timeline), .md or .json.
The run's events are read from the audit log (--audit, default $RUNBOOK_AUDIT
or ~/.local/state/runbook/audit.jsonl); its document from report.json in the
run's directory, else from the audit events alone (findings, plans, approvals,
results and step times: no logs, charts or diffs).

  -o, --output FILE      the report to write (refused if it is a symbolic link
                         or a file another user owns or others can write)
  --audit FILE           the audit log to read
  --since DURATION       every run that started in the last DURATION
                         (90s, 30m, 2h, 1d) on one timeline

exit: 0 written, 1 the file could not be written, 2 usage error or no such run
]]

local SPEC = { flags = { help = true }, options = { output = true, audit = true, since = true },
  alias = { o = "output", h = "help" } }

local UNIT = { s = 1, m = 60, h = 3600, d = 86400 }

--- seconds("2h") -> 7200 | nil
local function seconds(text)
  local n, u = tostring(text):match("^(%d+)([smhd])$")
  return n and tonumber(n) * UNIT[u] or nil
end

local function read(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

local function is_dir(path) return read(path .. "/report.json") ~= nil end

-- the document of a run: its saved report.json, else rebuilt from the events
local function doc_of(info, audit_path)
  local dir
  for _, e in ipairs(info.events) do if e.event == "run_end" then dir = e.dir end end
  dir = dir or require("rb.rundir").path(audit_path, info.events[1].run)
  local text = read(dir .. "/report.json")
  local d = text and report.load(text)
  if d then d.audit, d.dir = audit_path, d.dir or dir; return d end
  return raudit.doc(info)
end

-- RUN as a saved document: a run directory or a report.json
local function from_file(spec, audit_path)
  local text = read(spec) or (is_dir(spec) and read(spec .. "/report.json"))
  if not text then return nil end
  local d, err = report.load(text)
  if not d then return nil, ("%s: %s"):format(spec, err) end
  d.audit = d.audit or audit_path
  return d, nil, d.audit and raudit.events(d.audit, d.run) or nil
end

local function one(spec, o, audit_path)
  local d, ferr, info = from_file(spec, audit_path)
  if ferr then io.stderr:write("runbook: ", ferr, "\n"); return 2 end
  if not d then
    local id, err = raudit.find(audit_path, spec)
    if not id then io.stderr:write("runbook: ", err, "\n"); return 2 end
    info = assert(raudit.events(audit_path, id))
    d = doc_of(info, audit_path)
  end
  local ok, werr = report.write_doc(o.output, d, { audit = info or false })
  if not ok then io.stderr:write("runbook: report: ", werr, "\n"); return 1 end
  io.stderr:write(("report of run %s written to %s\n"):format(d.run, o.output))
  return 0
end

local function since(o, audit_path)
  local secs = seconds(o.since)
  if not secs then return args.usage(("--since must be a number and s, m, h or d (got '%s')"):format(o.since), HELP) end
  local runs, err = raudit.runs(audit_path, os.time() - secs)
  if not runs then io.stderr:write("runbook: ", err, "\n"); return 2 end
  if #runs == 0 then io.stderr:write(("runbook: no run started in the last %s in %s\n"):format(o.since, audit_path)); return 2 end
  local list = {}
  for i, r in ipairs(runs) do
    local info = assert(raudit.events(audit_path, r.run))
    list[i] = { doc = doc_of(info, audit_path), audit = info }
  end
  local ok, werr = report.write_many(o.output, list, ("Runs in the last %s (%d)"):format(o.since, #list))
  if not ok then io.stderr:write("runbook: report: ", werr, "\n"); return 1 end
  io.stderr:write(("%d run(s) written to %s\n"):format(#list, o.output))
  return 0
end

return function(argv)
  local o, pos = args.parse(argv, SPEC)
  if not o then return args.usage(pos, HELP) end
  if o.help then io.stdout:write(HELP); return 0 end
  if not o.output then return args.usage("report needs -o FILE (.html, .md or .json)", HELP) end
  local _, ferr = report.format_of(o.output)
  if ferr then return args.usage(ferr, HELP) end
  local audit_path = o.audit or audit.default_path()
  if o.since then
    if #pos > 0 then return args.usage("give a RUN or --since, not both", HELP) end
    return since(o, audit_path)
  end
  if #pos ~= 1 then return args.usage("report needs exactly one RUN (or --since DURATION)", HELP) end
  return one(pos[1], o, audit_path)
end
