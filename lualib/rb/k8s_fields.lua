-- rb.k8s_fields — field paths of Kubernetes objects: the before-state of a
-- write, and expectations. Pure; part of rb.k8s (k8s.fields, k8s.path_text,
-- k8s.at, k8s.restore_patch, and what client:expect compares).
--
-- A field path is a list of segments: a string is a map key, {name = N} the
-- item of a list merged by name (containers, env), as a strategic merge patch
-- addresses it. fields(obj, patch) is what `runbook undo` keeps of a write:
-- the value obj has at every field the patch sets (or absent = true);
-- restore_patch(fields) is the patch that puts them back; mismatches names
-- the fields of a live object that do not hold the values a caller expects.
local util = require "rb.k8s_util"
local kdiff = require "rb.k8s_diff"
local argcheck, opts_of, copy, null = util.argcheck, util.opts_of, util.copy, util.null
local show, is_list = kdiff.show, kdiff.is_list

local M = {}

local function absent(v) return v == nil or v == null end

local function named_item(list, name)
  if type(list) ~= "table" then return nil end
  for _, x in ipairs(list) do
    if type(x) == "table" and x.name == name then return x end
  end
end

-- A patch list whose items merge by name (strategic merge patch).
local function named_list(v)
  if type(v) ~= "table" or #v == 0 then return false end
  for _, x in ipairs(v) do
    if type(x) ~= "table" or type(x.name) ~= "string" then return false end
  end
  return true
end

local function is_map(t) return type(t) == "table" and not is_list(t) end

