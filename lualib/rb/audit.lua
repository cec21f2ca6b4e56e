-- rb.audit — builds audit events (DESIGN §5) and appends them through the
-- C chain writer (rb._audit). Members are written in a fixed order so the
-- log reads the same way every time: event, run, user, host, section, step,
-- dry_run, then the event's own fields.
local core = require "rb._audit"
-- NaN and infinities (a check on a broken metric) are written as null
local cjson = require("cjson").new()
cjson.encode_invalid_numbers("null")

local M = {}

local ORDER = { "event", "run", "user", "host", "section", "step", "dry_run",
  "mode", "action", "actions", "answer", "finding", "ok", "error", "ms", "exit", "notes" }
local RANK = {}
for i, k in ipairs(ORDER) do RANK[k] = i end

local function encode(v)
  if type(v) == "table" and next(v) == nil then return "[]" end
  return cjson.encode(v)
end

--- members(tbl) -> JSON members text (no braces) in the audit order.
function M.members(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local ra, rb_ = RANK[a] or 100, RANK[b] or 100
    if ra ~= rb_ then return ra < rb_ end
    return a < b
  end)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = cjson.encode(k) .. ":" .. encode(t[k]) end
  return table.concat(parts, ",")
end

local Log = {}
Log.__index = Log

--- open(path, base) -> log; base holds run, user, host, section, dry_run.
function M.open(path, base)
  return setmetatable({ path = path, base = base }, Log)
end

--- log:context(step) -> members for the gate's intent/result events.
function Log:context(step)
  local t = {}
  for k, v in pairs(self.base) do t[k] = v end
  t.step = step
  return M.members(t)
end

--- log:event(name, fields, step?) appends one event; raises if it cannot
--- (a run that cannot audit does not go on).
function Log:event(name, fields, step)
  local t = {}
  for k, v in pairs(self.base) do t[k] = v end
  for k, v in pairs(fields or {}) do t[k] = v end
  t.event, t.step = name, step
  local ok, err = core.append(self.path, M.members(t), true)
  -- an operational error (no traceback): the run cannot audit, so it does not go on
  if not ok then error(setmetatable({ kind = "audit", message = "audit: " .. err },
    { __tostring = function(e) return e.message end }), 0) end
end

M.verify = core.verify
M.default_path = core.default_path
--- open_private(path, "w" | "a") -> io file | nil, err: for the other files the
--- engine writes (report, run directory); refuses symlinks, files owned by
--- another user or writable by others, and planted directory links, and
--- creates new files 0600 (engine/core/safefile.h, docs/audit.md).
M.open_private = core.open_private
return M
