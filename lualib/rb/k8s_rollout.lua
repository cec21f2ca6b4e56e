-- rb.k8s_rollout — kubectl rollout status / history / undo / restart for a
-- deployment. status and history read; undo (with the undo-of-undo guard)
-- and restart are writes. Part of rb.k8s: require("rb.k8s_rollout")(write)
-- -> the client methods, where write is rb.k8s_write's writer.
local rb = require "rb"
local util = require "rb.k8s_util"
local kwrite = require "rb.k8s_write"
local khist = require "rb.k8s_history"
local diff = require("rb.k8s_diff").diff
local locate = require("rb.k8s_discovery").locate
local argcheck, named = util.argcheck, util.named

-- Where a rollout stands, as kubectl rollout status words it: message, done | nil, err
-- (the spec observed, every replica updated, no old replica left, every
-- updated replica available).
local function progress(d, name)
  local spec, st, gen = d.spec or {}, d.status or {}, d.metadata.generation or 0
  if gen > (st.observedGeneration or 0) then return "Waiting for deployment spec update to be observed..." end
  for _, c in ipairs(st.conditions or {}) do
    if c.type == "Progressing" and c.reason == "ProgressDeadlineExceeded" then
      return nil, rb.error("k8s", ('k8s: deployment "%s" exceeded its progress deadline'):format(name),
        { reason = "ProgressDeadlineExceeded" })
    end
  end
  local want, upd = spec.replicas or 1, st.updatedReplicas or 0
  local waiting = 'Waiting for deployment "' .. name .. '" rollout to finish: '
  if upd < want then
    return waiting .. ("%d out of %d new replicas have been updated..."):format(upd, want)
  elseif (st.replicas or 0) > upd then
    return waiting .. ("%d old replicas are pending termination..."):format(st.replicas - upd)
  elseif (st.availableReplicas or 0) < upd then
    return waiting .. ("%d of %d updated replicas are available..."):format(st.availableReplicas or 0, upd)
  end
  return ('deployment "%s" successfully rolled out'):format(name), true
end

-- The time a restart of this deployment was first planned: the body is part
-- of the write's identity, so plan and apply must send the same restartedAt
-- however long the confirmation takes. Forgotten once the restart is sent,
-- so the next restart gets a new time.
local restarts = {}
local function restart_key(c, before)
  local m = before.metadata or {}
  return table.concat({ c:info().server, tostring(m.namespace), tostring(m.name), tostring(m.uid) }, "\0")
end
local function restart_clock(key)
  restarts[key] = restarts[key] or os.date("!%Y-%m-%dT%H:%M:%SZ")
  return restarts[key]
end

-- The guard of an undo that would re-ship the release a rollback left.
local function reship_error(name, t)
  return rb.error("guard", ("k8s: rollout undo deployment %q: revision %d is the release the rollback to revision %d "
    .. "left; undoing the undo would ship it again (pass to_revision = an older good revision, or reship = true)")
    :format(name, t.to.revision, t.from.revision),
    { reason = "UndoOfUndo", revision = t.to.revision, current = t.from.revision })
end

local function undo_note(name, t)
  local images = khist.images_text
  local note = ("rollback of deployment %q from revision %d (%s) to revision %d (%s)"):format(name,
    t.from.revision, images(t.from.images), t.to.revision, images(t.to.images))
  if not t.reship then return note end
  return note .. (" -- RE-SHIPS revision %d, the release a rollback left (reship = true)"):format(t.to.revision)
end

