-- rb.k8s_set — kubectl set env / set resources / set image and rollout
-- pause / resume: strategic-merge patches of a deployment (its pod
-- template's containers, or spec.paused), each a write with the fields it
-- changes kept for `runbook undo`. Part of rb.k8s:
-- require("rb.k8s_set")(write) -> the client methods, where write is
-- rb.k8s_write's writer.
local rb = require "rb"
local util = require "rb.k8s_util"
local kwrite = require "rb.k8s_write"
local locate = require("rb.k8s_discovery").locate
local argcheck, named = util.argcheck, util.named

-- The pod template's containers that a kubectl -c option selects (all by default).
local function containers_of(obj, want, fname)
  local spec = obj.spec and obj.spec.template and obj.spec.template.spec
  local names = {}
  for _, c in ipairs(spec and spec.containers or {}) do
    if want == nil or want == "*" or c.name == want then names[#names + 1] = c.name end
  end
  if #names == 0 then
    return nil, rb.error("k8s", ('k8s: %s: no container%s in %s "%s"'):format(fname,
      want and (' "' .. want .. '"') or "", obj.kind or "object", obj.metadata.name), { reason = "NotFound" })
  end
  return names
end

-- The containers a template patch sets: opts.container's (all by default);
-- every name in only must exist.
local function chosen(before, opts, only, fname)
  for _, want in ipairs(only or {}) do
    local ok, err = containers_of(before, want, fname)
    if not ok then return nil, err end
  end
  return containers_of(before, opts.container, fname)
end

-- One "NAME=value" / "NAME-" / {name, value} argument: {name, value | remove} | nil
local function env_item(v)
  if type(v) == "table" then return { name = v.name, value = v.value } end
  local k, val = tostring(v):match("^([^=]+)=(.*)$")
  if k then return { name = k, value = val } end
  local rm = tostring(v):match("^(.+)%-$")
  return rm and { name = rm, remove = true } or nil
end

-- vars: {NAME = "value" | false (remove)}, or a list of "NAME=value" / "NAME-" / {name, value}
-- kept in order (as kubectl's arguments are); a map is taken in name order.
-- -> list | nil, the argument that is neither
local function env_list(vars)
  local out = {}
  if #vars > 0 then
    for _, v in ipairs(vars) do
      out[#out + 1] = env_item(v)
      if not out[#out] then return nil, tostring(v) end
    end
    return out
  end
  local keys = {}
  for k in pairs(vars) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = vars[k]
    out[#out + 1] = v == false and { name = k, remove = true } or { name = k, value = tostring(v) }
  end
  return out
end

local function env_patch(list)
  local env = {}
  for _, v in ipairs(list) do
    env[#env + 1] = v.remove and { name = v.name, ["$patch"] = "delete" } or { name = v.name, value = v.value }
  end
  return env
end

return function(write)
  local M = {}

  -- A strategic-merge patch of the deployment, named verb in the plan:
  -- body_of(before) -> body | nil, err.
  local function patch_deployment(c, verb, name, opts, body_of)
    local e, path = locate(c, "deployments", name, opts)
    if not e then return nil, path end
    local before, err = c:get("deployments", name, opts)
    if not before then return nil, err end
    local body
    body, err = body_of(before)
    if not body then return nil, err end
    return write(c, "PATCH", path, body, {
      content_type = kwrite.CONTENT.strategic, before = before,
      what = ('%s deployment "%s"'):format(verb, name), timeout = opts.timeout,
      undo = kwrite.patch_undo(c, e, name, opts, before, body, "strategic"),
    })
  end

  -- A patch of the template's containers: each chosen one gets build(name)
  -- (nil: left alone). only: container names that must exist.
  local function template_patch(c, fname, name, opts, build, only)
    return patch_deployment(c, fname, name, opts, function(before)
      local names, err = chosen(before, opts, only, fname)
      if not names then return nil, err end
      local list = {}
      for _, n in ipairs(names) do list[#list + 1] = build(n) end
      return { spec = { template = { spec = { containers = list } } } }
    end)
  end

  --- client:set_env(deployment, vars, {container, namespace}) -> object | nil, err
  function M.set_env(c, name, vars, opts)
    name, opts = named(name, "deployment", opts, 3, "set_env")
    argcheck(type(vars) == "table" and next(vars) ~= nil, 2, "set_env", "variables expected")
    local list, bad = env_list(vars)
    argcheck(list, 2, "set_env", "NAME=value or NAME- expected, got " .. tostring(bad))
    local env = env_patch(list)
    return template_patch(c, "set_env", name, opts, function(cname) return { name = cname, env = env } end)
  end

  --- client:set_resources(deployment, {limits = {cpu, memory}, requests = {...}}, {container, namespace})
  function M.set_resources(c, name, res, opts)
    name, opts = named(name, "deployment", opts, 3, "set_resources")
    argcheck(type(res) == "table" and (res.limits or res.requests), 2, "set_resources", "{limits, requests} expected")
    local r = {}
    for _, k in ipairs { "limits", "requests" } do
      if res[k] then
        r[k] = {}
        for rk, v in pairs(res[k]) do r[k][rk] = tostring(v) end
      end
    end
    return template_patch(c, "set_resources", name, opts, function(cname) return { name = cname, resources = r } end)
  end

  --- client:set_image(deployment, image | {container = image}, {container, namespace}) -> object | nil, err
  -- kubectl set image: a string sets every container's image (or opts.container's);
  -- a map sets the image of each container it names.
  function M.set_image(c, name, images, opts)
    name, opts = named(name, "deployment", opts, 3, "set_image")
    local ok = (type(images) == "string" and images ~= "") or (type(images) == "table" and next(images) ~= nil)
    argcheck(ok, 2, "set_image", "image or {container = image} expected")
    local only
    if type(images) == "table" then
      only = {}
      for cname, img in pairs(images) do
        argcheck(type(cname) == "string" and type(img) == "string" and img ~= "", 2, "set_image",
          "{container = image} expected")
        only[#only + 1] = cname
      end
      table.sort(only)
    end
    return template_patch(c, "set_image", name, opts, function(cname)
      local img = type(images) == "string" and images or images[cname]
      return img and { name = cname, image = img } or nil
    end, only)
  end

  -- spec.paused of a deployment (kubectl rollout pause / resume).
  local function set_paused(c, fname, name, opts, paused)
    name, opts = named(name, "deployment", opts, 2, fname)
    return patch_deployment(c, (fname:gsub("_", " ")), name, opts, function() return { spec = { paused = paused } } end)
  end

  --- client:rollout_pause(deployment, {namespace}) / client:rollout_resume(deployment, {namespace}) -> object | nil, err
  function M.rollout_pause(c, name, opts) return set_paused(c, "rollout_pause", name, opts, true) end
  function M.rollout_resume(c, name, opts) return set_paused(c, "rollout_resume", name, opts, false) end

  return M
end
