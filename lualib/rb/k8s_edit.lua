-- rb.k8s_edit — kubectl's object writes: scale, patch (of the object or its
-- scale/status subresource), delete (waiting until it is gone), apply of a
-- shipped manifest, and exec. Each is a write: refused in investigate, sent
-- with dryRun=All in plan, matched against the approved plan in apply. Part
-- of rb.k8s: require("rb.k8s_edit")(write) -> the client methods, where write
-- is rb.k8s_write's writer.
local rb = require "rb"
local util = require "rb.k8s_util"
local kcall = require "rb.k8s_call"
local discovery = require "rb.k8s_discovery"
local kwrite = require "rb.k8s_write"
local argcheck, opts_of, decode, escape = util.argcheck, util.opts_of, util.decode, util.escape
local split_ref, query_string = util.split_ref, util.query_string
local status_error = kcall.status_error
local locate, qualified, ns_of, path_for = discovery.locate, discovery.qualified, discovery.ns_of, discovery.path_for
local CONTENT, patch_undo = kwrite.CONTENT, kwrite.patch_undo

local SUBRESOURCES = { scale = true, status = true }

local function sub_ref(e, name, sub)
  return ('%s%s "%s"'):format(qualified(e), sub and ("/" .. sub) or "", name)
end

local function no_subresource(e, sub)
  return rb.error("k8s", ('k8s: patch: %s has no subresource "%s"'):format(qualified(e), sub), { reason = "NotFound" })
end

-- Waits until the object named is gone (or replaced by a new one): out | nil, err
local function wait_gone(c, kind, name, opts, uid, what)
  local deadline = os.time() + (opts.timeout or 60)
  while true do
    local cur, err = c:get(kind, name, opts)
    if not cur then
      if err.reason == "NotFound" then return true end
      return nil, err
    end
    if uid and cur.metadata.uid ~= uid then return true end   -- a new object under the same name
    if os.time() >= deadline then
      return nil, rb.error("timeout", ("k8s: %s: still there after %d s"):format(what, opts.timeout or 60))
    end
    rb.sleep(0.5)
  end
end

-- The exit code in an exec's error channel Status: result | nil, err
local function exec_result(r, what)
  local st = decode(r.status_json) or {}
  local out = { stdout = r.stdout, stderr = r.stderr, exit_code = 0, protocol = r.protocol }
  if st.status ~= "Failure" then return out end
  local code
  for _, cause in ipairs(st.details and st.details.causes or {}) do
    if cause.reason == "ExitCode" then code = tonumber(cause.message) end
  end
  if not code then   -- a failure without an exit code: the pod or container is missing
    return nil, status_error({ status = st.code or 500, body = r.status_json }, what)
  end
  out.exit_code = code
  return out
end

-- kind of a manifest object: "deployment.apps" from kind and apiVersion
local function manifest_kind(obj)
  local group = obj.apiVersion and obj.apiVersion:match("^(.+)/[^/]+$")
  return obj.kind:lower() .. (group and ("." .. group) or "")
end

-- The objects of a manifest (YAML or JSON text, a table, a v1 List).
local function manifest_objects(manifest)
  if type(manifest) == "string" then
    local v, err = require("rb.yaml").decode(manifest)
    if not v then return nil, err end
    manifest = v
  end
  return manifest.kind == "List" and manifest.items or { manifest }
end

local function applicable(obj)
  return type(obj) == "table" and type(obj.kind) == "string" and type(obj.metadata) == "table"
    and type(obj.metadata.name) == "string"
end

