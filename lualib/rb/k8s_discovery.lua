-- rb.k8s_discovery — the server's resource index, as kubectl builds it: every
-- kind, its plural, singular and short names, group and version, scope and
-- subresources, read once per client (/api/v1, /apis, then each group's
-- preferred version); and the API path of an object. Part of rb.k8s
-- (client:resource).
local rb = require "rb"
local util = require "rb.k8s_util"
local call = require "rb.k8s_call"
local argcheck, decode, escape, null = util.argcheck, util.decode, util.escape, util.null

local M = {}

local discovered = setmetatable({}, { __mode = "k" })   -- client -> index

local function entry(r, group, version)
  return {
    group = group, version = version, resource = r.name, kind = r.kind,
    namespaced = r.namespaced, verbs = r.verbs or {}, subresources = {},
    short_names = r.shortNames ~= null and r.shortNames or {},
  }
end

-- Every name a resource answers to: plural, singular, kind, short names.
local function names_of(r, e)
  local names = { r.name, r.singularName ~= null and r.singularName or nil, (r.kind or ""):lower() }
  for _, s in ipairs(e.short_names) do names[#names + 1] = s end
  return names
end

local function add_resources(index, group, version, doc)
  for _, r in ipairs(doc.resources or {}) do
    local base, sub = r.name:match("^([^/]+)/(.+)$")
    if base then
      local e = index[base .. (group ~= "" and ("." .. group) or "")]
      if e then e.subresources[sub] = true end
    else
      local e = entry(r, group, version)
      for _, n in ipairs(names_of(r, e)) do
        if n and n ~= "" then
          if not index[n] then index[n] = e end           -- first wins: core, then groups in order
          if group ~= "" and not index[n .. "." .. group] then index[n .. "." .. group] = e end
        end
      end
    end
  end
end

-- The documents at paths, fetched together (client:get_many): decoded | nil, err
local function discovery_docs(c, paths)
  local res, errs = c:get_many(paths)
  if not res then return nil, errs end          -- credentials failed before anything was sent
  local docs = {}
  for i, p in ipairs(paths) do
    local r = res[i]
    if not r then return nil, errs[i] end
    if r.status >= 400 then return nil, call.status_error(r, "discovery " .. p) end
    docs[i] = decode(r.body) or {}
  end
  return docs
end

-- Each group's preferred version: {"/apis/G/V", ...}, {{name, version}, ...}
local function group_versions(apis)
  local paths, groups = {}, {}
  for _, g in ipairs(apis.groups or {}) do
    local v = g.preferredVersion ~= null and g.preferredVersion or (g.versions or {})[1]
    if v then
      paths[#paths + 1] = "/apis/" .. v.groupVersion
      groups[#groups + 1] = { name = g.name, version = v.version }
    end
  end
  return paths, groups
end

-- Two round trips: /api/v1 and /apis together, then every group's preferred
-- version together.
local function discover(c)
  if discovered[c] then return discovered[c] end
  local index = {}
  local top, err = discovery_docs(c, { "/api/v1", "/apis" })
  if not top then return nil, err end
  add_resources(index, "", "v1", top[1])
  local paths, groups = group_versions(top[2])
  local docs
  docs, err = discovery_docs(c, paths)
  if not docs then return nil, err end
  for i, g in ipairs(groups) do add_resources(index, g.name, g.version, docs[i]) end
  discovered[c] = index
  return index
end

--- client:resource(kind) -> {group, version, resource, kind, namespaced, ...} | nil, err
function M.resource(c, kind)
  argcheck(type(kind) == "string" and kind ~= "", 1, "resource", "resource type expected")
  local index, err = discover(c)
  if not index then return nil, err end
  local e = index[kind] or index[kind:lower()]
  if not e then
    return nil, rb.error("k8s", ('k8s: the server doesn\'t have a resource type "%s"'):format(kind),
      { reason = "UnknownResource", resource = kind })
  end
  return e
end

--- path_for(e, name?, ns?, sub?) -> "/apis/GROUP/VERSION/namespaces/NS/RESOURCE/NAME/SUB"
function M.path_for(e, name, ns, sub)
  local p = e.group == "" and "/api/v1" or ("/apis/" .. e.group .. "/" .. e.version)
  if e.namespaced and ns then p = p .. "/namespaces/" .. escape(ns) end
  p = p .. "/" .. e.resource
  if name then p = p .. "/" .. escape(name) end
  if sub then p = p .. "/" .. sub end
  return p
end

--- ns_of(c, opts) -> opts.namespace or the client's namespace
function M.ns_of(c, opts) return opts.namespace or c:info().namespace end

--- locate(c, kind, name, opts, sub) -> e, path | nil, err: resolves kind and builds the object's path
function M.locate(c, kind, name, opts, sub)
  local e, err = c:resource(kind)
  if not e then return nil, err end
  return e, M.path_for(e, name, M.ns_of(c, opts), sub)
end

--- qualified(e) -> "deployments.apps" ("pods" for the core group)
function M.qualified(e)
  return e.group == "" and e.resource or (e.resource .. "." .. e.group)
end

return M
