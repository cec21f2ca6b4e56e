-- rb.k8s_write — how rb.k8s sends a write: the body as canonical JSON (the
-- same bytes in plan and apply), the before-state `runbook undo` keeps, and
-- the plan's line of what the server made of the dryRun=All request (a diff
-- of its answer, rb.k8s_diff). Part of rb.k8s (k8s.canonical_json).
--
-- writer(request) takes the C half's request, the one that accepts a
-- simulate function: the public client:request drops a caller's (k8s.lua),
-- so only these writes can write that line of a plan.
local cjson = require "cjson"
local util = require "rb.k8s_util"
local kcall = require "rb.k8s_call"
local discovery = require "rb.k8s_discovery"
local fields = require "rb.k8s_fields"
local diff = require("rb.k8s_diff").diff
local before_state = require "rb._before"
local decode = util.decode
local status_error = kcall.status_error

local M = {}

M.CONTENT = {
  strategic = "application/strategic-merge-patch+json",
  merge = "application/merge-patch+json",
  json = "application/json-patch+json",
}

--- canonical(v) -> JSON with object keys sorted: a value always encodes to the
-- same bytes, so a write's body (part of its identity at the gate) is the
-- same in plan and apply.
function M.canonical(v)
  if type(v) ~= "table" then return cjson.encode(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  local out = {}
  if #keys > 0 and #v == #keys then   -- a list
    for i = 1, #v do out[i] = M.canonical(v[i]) end
    return "[" .. table.concat(out, ",") .. "]"
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for i, k in ipairs(keys) do out[i] = cjson.encode(tostring(k)) .. ":" .. M.canonical(v[k]) end
  return "{" .. table.concat(out, ",") .. "}"
end

-- simulate(resp) for the request: what the server would make of the write.
-- note: what the caller knows that the server's answer does not say (prefixed).
local function simulator(before, what, note)
  local lead = note and (note .. "; ") or ""
  return function(resp)
    if resp.status >= 400 then return lead .. "refused by the server: " .. tostring(status_error(resp, what).message) end
    local after = decode(resp.body)
    if type(before) ~= "table" or type(after) ~= "table" then return lead .. ("server (dryRun=All): %s accepted"):format(what) end
    local d = diff(before, after)
    if #d == 0 then return lead .. "accepted by the server (dryRun=All): no change" end
    return lead .. "server (dryRun=All): " .. table.concat(d, "; ")
  end
end

--- writer(request) -> write(c, method, path, body, o) -> decoded answer (planned = true in plans) | nil, err
-- One gated write. The engine names it in the plan from the request itself
-- (method, path, body, credential): no label of ours is part of it.
-- o: content_type, timeout, before (the object, for the plan's diff), what,
-- note, undo (the before-state, see undo_record: handed to the gate right
-- before the request so the plan and the intent event keep it).
function M.writer(request)
  return function(c, method, path, body, o)
    local text = body
    if type(body) == "table" then text = M.canonical(body) end
    if o.undo then before_state.set(o.undo) end
    local resp, err = request(c, method, path, {
      body = text, content_type = o.content_type, timeout = o.timeout,
      simulate = simulator(o.before, o.what, o.note),
    })
    if not resp then return nil, err end
    if resp.status >= 400 then return nil, status_error(resp, o.what) end
    local v = decode(resp.body) or {}
    if resp.planned and type(v) == "table" then v.planned = true end
    return v
  end
end

--- undo_record(c, e, name, opts, extra) -> what `runbook undo` needs of a
-- write: the object, and extra (the values its fields had before, or why it
-- cannot be inverted: cannot).
function M.undo_record(c, e, name, opts, extra)
  local r = { binding = "k8s", resource = discovery.qualified(e), name = name,
    namespace = e.namespaced and discovery.ns_of(c, opts) or nil }
  for k, v in pairs(extra) do r[k] = v end
  return r
end

--- patch_undo(c, e, name, opts, before, body, ptype, sub) -> the undo record of a patch
function M.patch_undo(c, e, name, opts, before, body, ptype, sub)
  if ptype == "json" then
    return M.undo_record(c, e, name, opts, { cannot = "a JSON patch (RFC 6902) is not inverted; use a strategic or merge patch" })
  end
  return M.undo_record(c, e, name, opts, { subresource = sub, type = ptype,
    fields = fields.fields(before, body, { type = ptype }) })
end

return M