return function(write)
  local M = {}

  --- client:rollout_status(deployment, {timeout = 300, interval = 1, namespace}) -> {done, message} | nil, err
  -- Waits as kubectl rollout status does, printing each new message to stderr (unless quiet).
  function M.rollout_status(c, name, opts)
    name, opts = named(name, "deployment", opts, 2, "rollout_status")
    local deadline = os.time() + (opts.timeout or 300)
    local last
    while true do
      local d, err = c:get("deployments", name, { namespace = opts.namespace })
      if not d then return nil, err end
      local msg, done = progress(d, name)
      if not msg then return nil, done end
      if done then return { done = true, message = msg } end
      if os.time() >= deadline then
        local text = ('k8s: rollout status of deployment "%s": timed out: %s'):format(name, msg)
        return nil, rb.error("timeout", text, { last = msg })
      end
      if msg ~= last and not opts.quiet then io.stderr:write(msg, "\n") end
      last = msg
      rb.sleep(opts.interval or 1)
    end
  end

  --- client:rollout_history(deployment, {namespace}) -> {{revision, replicaset, change_cause,
  --   images, earlier, replicas, current}, ...} (oldest first), deployment | nil, err
  function M.rollout_history(c, name, opts)
    name, opts = named(name, "deployment", opts, 2, "rollout_history")
    local d, err = c:get("deployments", name, opts)
    if not d then return nil, err end
    local rss
    rss, err = c:get("replicasets", nil, { namespace = opts.namespace, selector = util.selector_text(d.spec.selector) })
    if not rss then return nil, err end
    return khist.history(d, rss), d
  end

  --- client:rollout_undo(deployment, {to_revision, reship, namespace}) -> object | {skipped, revision, message} | nil, err
  -- kubectl rollout undo [--to-revision=N]. A write (dry-run in plans). When
  -- the current release came back by a rollback, undoing again would re-ship
  -- the release that rollback left (the bad one): refused with err{kind =
  -- "guard", reason = "UndoOfUndo"} unless reship = true, and the plan says so.
  function M.rollout_undo(c, name, opts)
    name, opts = named(name, "deployment", opts, 2, "rollout_undo")
    local to = opts.to_revision
    argcheck(to == nil or (math.tointeger(to) and to > 0), 2, "rollout_undo", "to_revision must be a positive integer")
    local e, path = locate(c, "deployments", name, opts)
    if not e then return nil, path end
    local hist, d = c:rollout_history(name, opts)
    if not hist then return nil, d end
    local t, err = khist.undo_target(d, hist, to and math.tointeger(to))
    if not t then return nil, err end
    if diff(khist.without_hash(t.to.template), d.spec.template)[1] == nil then
      return { skipped = true, revision = t.to.revision,
        message = ("skipped rollback (current template already matches revision %d)"):format(t.to.revision) }
    end
    if t.reship and not opts.reship then return nil, reship_error(name, t) end
    return write(c, "PATCH", path, khist.undo_patch(d, t.to), {
      content_type = kwrite.CONTENT.json, before = d, note = undo_note(name, t), timeout = opts.timeout,
      what = ('rollout undo deployment "%s" to revision %d'):format(name, t.to.revision),
      undo = kwrite.undo_record(c, e, name, opts, { cannot = ("a rollback is undone by rollout_undo(%q, {to_revision = %d})")
        :format(name, t.from.revision) }),
    })
  end

  --- client:rollout_restart(deployment, {at, namespace}) -> object | nil, err
  -- Sets the template annotation kubectl.kubernetes.io/restartedAt. Its value
  -- is opts.at when given, else the time this generation's restart was first
  -- planned (RFC 3339, UTC; restart_clock), so plan and apply send the same body.
  function M.rollout_restart(c, name, opts)
    name, opts = named(name, "deployment", opts, 2, "rollout_restart")
    argcheck(opts.at == nil or type(opts.at) == "string", 2, "rollout_restart", "at must be an RFC 3339 time")
    local e, path = locate(c, "deployments", name, opts)
    if not e then return nil, path end
    local before, err = c:get("deployments", name, opts)
    if not before then return nil, err end
    local key = restart_key(c, before)
    local body = { spec = { template = { metadata = { annotations = {
      ["kubectl.kubernetes.io/restartedAt"] = opts.at or restart_clock(key) } } } } }
    local res, werr = write(c, "PATCH", path, body, {
      content_type = kwrite.CONTENT.strategic, before = before,
      what = ('rollout restart deployment "%s"'):format(name), timeout = opts.timeout,
      undo = kwrite.undo_record(c, e, name, opts,
        { cannot = "the pods were restarted; setting the annotation back would restart them again" }),
    })
    if res and not res.planned then restarts[key] = nil end
    return res, werr
  end

  return M
end
