-- rb.k8s_diff — what a Kubernetes write changes, as the plan shows it: the
-- fields that differ between the object before and what the server's
-- dryRun=All answer says it would become ("spec.replicas: 3 -> 5"). Pure;
-- part of rb.k8s (k8s.diff).
local cjson = require "cjson"
local str = require("rb.k8s_util").str

local M = {}

local SKIP = { resourceVersion = true, generation = true, managedFields = true, uid = true,
  creationTimestamp = true, status = true, selfLink = true }

function M.show(v)
  if v == nil then return "<none>" end
  if type(v) == "table" and type(v.name) == "string" and v.value ~= nil then   -- an env entry
    local n = 0
    for _ in pairs(v) do n = n + 1 end
    if n == 2 then return str(v.value) end
  end
  if type(v) == "table" then
    local ok, s = pcall(cjson.encode, v)
    return ok and s or "<table>"
  end
  if type(v) == "string" then return v end
  return str(v)
end

--- is_list(t): a JSON array (or an empty table)
local function is_list(t) return type(t) == "table" and (#t > 0 or next(t) == nil) end
M.is_list = is_list

-- Lists of named things (containers, env) compare by name, as strategic merge does.
local function by_name(t)
  if not is_list(t) or #t == 0 or type(t[1]) ~= "table" or t[1].name == nil then return nil end
  local m = {}
  for _, x in ipairs(t) do if type(x) ~= "table" or x.name == nil then return nil end m[x.name] = x end
  return m
end

local function diff(a, b, path, out)
  if #out >= 20 then return end
  if type(a) == "table" and type(b) == "table" then
    local na, nb = by_name(a), by_name(b)
    if na and nb then a, b = na, nb
    elseif is_list(a) and is_list(b) and (#a > 0 or #b > 0) then
      if M.show(a) ~= M.show(b) then out[#out + 1] = ("%s: %s -> %s"):format(path, M.show(a), M.show(b)) end
      return
    end
    local keys, seen = {}, {}
    for k in pairs(a) do keys[#keys + 1] = k; seen[k] = true end
    for k in pairs(b) do if not seen[k] then keys[#keys + 1] = k end end
    table.sort(keys, function(x, y) return tostring(x) < tostring(y) end)
    for _, k in ipairs(keys) do
      if not (path == "metadata" and SKIP[k]) and not (path == "" and SKIP[k]) then
        local sub = path == "" and tostring(k) or (na and (path .. "[" .. tostring(k) .. "]") or (path .. "." .. tostring(k)))
        diff(a[k], b[k], sub, out)
      end
    end
    return
  end
  if a == nil and b ~= nil then out[#out + 1] = ("%s: added %s"):format(path, M.show(b))
  elseif b == nil and a ~= nil then out[#out + 1] = ("%s: removed (was %s)"):format(path, M.show(a))
  elseif M.show(a) ~= M.show(b) then out[#out + 1] = ("%s: %s -> %s"):format(path, M.show(a), M.show(b)) end
end

--- k8s.diff(before, after) -> {"spec.replicas: 3 -> 5", ...}: the changed fields
-- (status, resourceVersion, generation, uid, timestamps left out).
function M.diff(before, after)
  local out = {}
  diff(before, after, "", out)
  return out
end

return M
