-- rb.k8s_util — the small pure helpers every part of rb.k8s shares: argument
-- checks, number printing, JSON decoding, URL escaping and query strings,
-- "kind/NAME" references and label selectors. No client, no I/O.
local cjson = require "cjson"

local M = {}

M.null = cjson.null

--- argcheck(cond, n, fname, msg): raises "bad argument #n to 'fname' (msg)"
-- at the level of the function's caller.
function M.argcheck(cond, n, fname, msg)
  if not cond then error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 3) end
end
local argcheck = M.argcheck

--- opts_of(opts, n, fname) -> opts or {} (raises unless a table or nil)
function M.opts_of(opts, n, fname)
  argcheck(opts == nil or type(opts) == "table", n, fname, "options table expected")
  return opts or {}
end

--- str(v): cjson decodes every number as a float: 3.0 prints as 3.
function M.str(v)
  if math.type(v) == "float" and v == math.floor(v) and math.abs(v) < 2^53 then return ("%d"):format(v) end
  return tostring(v)
end

--- decode(body) -> the decoded JSON | nil
function M.decode(body)
  local ok, v = pcall(cjson.decode, body)
  if ok then return v end
  return nil
end

--- copy(v) -> a deep copy of v
function M.copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = M.copy(x) end
  return out
end

--- escape(s) -> s percent-encoded for a path segment or a query value
function M.escape(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(ch) return ("%%%02X"):format(ch:byte()) end))
end
local escape = M.escape

--- query_string{k = v | {v, ...}} -> "a=1&b=2" in key order | nil when empty
function M.query_string(q)
  local keys, parts = {}, {}
  for k in pairs(q) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = q[k]
    if type(v) == "table" then
      for _, x in ipairs(v) do parts[#parts + 1] = escape(k) .. "=" .. escape(x) end
    else
      parts[#parts + 1] = escape(k) .. "=" .. escape(v)
    end
  end
  return #parts > 0 and table.concat(parts, "&") or nil
end

--- split_ref("deployment/tmi-api") -> "deployment", "tmi-api"; with
-- default_kind, a bare "NAME" is default_kind, "NAME".
function M.split_ref(kind, name, default_kind)
  if name == nil and type(kind) == "string" then
    local k, n = kind:match("^([^/]+)/(.+)$")
    if k then return k, n end
    if default_kind then return default_kind, kind end
  end
  return kind, name
end

--- named(ref, default_kind, opts, optn, fname) -> name, opts: a "kind/NAME"
-- or "NAME" argument and the options table at argument optn, checked.
function M.named(ref, default_kind, opts, optn, fname)
  local _, name = M.split_ref(ref, nil, default_kind)
  argcheck(type(name) == "string", 1, fname, default_kind .. " name expected")
  return name, M.opts_of(opts, optn, fname)
end

--- selector_text(LabelSelector) -> "app=x,tier in (a,b)" (spec.selector of a workload)
function M.selector_text(sel)
  local parts = {}
  local labels = type(sel) == "table" and sel.matchLabels ~= M.null and sel.matchLabels or {}
  for k, v in pairs(labels) do parts[#parts + 1] = k .. "=" .. tostring(v) end
  table.sort(parts)
  local ops = { In = " in ", NotIn = " notin " }
  for _, e in ipairs(type(sel) == "table" and sel.matchExpressions ~= M.null and sel.matchExpressions or {}) do
    if ops[e.operator] then parts[#parts + 1] = e.key .. ops[e.operator] .. "(" .. table.concat(e.values, ",") .. ")"
    elseif e.operator == "Exists" then parts[#parts + 1] = e.key
    else parts[#parts + 1] = "!" .. e.key end
  end
  return table.concat(parts, ",")
end

return M
