-- rb.ctx — the engine's side of the ctx a step function receives.
--
-- The step runs in its runbook world (engine/host/world.c); there, ctx is a
-- table of plain data (params, section, step, mode, dry_run, thresholds)
-- whose methods forward copies of their arguments to the sink built here,
-- which validates them and records what the step reports in its run
-- (rb.runner). Misuse raises in the step, at the step's own line.
local level = require "rb.level"

local M = {}
M.LEVEL_ORDER = level.ORDER
M.classify = level.classify

local CHECK_FIELDS = { name = true, value = true, warn = true, crit = true, unit = true,
  higher_is_worse = true, threshold = true, detail = true }
local EXPECT_FIELDS = { name = true, ok = true, level = true, detail = true }

local function misuse(fmt, ...) error(fmt:format(...), 0) end

local function known_fields(t, fields, what)
  for k in pairs(t) do
    if not fields[k] then
      local names = {}
      for n in pairs(fields) do names[#names + 1] = n end
      table.sort(names)
      misuse("%s: unknown field '%s' (fields are: %s)", what, tostring(k), table.concat(names, ", "))
    end
  end
end

--- spec(run, step, mode) -> the data the world turns into the step's ctx
function M.spec(run, step, mode)
  return {
    params = run.params, section = run.section.id, step = step.title, mode = mode,
    dry_run = run.dry_run, thresholds = run.thresholds or {},
  }
end

-- ctx:check{name, value, warn, crit, unit?, higher_is_worse? = true, threshold?, detail?}
-- threshold names an entry of the book's thresholds for warn/crit/unit.
local function check(run, step, mode, c)
  if type(c) ~= "table" then misuse("ctx:check expects a table") end
  known_fields(c, CHECK_FIELDS, "ctx:check")
  local t = c.threshold and run.thresholds[c.threshold]
  if c.threshold and not t then misuse("ctx:check: unknown threshold '%s'", tostring(c.threshold)) end
  t = t or {}
  local f = {
    name = c.name or t.title or c.threshold, value = c.value,
    warn = c.warn or t.warn, crit = c.crit or t.crit, unit = c.unit or t.unit,
    higher_is_worse = c.higher_is_worse, threshold = c.threshold, detail = c.detail,
  }
  if f.higher_is_worse == nil then f.higher_is_worse = t.higher_is_worse ~= false end
  if type(f.name) ~= "string" then misuse("ctx:check needs a name") end
  if f.warn == nil and f.crit == nil then
    misuse("ctx:check '%s': give warn and/or crit (or a threshold); use ctx:expect for a yes/no check", f.name)
  end
  if f.detail ~= nil and type(f.detail) ~= "string" and type(f.detail) ~= "number" then
    misuse("ctx:check '%s': detail must be a string (got %s)", f.name, type(f.detail))
  end
  if f.value ~= nil and type(f.value) ~= "number" then
    misuse("ctx:check '%s': value must be a number (got %s)", f.name, type(f.value))
  end
  f.level = level.classify(f.value, f.warn, f.crit, f.higher_is_worse)
  run:finding(step, f, mode)
  return f.level
end

-- ctx:expect{name, ok, level = "critical" | "warning", detail?}: a yes/no check.
-- ok == nil (could not tell) is "unknown", never good.
local function expect(run, step, mode, c)
  if type(c) ~= "table" then misuse("ctx:expect expects a table") end
  known_fields(c, EXPECT_FIELDS, "ctx:expect")
  if type(c.name) ~= "string" then misuse("ctx:expect needs a name") end
  if c.ok ~= nil and type(c.ok) ~= "boolean" then misuse("ctx:expect '%s': ok must be true, false or nil", c.name) end
  if c.detail ~= nil and type(c.detail) ~= "string" and type(c.detail) ~= "number" then
    misuse("ctx:expect '%s': detail must be a string (got %s)", c.name, type(c.detail))
  end
  local bad = c.level or "critical"
  if bad ~= "critical" and bad ~= "warning" then misuse("ctx:expect '%s': level must be critical or warning", c.name) end
  local f = { name = c.name, value = c.ok, detail = c.detail, boolean = true,
    level = c.ok == nil and "unknown" or c.ok and "good" or bad }
  run:finding(step, f, mode)
  return f.level
end

--- sink(run, step, mode) -> the functions the step's ctx methods call
function M.sink(run, step, mode)
  return {
    check = function(c) return check(run, step, mode, c) end,
    expect = function(c) return expect(run, step, mode, c) end,
    note = function(text) run:note(step, tostring(text), mode) end,
    log = function(...)
      local parts = table.pack(...)
      for i = 1, parts.n do parts[i] = tostring(parts[i]) end
      run:log(step, table.concat(parts, "\t", 1, parts.n), mode)
    end,
    chart = function(c) return run:chart(step, c, mode) end,
    attach = function(a) return run:attach(step, a, mode) end,
    threshold = function(name) return run.thresholds[name] end,
  }
end

return M
