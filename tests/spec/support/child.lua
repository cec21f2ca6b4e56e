-- tests/spec/support/child.lua — a `runbook lua` child process to interrupt:
--   local child = require "tests.spec.support.child"
--   local c = child.start(runbook, lua_source)   -- runs it in the background
--   local ms = c:interrupt()                     -- SIGINT; ms until it exited
-- The exit time is written by a wrapper shell when `wait` returns, so a child
-- left as a zombie (reparented, not yet reaped) is not counted as running.
local util = require "tests.spec.support.util"
local sys = require "rb._sys"

local M = {}
local Child = {}
Child.__index = Child

local function wait_for(what, seconds, fn)
  local deadline = sys.clock_ms() + seconds * 1000
  repeat
    local v = fn()
    if v then return v end
    sys.sleep_ms(20)
  until sys.clock_ms() > deadline
  error("timed out waiting for " .. what)
end

function M.start(runbook, source)
  local base = os.tmpname()
  util.write_file(base .. ".lua", source)
  os.execute(("sh -c '%s lua %s.lua >%s.out 2>&1 & echo $! >%s.pid; wait $!; date +%%s%%N >%s.done' "
    .. ">/dev/null 2>&1 &"):format(runbook, base, base, base, base))
  local pid = wait_for("the child's pid", 5, function() return tonumber(util.read_file(base .. ".pid")) end)
  return setmetatable({ pid = pid, base = base }, Child)
end

--- c:interrupt([signal]) -> milliseconds from the signal to the child's exit
function Child:interrupt(signal)
  local t0 = tonumber(util.sh(("date +%%s%%N; kill -%s %d"):format(signal or "INT", self.pid)))
  local done = wait_for("the child to exit", 10, function() return tonumber(util.read_file(self.base .. ".done")) end)
  return (done - t0) / 1e6
end

--- c:output() -> what the child printed (stdout and stderr)
function Child:output() return util.read_file(self.base .. ".out") end

function Child:cleanup()
  for _, ext in ipairs { "", ".lua", ".out", ".pid", ".done" } do os.remove(self.base .. ext) end
end

return M
