-- rb.sandbox — the environments runbook files run in. This file runs inside a
-- runbook world (engine/host/world.c), once, before any runbook file: it is
-- engine code, and nothing of it is reachable from runbook code (no debug
-- library, no upvalue access, protected metatables).
--
-- A runbook file gets a fresh globals table whose __index is BASE: a safe,
-- read-only view of the standard library (no io, no os.execute/exit/remove/
-- rename/tmpname, no loadfile/dofile, no binary chunks, no string.dump) plus
-- print (redacted, through the engine). Reading or assigning an undeclared
-- global raises. `require` serves the public modules (rb.modules.PUBLIC) as
-- read-only views and the book's own lib/ modules. Metatables of engine
-- objects can be neither read nor changed; __gc finalizers (code that would
-- run outside a step) are refused.
local priv = ...          -- from world.c: load_lib, print, stderr, public
local M = {}

local rawget, rawset, getmt, setmt, type, error, pairs, next, tostring, select =
  rawget, rawset, getmetatable, setmetatable, type, error, pairs, next, tostring, select

-- Module code in the world may write progress lines to stderr; nothing else of io exists.
io = { stderr = { write = function(self, ...) priv.stderr(...) return self end } }   -- luacheck: ignore

-- Read-only views ----------------------------------------------------------
local views = setmt({}, { __mode = "k" })     -- real table -> its view
local is_view = setmt({}, { __mode = "k" })   -- view -> true

local function hidden(k)
  return type(k) == "string" and k:sub(1, 1) == "_" and k ~= "_VERSION"
end

local function index(t, k) return t[k] end

local view
local function view_of(t)
  local mt = {
    __index = function(_, k)
      if hidden(k) then return nil end
      local ok, v = pcall(index, t, k)
      if not ok then error(v, 2) end   -- at the runbook's line, not this one
      return view(v)
    end,
    __newindex = function(_, k)
      error(("attempt to change '%s' of a read-only module"):format(tostring(k)), 2)
    end,
    __pairs = function()
      local iter, st, ctl = pairs(t)
      local function step(_, k)
        local v
        repeat k, v = iter(st, k) until k == nil or not hidden(k)
        if k ~= nil then return k, view(v) end
      end
      return step, nil, ctl
    end,
    __len = function() return #t end,
    __metatable = "read-only",
  }
  return setmt({}, mt)
end

function view(t)
  if type(t) ~= "table" or is_view[t] then return t end
  local v = views[t]
  if not v then
    v = view_of(t)
    views[t], is_view[v] = v, true
  end
  return v
end

local function only(src, names)
  local t = {}
  for _, k in pairs(names) do t[k] = src[k] end
  return t
end

-- Metatables ------------------------------------------------------------
local owned = setmt({}, { __mode = "k" })   -- metatables runbook code set itself

local function sb_getmetatable(v)
  local mt = getmt(v)
  if type(mt) == "table" and not owned[mt] then return nil end
  return mt
end

local function sb_setmetatable(t, mt)
  if type(t) ~= "table" then error("bad argument #1 to 'setmetatable' (table expected)", 2) end
  if is_view[t] then error("attempt to change a read-only module", 2) end
  local cur = getmt(t)
  if cur ~= nil and not owned[cur] then error("cannot change a protected metatable", 2) end
  if mt ~= nil then
    if type(mt) ~= "table" then error("bad argument #2 to 'setmetatable' (nil or table expected)", 2) end
    if rawget(mt, "__gc") ~= nil then
      error("__gc is not allowed in runbooks: a finalizer would run outside any step", 2)
    end
    owned[mt] = true
  end
  return setmt(t, mt)
end

