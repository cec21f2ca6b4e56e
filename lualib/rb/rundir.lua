-- rb.rundir — the directory the engine owns for one run: RUNS/<run-id>/
-- beside the audit file (RUNS = <audit dir>/runs). Files a step hands over
-- (ctx:attach: a saved profile, a flame graph) and the run document
-- (report.json) are written here by the engine, never by runbook code; the
-- audit's run_end event names the directory. Created 0700, files 0600,
-- without following links (rb._audit.open_private).
local core = require "rb._core"
local caudit = require "rb._audit"

local M = {}

--- path(audit_path, run_id) -> the run's directory
function M.path(audit_path, run_id)
  -- an audit table (postgres://...) has no directory: the default file's is used
  if audit_path:match("^%a[%w+.-]*://") then audit_path = caudit.default_path() end
  local dir = audit_path:match("^(.*)/[^/]+$") or "."
  return dir .. "/runs/" .. run_id
end

--- create(path) -> true | nil, err
function M.create(path) return core.mkdir_private(path) end

-- A file name from a step's name for an attachment: letters, digits, - _ .
local function safe(name)
  local s = tostring(name):gsub("[^%w%-_.]", "_"):gsub("^%.+", "_")
  return s:sub(1, 100)
end

--- write(dir, name, data) -> path | nil, err
function M.write(dir, name, data)
  local path = dir .. "/" .. safe(name)
  local f, err = caudit.open_private(path, "w")
  if not f then return nil, err end
  local ok, werr = f:write(data)
  f:close()
  if not ok then return nil, werr end
  return path
end

return M
