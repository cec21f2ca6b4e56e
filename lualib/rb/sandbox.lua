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

-- A book's own modules: NAME -> <book>/lib/NAME.lua ('.' -> '/'), loaded once
-- per book in a sandbox of their own.
local book_modules = {}

local function book_require(libdir, name)
  local cache = book_modules[libdir] or {}
  book_modules[libdir] = cache
  if cache[name] ~= nil then return cache[name] end
  local path = libdir .. "/" .. name:gsub("%.", "/") .. ".lua"
  local f = io.open(path, "r")
  if not f then return nil end
  f:close()
  local chunk, err = loadfile(path, "t", M.env { libdir = libdir })
  if not chunk then error(err, 0) end
  local v = chunk(name)
  cache[name] = v == nil and true or v
  return cache[name]
end

local function make_require(libdir)
  return function(name)
    if type(name) ~= "string" then error("require expects a module name", 2) end
    if name:match("^rb%._") then error(("module '%s' is engine-private"):format(name), 2) end
    if name == "rb" or name:match("^rb%.") or name == "cjson" then return require(name) end
    local std = { string = string, table = table, math = math, utf8 = utf8, coroutine = coroutine }
    if std[name] then return std[name] end
    if libdir and name:match("^[%w_.]+$") then
      local v = book_require(libdir, name)
      if v ~= nil then return v end
    end
    error(("module '%s' is not available to runbooks (rb.* modules, cjson%s are)"):format(name,
      libdir and (", and the book's lib/*.lua") or ""), 2)
  end
end

-- What every environment sees: built once, read through __index (copying the
-- standard library into each file's environment cost more than parsing it).
local BASE = copy_fields(_G, SAFE)
BASE.os = copy_fields(os, OS_SAFE)
BASE.io = copy_fields(io, IO_SAFE)
BASE.debug = { traceback = debug.traceback }

local function strict_index(_, k)
  local v = BASE[k]
  if v == nil then error(("undeclared global '%s'"):format(tostring(k)), 2) end
  return v
end

local function strict_newindex(_, k)
  error(("assignment to undeclared global '%s' (use local)"):format(tostring(k)), 2)
end

local STRICT = { __index = strict_index, __newindex = strict_newindex }

--- env{libdir?} -> a fresh strict environment table for one runbook file;
-- libdir: the book's lib/ directory, whose modules `require` can load.
function M.env(opts)
  local env = { require = make_require(opts and opts.libdir) }
  env.load = function(chunk, name, mode, e)
    if mode ~= nil and mode ~= "t" then error("load: only text chunks are allowed in runbooks", 2) end
    return load(chunk, name, "t", e or env)
  end
  env._G = env
  return setmetatable(env, STRICT)
end

return M