-- Module code in the world (rb.lua, rb.prom ...) calls this setmetatable. A
-- class table whose __index is itself (rb.Section, rb.Book, prom's Client)
-- would hand itself to runbook code as obj.__index; it is sealed on first
-- use: its __index becomes a read-only view of it. No finalizer is accepted
-- from Lua code anywhere in a world (none of the modules needs one), so a
-- class cannot be given a __gc that runs runbook code outside a step.
local function readonly_class(mt)
  local p = setmt({}, {
    __index = mt,
    __newindex = function(_, k) error(("attempt to change '%s' of a read-only class"):format(tostring(k)), 2) end,
    __metatable = "read-only",
  })
  is_view[p] = true
  return p
end

local function world_setmetatable(t, mt)
  if type(mt) == "table" then
    if rawget(mt, "__gc") ~= nil then error("__gc is not allowed in a runbook world", 2) end
    if rawget(mt, "__index") == mt then rawset(mt, "__index", readonly_class(mt)) end
  end
  return setmt(t, mt)
end
setmetatable = world_setmetatable   -- luacheck: ignore (the world's global, for the modules)

local function sb_rawset(t, k, v)
  if is_view[t] then error("attempt to change a read-only module", 2) end
  return rawset(t, k, v)
end

-- An error raised by the world's hook (load deadline, Ctrl-C) runs message
-- handlers with hooks off: a runbook's handler is then not called (it could
-- loop where nothing stops it); xpcall returns false and the error.
local stopping = priv.stopping
local function sb_xpcall(f, handler, ...)
  if type(handler) ~= "function" then return xpcall(f, handler, ...) end
  return xpcall(f, function(e)
    if stopping() then return e end
    return handler(e)
  end, ...)
end

-- The same holds for a coroutine that died of such an error: Lua closes its
-- to-be-closed variables with hooks still off (coroutine.wrap does it by
-- itself), so their __close could loop unstoppably. wrap is rebuilt on
-- resume, and neither closes a coroutine while a stop is acted on.
local cocreate, coresume, coclose = coroutine.create, coroutine.resume, coroutine.close
local SAFE_COROUTINE = only(coroutine, { "create", "isyieldable", "resume", "running", "status", "yield" })

function SAFE_COROUTINE.close(co)
  if stopping() then return false, "not closed: the runbook is being stopped" end
  return coclose(co)
end

local function wrapped(co, ok, ...)
  if ok then return ... end
  local e = ...
  if not stopping() then coclose(co) end
  error(e, 2)   -- as Lua's wrap: a string gets its caller's position (the closure is a tail call)
end

function SAFE_COROUTINE.wrap(f)
  local co = cocreate(f)
  return function(...) return wrapped(co, coresume(co, ...)) end
end

local GC_OPTS = { count = true, collect = true, step = true }
local function sb_collectgarbage(opt, ...)
  if opt ~= nil and not GC_OPTS[opt] then
    error(("collectgarbage('%s') is not available to runbooks"):format(tostring(opt)), 2)
  end
  return collectgarbage(opt, ...)
end

-- The string library runbook code sees, also through a string's methods
-- (("").dump must not be string.dump): the world's string metatable indexes
-- this copy, which runbook code cannot name (getmetatable("") is nil).
-- Its pattern functions are the world's own (engine/host/strmatch.c): same
-- patterns and results, but a match that backtracks for hours is stopped by
-- the load limit or Ctrl-C, which Lua's own matcher (all C, no hook) is not.
local SAFE_STRING = only(string, { "byte", "char", "format", "len", "lower", "rep", "reverse", "sub",
  "upper", "pack", "packsize", "unpack" })
for name, f in pairs(priv.strmatch) do SAFE_STRING[name] = f end
getmt("").__index = SAFE_STRING

-- The table library, with the two functions whose C loops are not bounded by
-- the memory they touch made stoppable: move over a huge range goes in
-- chunks (the world's hook runs between calls), sort compares in Lua (one
-- comparison of two long strings is one call, not a whole sort).
local SAFE_TABLE = only(table, { "concat", "insert", "pack", "remove", "unpack" })
local tmove, tsort, mtype, min, max = table.move, table.sort, math.type, math.min, math.max
local MOVE_CHUNK = 1 << 16

function SAFE_TABLE.move(a1, f, e, t, a2)
  if mtype(f) ~= "integer" or mtype(e) ~= "integer" or mtype(t) ~= "integer" or e - f < MOVE_CHUNK then
    return tmove(a1, f, e, t, a2)
  end
  local dst = a2 == nil and a1 or a2
  if rawequal(dst, a1) and t > f and t <= e then   -- overlapping to the right: from the end
    for hi = e, f, -MOVE_CHUNK do
      local lo = max(f, hi - MOVE_CHUNK + 1)
      tmove(a1, lo, hi, t + (lo - f), dst)
    end
  else
    for lo = f, e, MOVE_CHUNK do tmove(a1, lo, min(e, lo + MOVE_CHUNK - 1), t + (lo - f), dst) end
  end
  return dst
end

local function less(a, b) return a < b end
function SAFE_TABLE.sort(t, cmp) return tsort(t, cmp or less) end

-- BASE: what every runbook file sees -------------------------------------
local BASE = {
  assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs, pcall = pcall,
  rawequal = rawequal, rawget = rawget, rawlen = rawlen, rawset = sb_rawset, select = select,
  tonumber = tonumber, tostring = tostring, type = type, xpcall = sb_xpcall, _VERSION = _VERSION,
  getmetatable = sb_getmetatable, setmetatable = sb_setmetatable,
  collectgarbage = sb_collectgarbage, print = priv.print,
  string = view(SAFE_STRING),
  table = view(SAFE_TABLE), math = view(math), utf8 = view(utf8), coroutine = view(SAFE_COROUTINE),
  os = view(only(os, { "clock", "date", "difftime", "getenv", "time" })),
  debug = view({ traceback = debug.traceback }),
}

local function strict_index(_, k)
  local v = BASE[k]
  if v == nil then error(("undeclared global '%s'"):format(tostring(k)), 2) end
  return v
end

local function strict_newindex(_, k)
  error(("assignment to undeclared global '%s' (use local)"):format(tostring(k)), 2)
end

local STRICT = { __index = strict_index, __newindex = strict_newindex, __metatable = "globals" }

-- require ---------------------------------------------------------------
local PUBLIC = {}
for _, name in pairs(priv.public) do PUBLIC[name] = true end
local real_require = require
local lib_cache = {}

local env

local function sb_require(name)
  if type(name) ~= "string" then error("require expects a module name", 2) end
  if PUBLIC[name] then return view(real_require(name)) end
  local v = lib_cache[name]
  if v ~= nil then return v end
  if name:match("^[%w_][%w_.]*$") and not name:match("^rb%.") then
    local chunk, err = priv.load_lib(name)
    if err then error(err, 0) end
    if chunk then
      v = chunk(name)
      if v == nil then v = true end
      lib_cache[name] = v
      return v
    end
  end
  local list = {}
  for n in pairs(PUBLIC) do list[#list + 1] = n end
  table.sort(list)
  error(("module '%s' is not available to runbooks (they may require %s, and the book's lib/*.lua)")
    :format(name, table.concat(list, ", ")), 2)
end

--- env() -> a fresh strict globals table for one runbook file
function env()
  local e = { require = sb_require }
  e.load = function(chunk, name, mode, fenv)
    if mode ~= nil and mode ~= "t" then error("load: only text chunks are allowed in runbooks", 2) end
    return load(chunk, name, "t", fenv or e)
  end
  e._G = e
  return setmt(e, STRICT)
end

M.env = env
M.view = view
return M
