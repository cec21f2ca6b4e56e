-- rb.sandbox — the environment runbook files run in: Lua's standard library
-- minus process control and code loading from files (no os.execute, os.exit,
-- io.popen, dofile, loadfile; load in text mode only), a require that serves
-- rb.* modules but not the engine-private rb._*, and strict globals (reading
-- or assigning an undeclared global raises).
local M = {}

local SAFE = { "assert", "error", "ipairs", "next", "pairs", "pcall", "print", "rawequal",
  "rawget", "rawlen", "rawset", "select", "setmetatable", "getmetatable", "tonumber",
  "tostring", "type", "xpcall", "collectgarbage", "_VERSION",
  "string", "table", "math", "utf8", "coroutine" }
local OS_SAFE = { "clock", "date", "difftime", "getenv", "time", "tmpname" }
local IO_SAFE = { "open", "lines", "read", "write", "type", "stdout", "stderr", "stdin", "close" }

local function copy_fields(src, names)
  local t = {}
  for _, k in ipairs(names) do t[k] = src[k] end
  return t
end

local function safe_require(name)
  if type(name) ~= "string" then error("require expects a module name", 2) end
  if name:match("^rb%._") then error(("module '%s' is engine-private"):format(name), 2) end
  if name == "rb" or name:match("^rb%.") or name == "cjson" then return require(name) end
  local std = { string = string, table = table, math = math, utf8 = utf8, coroutine = coroutine }
  if std[name] then return std[name] end
  error(("module '%s' is not available to runbooks (rb.* modules and cjson are)"):format(name), 2)
end

--- env() -> a fresh strict environment table for one runbook file.
function M.env()
  local env = copy_fields(_G, SAFE)
  env.os = copy_fields(os, OS_SAFE)
  env.io = copy_fields(io, IO_SAFE)
  env.debug = { traceback = debug.traceback }
  env.require = safe_require
  env.load = function(chunk, name, mode, e)
    if mode ~= nil and mode ~= "t" then error("load: only text chunks are allowed in runbooks", 2) end
    return load(chunk, name, "t", e or env)
  end
  env._G = env
  return setmetatable(env, {
    __index = function(_, k) error(("undeclared global '%s'"):format(tostring(k)), 2) end,
    __newindex = function(_, k) error(("assignment to undeclared global '%s' (use local)"):format(tostring(k)), 2) end,
  })
end

return M
