-- rb.report — a finished run as a report: Markdown (.md), JSON (.json, and
-- --output json) or one self-contained HTML file (.html), chosen by the
-- file's extension; --report-dir writes all three.
--
-- The run document is the contract between the runner and every format:
-- doc(run) builds plain data from the runner's run object (DESIGN §4; the
-- fields are listed in docs/reports.md), the runner saves it as report.json
-- in the run's directory, and `runbook report` renders that saved copy (or a
-- document rebuilt from the audit log) with the same renderers. Everything
-- written passes through the redactor; report files are opened with
-- rb._audit.open_private (no symlinks, created 0600, foreign files refused).
local sys = require "rb._sys"
local rjson = require "rb.report_json"
local svg = require "rb.svg"

local M = {}
M.VERSION = 1
-- a series in the document keeps at most this many samples (min and max per
-- bucket, as the charts draw them): 100k samples stay ~60 KB of JSON
M.MAX_DOC_POINTS = 2000

local cjson = require("cjson").new()

local function copy_plain(t, depth)
  if type(t) ~= "table" then
    if type(t) == "function" or type(t) == "userdata" or type(t) == "thread" then return nil end
    return t
  end
  if depth > 20 then return nil end
  local out = {}
  for k, v in pairs(t) do
    if type(k) == "string" or math.type(k) == "integer" then out[k] = copy_plain(v, depth + 1) end
  end
  return out
end

local function list(t) return t or {} end

-- plan args: the gate records a JSON string; the document carries the value
local function args_of(a)
  if type(a) ~= "string" then return copy_plain(a, 1) end
  if a == "" or a == "null" then return nil end
  local ok, v = pcall(cjson.decode, a)
  if ok and type(v) == "table" then return v end
  return a
end

local function plan_of(plan)
  if not plan then return nil end
  local out = {}
  for i, a in ipairs(plan) do
    out[i] = { binding = a.binding, op = a.op, target = a.target, args = args_of(a.args),
      simulated = a.simulated, simulable = a.simulable, result = copy_plain(a.result, 1) }
  end
  return out
end

local FINDING = { "name", "value", "level", "warn", "crit", "unit", "detail", "boolean", "step",
  "higher_is_worse", "threshold" }
local function finding_of(f)
  local out = {}
  for _, k in ipairs(FINDING) do
    local v = f[k]
    if type(v) ~= "table" and type(v) ~= "function" then out[k] = v end
  end
  return out
end

local function findings_of(list_)
  local out = {}
  for i, f in ipairs(list_ or {}) do out[i] = finding_of(f) end
  return out
end

