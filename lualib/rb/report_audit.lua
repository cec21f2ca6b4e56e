-- rb.report_audit — what the audit log says about runs, for reports: the
-- events of one run (its timeline, first and last hash), the runs that
-- started since a time, and a run document rebuilt from events alone
-- (when the run's report.json is gone). Reads the file line by line and
-- decodes only the lines of the runs asked for.
local cjson = require("cjson").new()
local fmt = require "rb.report_fmt"
local rjson = require "rb.report_json"

local M = {}

local function decode(line)
  local ok, e = pcall(cjson.decode, line)
  if ok and type(e) == "table" then return e end
end

-- calls fn(event, line_no) for each line holding `needle` (plain), decoded
local function scan(path, needle, fn)
  local f, err = io.open(path, "r")
  if not f then return nil, err end
  local n = 0
  for line in f:lines() do
    n = n + 1
    if not needle or line:find(needle, 1, true) then
      local e = decode(line)
      if e then fn(e, n) end
    end
  end
  f:close()
  return true
end

--- events(path, run_id) -> {events = {...}, first, last, path} | nil, err
-- first/last: the hash of the run's first and last event in the file.
function M.events(path, run_id)
  local out = { path = path, events = {} }
  local ok, err = scan(path, '"run":' .. cjson.encode(run_id), function(e, n)
    if e.run == run_id then
      e.line = n
      out.events[#out.events + 1] = e
    end
  end)
  if not ok then return nil, err end
  if #out.events > 0 then out.first, out.last = out.events[1].hash, out.events[#out.events].hash end
  return out
end

--- runs(path, since_epoch?) -> { {run, ts, section}, ... } in file order
function M.runs(path, since)
  local out = {}
  local ok, err = scan(path, '"event":"run_start"', function(e)
    if e.event == "run_start" and e.run then
      local t = fmt.epoch(e.ts)
      if not since or (t and t >= since) then out[#out + 1] = { run = e.run, ts = t, section = e.section } end
    end
  end)
  if not ok then return nil, err end
  return out
end

--- find(path, text) -> run id | nil, err: a whole id or a prefix of exactly one
function M.find(path, text)
  local runs, err = M.runs(path)
  if not runs then return nil, err end
  local hits, seen = {}, {}
  for _, r in ipairs(runs) do
    if r.run == text then return r.run end
    if r.run:sub(1, #text) == text and not seen[r.run] then hits[#hits + 1] = r.run; seen[r.run] = true end
  end
  if #hits == 1 then return hits[1] end
  if #hits == 0 then return nil, ("no run '%s' in %s"):format(text, path) end
  return nil, ("'%s' matches %d runs in %s (%s); give more of the id"):format(text, #hits, path,
    table.concat(hits, ", ", 1, math.min(#hits, 5)))
end

-- A step record rebuilt from events.
local function step_of(steps, by_title, e)
  local s = by_title[e.step]
  if not s then
    s = { title = e.step, kind = "investigate", findings = {}, notes = {}, logs = {} }
    by_title[e.step] = s
    steps[#steps + 1] = s
  end
  return s
end

local ON = {
  run_start = function(d, e)
    d.started, d.mode, d.params = fmt.epoch(e.ts), e.mode, rjson.object(e.params or {})
  end,
  step_start = function(d, e, s)
    s.started = s.started or fmt.epoch(e.ts)
    s.kind = e.mode == "resolve" and "resolve" or "investigate"
  end,
  finding = function(d, e, s)
    local f = e.finding or {}
    f.step = e.step
    s.findings[#s.findings + 1] = f
    d.findings[#d.findings + 1] = f
  end,
  plan = function(d, e, s) s.plan = e.actions or {} end,
  confirm = function(d, e, s) s.answer = e.answer end,
  intent = function(d, e, s) s.applied = true end,
  step_end = function(d, e, s)
    s.ok, s.error, s.ms = e.ok, e.error, e.ms
    s.notes = e.notes or s.notes
    s.attachments = e.attachments
    if e.applied ~= nil then s.applied = e.applied end
    if e.verified ~= nil then s.verify = { ok = e.verified } end
  end,
  run_end = function(d, e) d.exit, d.dir, d.ended = math.tointeger(e.exit) or e.exit, e.dir, fmt.epoch(e.ts) end,
  interrupted = function(d, e) d.interrupted = true; d.ended = fmt.epoch(e.ts) end,
}

--- doc(info) -> a run document from the events of one run (rb.report's shape,
--- with `rebuilt = "audit"`: no logs, charts or simulated diffs, which the
--- audit does not hold)
function M.doc(info)
  local first = info.events[1] or {}
  local d = { run = first.run, section = first.section, user = first.user, host = first.host,
    dry_run = first.dry_run, audit = info.path, findings = {}, steps = {}, rebuilt = "audit" }
  local by_title = {}
  for _, e in ipairs(info.events) do
    local h = ON[e.event]
    if h then h(d, e, e.step and step_of(d.steps, by_title, e)) end
  end
  return d
end

return M
