-- rb.json — JSON for runbooks: lua-cjson (linked into the binary), with
-- decode returning nil, err{kind = "parse"} instead of raising; rb.json.null
-- is the one null of every binding (cjson.null; rb.pg's NULL is the same
-- value); rb.json.error(kind, message, fields) is the one error constructor
-- (engine/errors.c, the same values the bindings return).
--
-- Bounded work for hostile input: rb.json uses its own cjson instance (so a
-- runbook cannot change the engine's settings, nor the engine a runbook's),
-- with nesting limited to MAX_DEPTH both ways, and encode measures a value
-- before writing it: a table shared at many places is counted at each (as
-- the text would repeat it), so a "billion laughs" value built from shared
-- tables is refused instead of being written out. Defaults are below; each
-- call may lower or raise them with its options.
local cjson = require "cjson"
local secret = require "rb._secret"   -- the error constructor lives beside the redactor

local MAX_DEPTH = 128                 -- nesting levels, decode and encode
local MAX_NODES = 1000000             -- values an encoded document expands to
local MAX_BYTES = 64 * 1024 * 1024    -- bytes of text it expands to (about)

local function instance(depth)
  local c = cjson.new()
  c.decode_max_depth(depth)
  c.encode_max_depth(depth)
  return c
end
local default = instance(MAX_DEPTH)

local M = {
  null = cjson.null,
  MAX_DEPTH = MAX_DEPTH, MAX_NODES = MAX_NODES, MAX_BYTES = MAX_BYTES,
}

local function limit(opts, k, def, fname)
  local v = opts and opts[k]
  if v == nil then return def end
  if math.type(v) ~= "integer" or v < 1 then
    error(("bad argument #2 to '%s' (%s must be a positive integer)"):format(fname, k), 3)
  end
  return v
end

local function codec(opts, fname)
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #2 to '%s' (table expected, got %s)"):format(fname, type(opts)), 3)
  end
  local depth = limit(opts, "max_depth", MAX_DEPTH, fname)
  return depth == MAX_DEPTH and default or instance(depth)
end

-- What v expands to as JSON text: values and bytes (about), each table
-- measured once (memo) and counted wherever it appears.
local function measure(v, memo, lim, depth)
  local t = type(v)
  if t == "string" then return 1, #v + 2 end
  if t ~= "table" then return 1, 8 end
  local m = memo[v]
  if m then return m[1], m[2] end
  if depth > lim.depth then
    error(("rb.json.encode: the value is nested deeper than %d levels (max_depth)"):format(lim.depth), 0)
  end
  memo[v] = { 0, 0 }   -- a cycle counts nothing here; cjson refuses it by depth
  local nodes, bytes = 1, 2
  for k, x in next, v do
    local n1, b1 = measure(k, memo, lim, depth + 1)
    local n2, b2 = measure(x, memo, lim, depth + 1)
    nodes, bytes = nodes + n1 + n2, bytes + b1 + b2
    if nodes > lim.nodes then
      error(("rb.json.encode: the value expands to more than %d JSON values (max_nodes): shared "
        .. "tables repeated too often, or raise max_nodes"):format(lim.nodes), 0)
    end
    if bytes > lim.bytes then
      error(("rb.json.encode: the value expands to more than %d bytes (max_bytes)"):format(lim.bytes), 0)
    end
  end
  memo[v] = { nodes, bytes }
  return nodes, bytes
end

--- encode(value, {max_depth, max_nodes, max_bytes}) -> text (raises on values
--- JSON cannot hold, on cycles, and past a limit)
function M.encode(value, opts)
  local c = codec(opts, "encode")
  if type(value) == "table" then
    local lim = { nodes = limit(opts, "max_nodes", MAX_NODES, "encode"),
                  bytes = limit(opts, "max_bytes", MAX_BYTES, "encode"),
                  depth = limit(opts, "max_depth", MAX_DEPTH, "encode") }
    local ok, err = pcall(measure, value, {}, lim, 1)
    if not ok then error(err, 2) end
  end
  return c.encode(value)
end

--- error(kind, message, fields?) -> err: the rb.Error every binding returns
--- ({kind, message, ...fields}, printed as "KIND error: MESSAGE"; strings redacted)
function M.error(kind, message, fields)
  return secret.error(kind, message, fields)
end

--- decode(text, {max_depth}) -> value | nil, err{kind = "parse", message}
function M.decode(text, opts)
  local c = codec(opts, "decode")
  local ok, v = pcall(c.decode, text)
  if ok then return v end
  return nil, M.error("parse", tostring(v))
end

return M
