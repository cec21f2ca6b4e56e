-- rb.k8s_describe — kubectl describe's text for an object and its events:
-- name, labels, annotations, a pod's node, phase, IP and containers, a
-- workload's replicas and template containers, then the events. Pure; part
-- of rb.k8s (client:describe's text).
local util = require "rb.k8s_util"
local str, null = util.str, util.null

local M = {}

local function kv_lines(t)
  if type(t) ~= "table" or next(t) == nil then return "<none>" end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do out[#out + 1] = k .. "=" .. tostring(t[k]) end
  return table.concat(out, ", ")
end

local function env_text(env)
  local out = {}
  for _, v in ipairs(env or {}) do out[#out + 1] = v.name .. "=" .. tostring(v.value ~= null and v.value or "<from>") end
  return #out > 0 and table.concat(out, ", ") or "<none>"
end

local function container_lines(out, ctr, s)
  out[#out + 1] = "  " .. ctr.name .. ":"
  out[#out + 1] = "    Image:         " .. tostring(ctr.image)
  if s then
    out[#out + 1] = "    Ready:         " .. tostring(s.ready)
    out[#out + 1] = "    Restart Count: " .. str(s.restartCount or 0)
  end
  local r = ctr.resources or {}
  out[#out + 1] = "    Limits:        " .. kv_lines(r.limits)
  out[#out + 1] = "    Requests:      " .. kv_lines(r.requests)
  out[#out + 1] = "    Environment:   " .. env_text(ctr.env)
end

local function containers(out, list, statuses)
  local st = {}
  for _, s in ipairs(type(statuses) == "table" and statuses or {}) do st[s.name] = s end
  out[#out + 1] = "Containers:"
  for _, ctr in ipairs(list or {}) do container_lines(out, ctr, st[ctr.name]) end
end

-- The kind's own lines: a pod's node, phase, IP and containers; a workload's
-- replicas and template.
local function body_lines(out, obj)
  local spec, status = obj.spec or {}, obj.status or {}
  if obj.kind == "Pod" then
    out[#out + 1] = "Node:         " .. tostring(spec.nodeName)
    out[#out + 1] = "Status:       " .. tostring(status.phase)
    out[#out + 1] = "IP:           " .. tostring(status.podIP)
    containers(out, spec.containers, status.containerStatuses)
  elseif spec.template and spec.template.spec then
    out[#out + 1] = ("Replicas:     %s desired | %s updated | %s total | %s available"):format(
      str(spec.replicas), str(status.updatedReplicas or 0), str(status.replicas or 0),
      str(status.availableReplicas or 0))
    containers(out, spec.template.spec.containers)
  end
end

--- text(obj, events) -> kubectl describe's text
function M.text(obj, events)
  local m = obj.metadata or {}
  local out = {
    "Name:         " .. tostring(m.name),
    "Namespace:    " .. tostring(m.namespace ~= nil and m.namespace or ""),
    "Kind:         " .. tostring(obj.kind),
    "Labels:       " .. kv_lines(m.labels),
    "Annotations:  " .. kv_lines(m.annotations),
  }
  body_lines(out, obj)
  out[#out + 1] = "Events:"
  if #events == 0 then out[#out + 1] = "  <none>" end
  for _, ev in ipairs(events) do
    out[#out + 1] = ("  %-8s %-20s %s"):format(tostring(ev.type), tostring(ev.reason), tostring(ev.message))
  end
  return table.concat(out, "\n") .. "\n"
end

return M