local function extend(path, seg)
  local p = table.move(path, 1, #path, 1, {})
  p[#p + 1] = seg
  return p
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    if type(k) == "string" and k:sub(1, 1) ~= "$" then keys[#keys + 1] = k end
  end
  table.sort(keys)
  return keys
end

local function record(out, path, v)
  if absent(v) then out[#out + 1] = { path = path, absent = true }
  else out[#out + 1] = { path = path, value = copy(v) } end
end

local collect

-- The items of a list merged by name: each one's fields, or the whole item
-- when it is new or deleted.
local function collect_items(ov, pv, p, out)
  for _, item in ipairs(pv) do
    local ip, cur = extend(p, { name = item.name }), named_item(ov, item.name)
    if item["$patch"] == "delete" or not cur then record(out, ip, cur)
    else collect(cur, item, true, ip, out, true) end
  end
end

function collect(obj, patch, strategic, path, out, in_item)
  for _, k in ipairs(sorted_keys(patch)) do
    if not (in_item and k == "name") then
      local p, pv = extend(path, k), patch[k]
      local ov = is_map(obj) and obj[k] or nil
      if strategic and named_list(pv) then collect_items(ov, pv, p, out)
      elseif is_map(pv) and next(pv) ~= nil and is_map(ov) then collect(ov, pv, strategic, p, out, false)
      else record(out, p, ov) end
    end
  end
  return out
end

--- k8s.fields(obj, patch, {type = "strategic"|"merge"}) -> { {path, value | absent = true}, ... }
-- The values obj holds at each field the patch sets (JSON patches are not supported).
function M.fields(obj, patch, opts)
  argcheck(type(patch) == "table", 2, "fields", "patch table expected")
  opts = opts_of(opts, 3, "fields")
  local ptype = opts.type or "strategic"
  argcheck(ptype == "strategic" or ptype == "merge", 3, "fields", "type must be strategic or merge")
  return collect(obj, patch, ptype == "strategic", {}, {}, false)
end

-- "spec.template.spec.containers[api].env[LOG_LEVEL].value" -> segments
local function parse_path(s)
  local out, i = {}, 1
  while i <= #s do
    local name, j = s:match("^%[([^%]]*)%]()", i)
    if name then out[#out + 1] = { name = name }; i = j
    else
      local key
      key, j = s:match("^([^.%[]+)()", i)
      if not key then return nil end
      out[#out + 1] = key
      i = j
    end
    if s:sub(i, i) == "." then i = i + 1 end
  end
  return #out > 0 and out or nil
end

local function path_of(p, n, fname)
  if type(p) == "string" then p = parse_path(p) end
  argcheck(type(p) == "table" and #p > 0, n, fname, "field path (string or list of segments) expected")
  return p
end

--- k8s.path_text(path) -> "spec.template.spec.containers[api].env[LOG_LEVEL].value"
function M.path_text(path)
  local out = {}
  for _, seg in ipairs(path) do
    if type(seg) == "table" then out[#out + 1] = "[" .. tostring(seg.name) .. "]"
    else out[#out + 1] = (#out > 0 and "." or "") .. tostring(seg) end
  end
  return table.concat(out)
end

-- The value at path (segments), or nil when absent.
local function at(obj, path)
  local v = obj
  for _, seg in ipairs(path) do
    if type(v) ~= "table" then return nil end
    if type(seg) == "table" then
      v = named_item(v, seg.name)
      if v and v["$patch"] == "delete" then return nil end
    else
      v = v[seg]
    end
    if absent(v) then return nil end
  end
  return v
end

--- k8s.at(obj, path) -> the value at path, or nil when absent (an item a
-- patch deletes with $patch = "delete", or null, is absent)
function M.at(obj, path)
  return at(obj, path_of(path, 2, "at"))
end

-- Sets field f (its path already parsed) in the patch body.
local function put(body, path, f)
  local node = body
  for j, seg in ipairs(path) do
    local last = j == #path
    if type(seg) == "table" then
      local item = named_item(node, seg.name)
      if not item then item = { name = seg.name }; node[#node + 1] = item end
      if last and f.absent then item["$patch"] = "delete"
      elseif last then for k, v in pairs(f.value) do item[k] = copy(v) end end
      node = item
    elseif last then
      if f.absent then node[seg] = null else node[seg] = copy(f.value) end
    else
      node[seg] = node[seg] or {}
      node = node[seg]
    end
  end
end

--- k8s.restore_patch(fields) -> patch: the patch that sets each field back
-- to its value in fields (absent ones removed), for k8s.patch.
function M.restore_patch(fields)
  argcheck(type(fields) == "table", 1, "restore_patch", "fields expected")
  local body = {}
  for i, f in ipairs(fields) do
    local path = path_of(f.path, 1, "restore_patch")
    argcheck(f.absent or f.value ~= nil, 1, "restore_patch", ("field %d has neither value nor absent"):format(i))
    put(body, path, f)
  end
  return body
end

local same

-- Lists: plain ones item by item, lists merged by name as the items they name.
local function same_list(live, want, quantity)
  if named_list(want) then
    for _, item in ipairs(want) do
      if not same(named_item(live, item.name), item, quantity) then return false end
    end
    return true
  end
  if #want ~= #live then return false end
  for i = 1, #want do if not same(live[i], want[i], quantity) then return false end end
  return true
end

local function same_quantity(live, want, quantity)
  local ok1, a = pcall(quantity, live)
  local ok2, b = pcall(quantity, want)
  return ok1 and ok2 and a ~= nil and a == b
end

-- Values equal as the API server means them: numbers by value (3 == 3.0),
-- quantities by amount ("0.5" == "500m"), maps as subsets of the live value.
function same(live, want, quantity)
  if absent(want) then return absent(live) end
  if type(want) == "number" or type(live) == "number" then return tonumber(live) == tonumber(want) end
  if type(want) == "string" and type(live) == "string" then
    return live == want or same_quantity(live, want, quantity)
  end
  if type(want) == "table" and type(live) == "table" then
    if is_list(want) then return same_list(live, want, quantity) end
    for _, k in ipairs(sorted_keys(want)) do if not same(live[k], want[k], quantity) then return false end end
    return true
  end
  return live == want
end

--- mismatches(obj, conditions, quantity, argn, fname) -> {"spec.replicas is 3, expected 5", ...}
-- conditions: { {path = "spec.replicas" | {segments}, value = v | absent = true}, ... };
-- quantity: the parser of Kubernetes quantities ("500m" -> 0.5).
function M.mismatches(obj, conditions, quantity, argn, fname)
  local differs = {}
  for _, c in ipairs(conditions) do
    local path = path_of(c.path, argn, fname)
    local live = at(obj, path)
    local want = (not c.absent) and c.value or nil
    if not same(live, want, quantity) then
      differs[#differs + 1] = ("%s is %s, expected %s"):format(M.path_text(path),
        live == nil and "absent" or show(live), want == nil and "absent" or show(want))
    end
  end
  return differs
end

return M
