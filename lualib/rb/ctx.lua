-- rb.ctx — the object a step function receives: params, check, note, log.
-- Each step gets a fresh ctx; what it records goes to its run (rb.runner).
local M = {}

local Ctx = {}
Ctx.__index = Ctx
Ctx.__name = "rb.Ctx"

local level = require "rb.level"
M.LEVEL_ORDER = level.ORDER
M.classify = level.classify

function M.new(run, step, mode)
  return setmetatable({
    params = run.params, section = run.section.id, step = step.title, mode = mode,
    dry_run = run.dry_run, thresholds = run.thresholds or {}, _run = run, _step = step,
    dir = (run.section.file or ""):match("^(.*)/[^/]*$") or ".",
  }, Ctx)
end

--- ctx:check{name, value, warn, crit, unit?, higher_is_worse? = true, threshold?}
-- threshold names an entry of the book's thresholds for warn/crit/unit.
-- Returns the level. Misuse raises.
function Ctx:check(c)
  if type(c) ~= "table" then error("ctx:check expects a table", 2) end
  local t = c.threshold and self.thresholds[c.threshold]
  if c.threshold and not t then error(("unknown threshold '%s'"):format(c.threshold), 2) end
  t = t or {}
  local f = {
    name = c.name or t.title or c.threshold, value = c.value,
    warn = c.warn or t.warn, crit = c.crit or t.crit, unit = c.unit or t.unit,
    higher_is_worse = c.higher_is_worse, threshold = c.threshold,
  }
  if f.higher_is_worse == nil then f.higher_is_worse = t.higher_is_worse ~= false end
  if type(f.name) ~= "string" then error("ctx:check needs a name", 2) end
  if f.value ~= nil and type(f.value) ~= "number" then
    error(("ctx:check '%s': value must be a number (got %s)"):format(f.name, type(f.value)), 2)
  end
  f.level = level.classify(f.value, f.warn, f.crit, f.higher_is_worse)
  f.detail = c.detail
  self._run:finding(self._step, f, self.mode)
  return f.level
end

--- ctx:note(text): a remark kept in the report and the step's audit event.
function Ctx:note(text)
  self._run:note(self._step, tostring(text), self.mode)
end

--- ctx:log(...): prints its arguments (tostring, tab-separated) under the step.
function Ctx:log(...)
  local parts = table.pack(...)
  for i = 1, parts.n do parts[i] = tostring(parts[i]) end
  self._run:log(self._step, table.concat(parts, "\t", 1, parts.n), self.mode)
end

--- ctx:threshold(name) -> the book's threshold table or nil
function Ctx:threshold(name) return self.thresholds[name] end

return M