return function(write)
  local M = {}

  --- client:scale(deployment, replicas, {namespace, kind}) -> Scale | nil, err
  -- PATCH of the scale subresource (as kubectl scale).
  function M.scale(c, name, n, opts)
    local kind
    kind, name = split_ref(name, nil, "deployments")
    argcheck(type(name) == "string", 1, "scale", "deployment name expected")
    n = math.tointeger(tonumber(n))   -- params may arrive as "5" or 5.0
    argcheck(n and n >= 0, 2, "scale", "replicas must be an integer >= 0")
    opts = opts_of(opts, 3, "scale")
    local e, path = locate(c, opts.kind or kind, name, opts, "scale")
    if not e then return nil, path end
    local resp, err = kcall.call(c, "GET", path, nil, ('get scale of %s "%s"'):format(qualified(e), name))
    if not resp then return nil, err end
    local body, cur = { spec = { replicas = n } }, decode(resp.body)
    return write(c, "PATCH", path, body, {
      content_type = CONTENT.merge, before = cur, what = ('scale %s "%s"'):format(qualified(e), name),
      undo = patch_undo(c, e, name, opts, cur, body, "merge", "scale"),
    })
  end

  --- client:patch(kind, name, body, {type = "strategic"|"merge"|"json", subresource = "scale"|"status", namespace})
  --   -> object | nil, err (kubectl patch --subresource)
  -- body: a table (encoded as JSON) or a JSON string.
  function M.patch(c, kind, name, body, opts)
    argcheck(type(kind) == "string", 1, "patch", "resource type expected")
    argcheck(type(name) == "string", 2, "patch", "name expected")
    argcheck(type(body) == "table" or type(body) == "string", 3, "patch", "patch body (table or JSON) expected")
    opts = opts_of(opts, 4, "patch")
    local ptype, sub = opts.type or "strategic", opts.subresource
    argcheck(CONTENT[ptype], 4, "patch", "type must be strategic, merge or json")
    argcheck(sub == nil or SUBRESOURCES[sub], 4, "patch", "subresource must be scale or status")
    if type(body) == "string" then
      body = decode(body)
      argcheck(type(body) == "table", 3, "patch", "body is not JSON")
    end
    local e, path = locate(c, kind, name, opts, sub)
    if not e then return nil, path end
    if sub and not e.subresources[sub] then return nil, no_subresource(e, sub) end
    local before, err = kcall.object(c, path, "get " .. sub_ref(e, name, sub))
    if not before then return nil, err end
    return write(c, "PATCH", path, body, {
      content_type = CONTENT[ptype], before = before, what = "patch " .. sub_ref(e, name, sub), timeout = opts.timeout,
      undo = patch_undo(c, e, name, opts, before, body, ptype, sub),
    })
  end

  --- client:delete(kind, name, {namespace, wait = true, timeout = 60, grace_period}) -> {deleted, uid, planned?} | nil, err
  -- Background propagation, as kubectl; waits until the object is gone
  -- unless wait = false.
  function M.delete(c, kind, name, opts)
    kind, name = split_ref(kind, name)
    argcheck(type(kind) == "string" and type(name) == "string", 2, "delete", "kind and name expected")
    opts = opts_of(opts, 3, "delete")
    local e, path = locate(c, kind, name, opts)
    if not e then return nil, path end
    local body = { kind = "DeleteOptions", apiVersion = "v1", propagationPolicy = "Background",
      gracePeriodSeconds = opts.grace_period }
    local what = ('delete %s "%s"'):format(qualified(e), name)
    local res, err = write(c, "DELETE", path, body,
      { content_type = "application/json", what = what, timeout = opts.timeout })
    if not res then return nil, err end
    local uid = res.metadata and res.metadata.uid or (res.details and res.details.uid)
    local out = { deleted = name, kind = e.kind, uid = uid, planned = res.planned }
    if res.planned or opts.wait == false then return out end
    local ok, werr = wait_gone(c, kind, name, opts, uid, what)
    if not ok then return nil, werr end
    return out
  end

  -- One object of a manifest: created, or merge-patched when it exists.
  local function apply_one(c, obj, opts)
    local kind, name = manifest_kind(obj), obj.metadata.name
    local o = { namespace = obj.metadata.namespace or opts.namespace }
    local e, err = c:resource(kind)
    if not e then return nil, err end
    local existing, gerr = kcall.call(c, "GET", path_for(e, name, ns_of(c, o)), nil, "apply")
    if not existing and gerr.status ~= 404 then return nil, gerr end
    local res
    if existing then
      res, err = c:patch(kind, name, obj, { type = "merge", namespace = o.namespace })
    else
      res, err = write(c, "POST", path_for(e, nil, ns_of(c, o)), obj, {
        content_type = "application/json", what = ('create %s "%s"'):format(qualified(e), name),
      })
    end
    if not res then return nil, err end
    return { action = existing and "configured" or "created", kind = qualified(e), name = name, object = res }
  end

  --- client:apply(manifest, {namespace}) -> { {action, kind, name, object}, ... } | nil, err
  -- kubectl apply -f, for manifests a runbook ships: manifest is YAML or JSON
  -- text (one document holding an object or a v1 List) or a Lua table. Each
  -- object that does not exist is created (POST); one that exists gets the
  -- manifest as a merge patch (no last-applied bookkeeping: fields the manifest
  -- drops are left alone). Both are writes, dry-run in plans.
  function M.apply(c, manifest, opts)
    argcheck(type(manifest) == "table" or type(manifest) == "string", 1, "apply", "manifest (text or table) expected")
    opts = opts_of(opts, 2, "apply")
    local objects, err = manifest_objects(manifest)
    if not objects then return nil, err end
    for i, obj in ipairs(objects) do
      argcheck(applicable(obj), 1, "apply", ("object %d needs kind and metadata.name"):format(i))
    end
    local out = {}
    for i, obj in ipairs(objects) do
      out[i], err = apply_one(c, obj, opts)
      if not out[i] then return nil, err end
    end
    return out
  end

  --- client:exec(pod, argv, {container, stdin, namespace, timeout = 60}) -> {stdout, stderr, exit_code} | nil, err
  -- Over WebSocket (v5.channel.k8s.io, else v4). A write that cannot be
  -- simulated: in plan mode it returns {planned = true}.
  function M.exec(c, pod, argv, opts)
    pod = select(2, split_ref(pod, nil, "pod"))
    argcheck(type(pod) == "string", 1, "exec", "pod name expected")
    if type(argv) == "string" then argv = { argv } end
    argcheck(type(argv) == "table" and #argv > 0, 2, "exec", "command (list of strings) expected")
    opts = opts_of(opts, 3, "exec")
    argcheck(opts.stdin == nil or type(opts.stdin) == "string", 3, "exec", "stdin must be a string")
    local q = query_string {
      command = argv, container = opts.container, stdout = "true", stderr = "true",
      stdin = opts.stdin and "true" or nil,
    }
    local path = "/api/v1/namespaces/" .. escape(ns_of(c, opts)) .. "/pods/" .. escape(pod) .. "/exec"
    local r, err = c:exec_ws(path, q, { stdin = opts.stdin, timeout = opts.timeout })
    if not r then return nil, err end
    if r.planned then return { planned = true } end
    local what = ('exec in pod "%s"'):format(pod)
    if r.http_status ~= 101 then return nil, status_error({ status = r.http_status, body = r.body or "" }, what) end
    return exec_result(r, what)
  end

  return M
end