-- a series bounded to MAX_DOC_POINTS, {t, v} numbers
local function series_of(s, title)
  local pts = {}
  for _, p in ipairs(type(s.points) == "table" and s.points or {}) do
    if type(p) == "table" then
      local t, v = tonumber(p[1] or p.t), tonumber(p[2] or p.v)
      if t and v then pts[#pts + 1] = { t, v } end
    end
  end
  local total = #pts
  if total > M.MAX_DOC_POINTS then
    table.sort(pts, function(a, b) return a[1] < b[1] end)
    pts = svg.downsample(pts, pts[1][1], pts[#pts][1], M.MAX_DOC_POINTS // 2)
  end
  return { name = tostring(s.name or s.label or title or "series"), points = pts, total = total }
end

local function charts_of(charts)
  if not charts then return nil end
  local out = {}
  for i, c in ipairs(charts) do
    local series = {}
    for j, s in ipairs(c.series or (c.points and { { name = c.title, points = c.points } }) or {}) do
      series[j] = series_of(s, c.title)
    end
    out[i] = { title = c.title, unit = c.unit, warn = tonumber(c.warn), crit = tonumber(c.crit), series = series }
  end
  return out
end

local function verify_of(v)
  if type(v) ~= "table" then return nil end
  local function side(list_)
    if not list_ then return nil end
    local out = {}
    for i, r in ipairs(list_) do
      local th = type(r.threshold) == "table" and r.threshold or {}
      out[i] = { name = r.name, title = r.title, value = r.value, level = r.level, err = r.err and tostring(r.err),
        unit = r.unit or th.unit, warn = r.warn or th.warn, crit = r.crit or th.crit }
    end
    return out
  end
  return { before = side(v.before), after = side(v.after), ok = v.ok }
end

local function step_of(r)
  return {
    title = r.title, kind = r.kind, risk = r.risk, ok = r.ok, error = r.error, ms = r.ms, started = r.started,
    findings = findings_of(r.findings), notes = list(copy_plain(r.notes, 1)), logs = list(copy_plain(r.logs, 1)),
    plan = plan_of(r.plan), answer = r.answer, applied = r.applied, charts = charts_of(r.charts),
    verify = verify_of(r.verify), attachments = copy_plain(r.attachments, 1),
  }
end

local function mode_of(run)
  local o = run.o or {}
  return o.investigate_only and "investigate-only" or o.resolve_only and "resolve-only" or "full"
end

--- doc(run) -> the run document (plain data; see docs/reports.md)
function M.doc(run)
  local steps = {}
  for i, r in ipairs(run.steps or {}) do steps[i] = step_of(r) end
  return {
    version = M.VERSION, run = run.id, section = run.name, title = run.section and run.section.title,
    user = run.user, host = run.host, dry_run = run.dry_run, mode = mode_of(run),
    params = rjson.object(copy_plain(run.params or {}, 1)), exit = run.exit, audit = run.audit_path,
    dir = run.dir, started = run.started, ended = run.ended, interrupted = run.interrupted,
    findings = findings_of(run.findings), steps = steps,
  }
end

--- json(run | doc) -> text (redacted)
function M.json(run)
  local d = run.version and run or M.doc(run)
  return sys.redact(rjson.encode(d))
end

--- load(text) -> a document saved by json() | nil, err
function M.load(text)
  local ok, d = pcall(cjson.decode, text)
  if not ok or type(d) ~= "table" then return nil, "not a run document: " .. tostring(d) end
  if type(d.steps) ~= "table" or d.run == nil then return nil, "not a run document (no run or steps)" end
  local function denull(t)
    for k, v in pairs(t) do
      if v == cjson.null then t[k] = nil elseif type(v) == "table" then denull(v) end
    end
  end
  denull(d)
  d.exit = math.tointeger(d.exit) or d.exit
  d.params = rjson.object(d.params or {})
  d.findings = d.findings or {}
  return d
end

local FORMATS = { md = true, json = true, html = true }

--- format_of(path) -> "md" | "json" | "html" | nil, err
function M.format_of(path)
  local ext = tostring(path):match("%.(%w+)$")
  ext = ext and ext:lower()
  if ext == "markdown" then ext = "md" elseif ext == "htm" then ext = "html" end
  if FORMATS[ext] then return ext end
  return nil, ("report file '%s': the extension must be .md, .json or .html"):format(path)
end

--- render(doc, format, opts) -> text (redacted). opts.audit: rb.report_audit
--- events of the run (header hashes, timeline); opts.runs: more documents
--- for one timeline (runbook report --since).
function M.render(d, format, opts)
  if format == "json" then return sys.redact(rjson.encode(d)) end
  if format == "md" then return sys.redact(require("rb.report_md").render(d, opts or {})) end
  return sys.redact(require("rb.report_html").render(d, opts or {}))
end

local function audit_of(d)
  if not d.audit or not d.run then return nil end
  return (require("rb.report_audit").events(d.audit, d.run))
end

--- write_doc(path, doc, opts) -> true | nil, err
function M.write_doc(path, d, opts)
  local format, ferr = M.format_of(path)
  if not format then return nil, ferr end
  opts = opts or {}
  if opts.audit == nil and format ~= "json" then opts.audit = audit_of(d) end
  local text = M.render(d, format, opts)
  local f, err = require("rb._audit").open_private(path, "w")
  if not f then return nil, err end
  local ok, werr = f:write(text)
  f:close()
  if not ok then return nil, werr end
  return true
end

--- write(path, run) -> true | nil, err: the format by the extension
function M.write(path, run)
  return M.write_doc(path, M.doc(run))
end

--- write_dir(dir, run) -> true | nil, err: report.md, report.json, report.html
function M.write_dir(dir, run)
  local ok, err = require("rb._core").mkdir_private(dir)
  if not ok then return nil, err end
  local d = M.doc(run)
  local opts = { audit = audit_of(d) }
  for _, ext in ipairs { "md", "json", "html" } do
    ok, err = M.write_doc(dir .. "/report." .. ext, d, opts)
    if not ok then return nil, err end
  end
  return true
end

--- write_many(path, runs, title) -> true | nil, err: several runs in one
--- file (runs: { {doc, audit}, ... }); HTML puts them on one timeline
function M.write_many(path, runs, title)
  local format, ferr = M.format_of(path)
  if not format then return nil, ferr end
  local text
  if format == "html" then text = require("rb.report_html").render_many(runs, title)
  elseif format == "json" then
    local docs = {}
    for i, r in ipairs(runs) do docs[i] = r.doc end
    text = rjson.encode { title = title, runs = docs }
  else
    local parts = { "# " .. title, "" }
    for _, r in ipairs(runs) do parts[#parts + 1] = require("rb.report_md").render(r.doc, { audit = r.audit }) end
    text = table.concat(parts, "\n")
  end
  local f, err = require("rb._audit").open_private(path, "w")
  if not f then return nil, err end
  local ok, werr = f:write(sys.redact(text))
  f:close()
  if not ok then return nil, werr end
  return true
end

--- markdown(run) -> text (kept for callers of the first version)
function M.markdown(run)
  local d = M.doc(run)
  return M.render(d, "md", { audit = audit_of(d) })
end

return M
