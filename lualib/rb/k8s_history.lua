-- rb.k8s_history — a deployment's rollout history as kubectl reads it from
-- its ReplicaSets (revision, change-cause, images, the revisions a rollback
-- brought back), which revision an undo goes to and whether it re-ships the
-- release a rollback just left, and kubectl's rollback patch. Pure; part of
-- rb.k8s (client:rollout_history, client:rollout_undo).
local rb = require "rb"
local copy = require("rb.k8s_util").copy

local M = {}

local REVISION = "deployment.kubernetes.io/revision"
local REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
local CHANGE_CAUSE = "kubernetes.io/change-cause"
-- Annotations kubectl rollout undo keeps from the deployment, not the ReplicaSet.
local UNDO_SKIP = { ["kubectl.kubernetes.io/last-applied-configuration"] = true, [REVISION] = true,
  [REVISION_HISTORY] = true, ["deployment.kubernetes.io/desired-replicas"] = true,
  ["deployment.kubernetes.io/max-replicas"] = true, ["deprecated.deployment.rollback.to"] = true }

local function annotations(o)
  local a = o.metadata and o.metadata.annotations
  return (type(a) == "table" and a) or {}
end

--- revision(obj) -> the deployment.kubernetes.io/revision annotation as an integer | nil
function M.revision(o) return math.tointeger(tonumber(annotations(o)[REVISION])) end

local function owned_by(rs, uid)
  for _, r in ipairs(rs.metadata.ownerReferences or {}) do
    if r.uid == uid and r.controller then return true end
  end
  return false
end

-- One history entry of a ReplicaSet: revision, replicaset, change_cause,
-- images {container = image}, earlier (revisions it had before a rollback
-- brought it back), replicas, template.
local function revision_of(rs)
  local a = annotations(rs)
  local images = {}
  for _, ctr in ipairs(rs.spec.template.spec.containers or {}) do images[ctr.name] = ctr.image end
  local earlier = {}
  for n in tostring(a[REVISION_HISTORY] or ""):gmatch("%d+") do earlier[#earlier + 1] = math.tointeger(tonumber(n)) end
  return { revision = M.revision(rs), replicaset = rs.metadata.name,
    change_cause = a[CHANGE_CAUSE], images = images, earlier = earlier,
    replicas = math.tointeger(rs.spec.replicas or 0), template = rs.spec.template, annotations = a }
end

--- history(d, replicasets) -> the deployment's revisions, oldest first (current = the deployment's)
function M.history(d, rss)
  local cur = M.revision(d)
  local hist = {}
  for _, rs in ipairs(rss) do
    local h = owned_by(rs, d.metadata.uid) and revision_of(rs)
    if h and h.revision then
      h.current = h.revision == cur
      hist[#hist + 1] = h
    end
  end
  table.sort(hist, function(a, b) return a.revision < b.revision end)
  return hist
end

--- without_hash(template) -> a copy without the pod-template-hash label
function M.without_hash(template)
  local t = copy(template)
  if type(t.metadata) == "table" and type(t.metadata.labels) == "table" then
    t.metadata.labels["pod-template-hash"] = nil
  end
  return t
end

--- images_text({container = image}) -> "a=img:1,b=img:2"
function M.images_text(images)
  local out = {}
  for k, v in pairs(images) do out[#out + 1] = k .. "=" .. v end
  table.sort(out)
  return table.concat(out, ",")
end

local function not_found(d, to)
  local msg = to and ('k8s: rollout undo deployment "%s": unable to find specified revision %d in history'):format(d.metadata.name, to)
    or ('k8s: rollout undo deployment "%s": no rollout history found (no previous revision)'):format(d.metadata.name)
  return rb.error("k8s", msg, { reason = "NotFound" })
end

-- The last revision of hist older than rev.
local function before(hist, rev)
  local found
  for _, h in ipairs(hist) do if h.revision < rev then found = h end end
  return found
end

--- undo_target(d, hist, to?) -> {from, to, reship} | nil, err: which revision
-- an undo goes to, and whether it re-ships the release a rollback just left.
function M.undo_target(d, hist, to)
  local by, latest = {}, nil
  for _, h in ipairs(hist) do by[h.revision] = h; latest = h end
  local from = by[M.revision(d)] or latest
  local target
  if to then target = by[to] else target = before(hist, from and from.revision or 0) end
  if not from or not target then return nil, not_found(d, to) end
  -- the release before the current one, when the current one came back by a rollback
  local left = before(hist, from.revision)
  return { from = from, to = target, reship = #from.earlier > 0 and left ~= nil and target.revision == left.revision }
end

--- undo_patch(d, to) -> kubectl's rollback patch (JSON patch): the revision's
-- template (without pod-template-hash) and its annotations (the deployment
-- keeps the ones UNDO_SKIP names).
function M.undo_patch(d, to)
  local ann = {}
  for k, v in pairs(annotations(d)) do if UNDO_SKIP[k] then ann[k] = v end end
  for k, v in pairs(to.annotations) do if not UNDO_SKIP[k] then ann[k] = v end end
  return {
    { op = "replace", path = "/spec/template", value = M.without_hash(to.template) },
    { op = "replace", path = "/metadata/annotations", value = ann },
  }
end

return M
