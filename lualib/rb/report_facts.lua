-- rb.report_facts — what the report formats say the same way: the mode,
-- exit meaning, a step's status and approval, the SQL of a planned action,
-- the result of each applied action (from the audit's result events),
-- verification before -> after rows, a one-line text per audit event, and
-- the moments fixes were applied (chart markers). Pure functions of the run
-- document and the run's audit events.
local fmt = require "rb.report_fmt"

local M = {}

local EXIT = { [0] = "done", [1] = "a step failed or a fix was not verified", [2] = "usage or load error",
  [3] = "declined, refused or interrupted", [4] = "critical findings", [5] = "cannot tell" }
function M.exit_text(code) return EXIT[tonumber(code) or -1] or "unknown" end

function M.mode(d)
  local m = d.dry_run and "DRY RUN (nothing changed)" or "live"
  if d.mode and d.mode ~= "full" then m = m .. ", " .. d.mode end
  return m
end

function M.status(s)
  if s.ok == false then return "failed" end
  if s.kind == "resolve" then
    if s.applied then return s.verify and s.verify.ok == false and "applied, NOT verified" or "applied" end
    if s.plan then return "planned, not applied" end
    return s.ok and "done" or "not run"
  end
  return s.ok and "ok" or "not finished"
end

--- approval(step, doc) -> who approved and how
function M.approval(s, d)
  if s.answer then return ("%s by %s"):format(s.answer, d.user or "?") end
  if d.dry_run then return "no (dry run)" end
  if s.plan and #s.plan == 0 then return "nothing to approve" end
  return "not asked"
end

--- sql(action) -> the statement of a pg action | nil
function M.sql(a)
  if a.binding ~= "pg" then return nil end
  local args = a.args
  if type(args) == "table" then
    if type(args[1]) == "string" then return args[1] end
    if type(args.sql) == "string" then return args.sql end
    if type(args.query) == "string" then return args.query end
  end
  return nil
end

--- is_diff(text): a unified diff or "field: a -> b" lines
function M.is_diff(text)
  return text:find("\n[+-]", 1) ~= nil or text:find("^[+-]") ~= nil or text:find("^@@") ~= nil
end

--- results(audit, step_title) -> {[i] = {ok, ms, error}}: the result events
--- of the step's applied actions, in order (the gate writes them in plan order)
function M.results(audit, title)
  local out = {}
  for _, e in ipairs(audit and audit.events or {}) do
    if e.event == "result" and e.step == title then
      out[#out + 1] = { ok = e.ok, ms = e.ms, error = e.error, ts = e.ts }
    end
  end
  return out
end

--- before_after(verify) -> { {name, before, after, unit, level} }
function M.before_after(v)
  local before, rows = {}, {}
  for _, b in ipairs(v.before or {}) do before[b.name] = b end
  for _, a in ipairs(v.after or {}) do
    local b = before[a.name] or {}
    rows[#rows + 1] = { name = a.title or a.name, before = b.value, after = a.value, unit = a.unit or b.unit,
      level = a.level, before_level = b.level, err = a.err }
  end
  return rows
end

local function action_text(a)
  if type(a) ~= "table" then return "?" end
  return ("%s.%s %s"):format(a.binding or "?", a.op or "?", a.target or "")
end

local EVENT = {
  run_start = function(e) return ("run started by %s@%s (%s%s)"):format(e.user or "?", e.host or "?",
    e.mode or "full", e.dry_run and ", dry run" or "") end,
  step_start = function(e) return ("step '%s' started (%s)"):format(e.step, e.mode or "?") end,
  finding = function(e) local f = e.finding or {}
    return ("finding %s: %s = %s"):format(f.level or "?", f.name or "?", fmt.num(f.value, f.unit)) end,
  plan = function(e) return ("step '%s' planned %d action(s)"):format(e.step, #(e.actions or {})) end,
  confirm = function(e) return ("step '%s' approved? %s"):format(e.step, tostring(e.answer)) end,
  intent = function(e) return ("sending %s"):format(action_text(e.action)) end,
  result = function(e) return ("%s %s (%s)%s"):format(e.ok and "ok" or "FAILED", action_text(e.action),
    fmt.duration(e.ms), e.error and (": " .. tostring(e.error)) or "") end,
  step_end = function(e) return ("step '%s' ended: %s%s"):format(e.step, e.ok and "ok" or "failed",
    e.error and (": " .. tostring(e.error)) or "") end,
  run_end = function(e) return ("run ended, exit %s"):format(fmt.num(e.exit)) end,
  interrupted = function() return "run INTERRUPTED" end,
}

--- event_text(e) -> one line describing an audit event
function M.event_text(e)
  local f = EVENT[e.event]
  return f and f(e) or tostring(e.event)
end

--- markers(doc, audit) -> { {t, label} }: when each applied step's fix was
--- sent (its first intent event; else the step's start time)
function M.markers(d, audit)
  local first = {}
  for _, e in ipairs(audit and audit.events or {}) do
    if e.event == "intent" and e.step and not first[e.step] then first[e.step] = fmt.epoch(e.ts) end
  end
  local out = {}
  for _, s in ipairs(d.steps or {}) do
    if s.kind == "resolve" and s.applied then
      local t = first[s.title] or s.started
      if t then out[#out + 1] = { t = t, label = "fix applied: " .. s.title } end
    end
  end
  return out
end

return M
