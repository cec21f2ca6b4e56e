-- rb.k8s_read — kubectl's reads: get (one object or a list, as -o json fills
-- it in), describe (with the object's events), top pods / top nodes (the
-- metrics API), GET through the API server's proxy, get --raw, and expect
-- (the live object holds the values a caller names). Part of rb.k8s: built
-- with the C half's quantity parser: require("rb.k8s_read")(quantity) -> the
-- client methods get, describe, top_pods, top_nodes, proxy_get, raw, expect.
local rb = require "rb"
local util = require "rb.k8s_util"
local kcall = require "rb.k8s_call"
local discovery = require "rb.k8s_discovery"
local describe_text = require("rb.k8s_describe").text
local mismatches = require("rb.k8s_fields").mismatches
local argcheck, opts_of, decode, escape, null = util.argcheck, util.opts_of, util.decode, util.escape, util.null
local split_ref, query_string = util.split_ref, util.query_string
local call = kcall.call
local ns_of, qualified = discovery.ns_of, discovery.qualified


-- A list's items carry kind and apiVersion, as kubectl -o json fills them in.
local function items_of(e, list)
  local api = e.group == "" and e.version or (e.group .. "/" .. e.version)
  for _, item in ipairs(list.items or {}) do
    item.kind = item.kind or e.kind
    item.apiVersion = item.apiVersion or api
  end
  return list.items or {}, list
end

local function event_time(ev)
  local t = (ev.lastTimestamp ~= null and ev.lastTimestamp) or ev.eventTime or ""
  return t == null and "" or t
end

-- The object's events, oldest first.
local function events_for(c, obj, ns)
  local fs = ("involvedObject.name=%s,involvedObject.namespace=%s,involvedObject.kind=%s")
    :format(obj.metadata.name, ns or obj.metadata.namespace or "", obj.kind or "")
  if not ns then fs = ("involvedObject.name=%s,involvedObject.kind=%s"):format(obj.metadata.name, obj.kind or "") end
  local evs, err = c:get("events", nil, { namespace = ns, field_selector = fs })
  if not evs then return nil, err end
  table.sort(evs, function(a, b) return event_time(a) < event_time(b) end)
  return evs
end

-- Rows by opts.sort_by ("cpu" | "memory": largest first), else by name.
local function sort_rows(rows, by)
  table.sort(rows, function(a, b)
    if by then return a[by] > b[by] end
    return a.name < b.name
  end)
  return rows
end

local PROXIED = { pod = "pods", pods = "pods", po = "pods", service = "services", services = "services", svc = "services" }

-- proxy target: {pod|service = NAME, namespace, port} or "pod/NAME", "svc/NAME", "NAME" (a pod)
local function proxy_ref(c, target, port, opts)
  if type(target) == "table" then
    local kind = target.service and "services" or "pods"
    return kind, target.service or target.pod, target.namespace or ns_of(c, opts), target.port or port
  end
  local k, n = tostring(target):match("^([^/]+)/(.+)$")
  if not k then k, n = "pod", target end
  return PROXIED[k], n, ns_of(c, opts), port
end

-- A proxied answer prints as its body (tostring(resp)), like kubectl get --raw.
local Proxied = { __tostring = function(r) return r.body or "" end }

return function(quantity)
  local M = {}

  --- client:get(kind, name?, {namespace, selector, field_selector, all_namespaces})
  --   -> object | items, list | nil, err
  function M.get(c, kind, name, opts)
    argcheck(type(kind) == "string", 1, "get", "resource type expected")
    if type(name) == "table" and opts == nil then name, opts = nil, name end
    kind, name = split_ref(kind, name)
    argcheck(name == nil or type(name) == "string", 2, "get", "name expected")
    opts = opts_of(opts, 3, "get")
    local e, err = c:resource(kind)
    if not e then return nil, err end
    local ns = (not opts.all_namespaces or name) and ns_of(c, opts) or nil
    local q = query_string { labelSelector = opts.selector, fieldSelector = opts.field_selector }
    local what = name and ('get %s "%s"'):format(qualified(e), name) or ("list " .. qualified(e))
    local v
    v, err = kcall.object(c, discovery.path_for(e, name, ns), what, { query = q, timeout = opts.timeout })
    if not v then return nil, err end
    if name then return v end
    return items_of(e, v)
  end

  --- client:describe(kind, name, {namespace}) -> {object, events, text} | nil, err
  function M.describe(c, kind, name, opts)
    kind, name = split_ref(kind, name)
    argcheck(type(kind) == "string" and type(name) == "string", 2, "describe", "kind and name expected")
    opts = opts_of(opts, 3, "describe")
    local obj, err = c:get(kind, name, opts)
    if not obj then return nil, err end
    local e = c:resource(kind)
    local evs
    evs, err = events_for(c, obj, e.namespaced and ns_of(c, opts) or nil)
    if not evs then return nil, err end
    return { object = obj, events = evs, text = describe_text(obj, evs) }
  end

  local function cores(q) return q and quantity(q) or 0 end

  local function pod_row(item)
    local row = { name = item.metadata.name, namespace = item.metadata.namespace, cpu = 0, memory = 0, containers = {} }
    for _, ctr in ipairs(item.containers or {}) do
      local u = { name = ctr.name, cpu = cores(ctr.usage.cpu), memory = cores(ctr.usage.memory) }
      row.cpu, row.memory = row.cpu + u.cpu, row.memory + u.memory
      row.containers[#row.containers + 1] = u
    end
    return row
  end

  --- client:top_pods({namespace, selector, all_namespaces, sort_by = "cpu"|"memory"})
  --   -> {{name, namespace, cpu (cores), memory (bytes), containers}, ...} | nil, err
  function M.top_pods(c, opts)
    opts = opts_of(opts, 1, "top_pods")
    local p = "/apis/metrics.k8s.io/v1beta1" .. (opts.all_namespaces and "" or ("/namespaces/" .. escape(ns_of(c, opts)))) .. "/pods"
    local resp, err = call(c, "GET", p, { query = query_string { labelSelector = opts.selector } }, "top pods")
    if not resp then return nil, err end
    local rows = {}
    for _, item in ipairs((decode(resp.body) or {}).items or {}) do rows[#rows + 1] = pod_row(item) end
    return sort_rows(rows, opts.sort_by)
  end

  local function percent(used, of) return of and math.floor(used / cores(of) * 100 + 0.5) or nil end

  --- client:top_nodes({sort_by}) -> {{name, cpu, memory, cpu_percent, memory_percent}, ...} | nil, err
  function M.top_nodes(c, opts)
    opts = opts_of(opts, 1, "top_nodes")
    local resp, err = call(c, "GET", "/apis/metrics.k8s.io/v1beta1/nodes", nil, "top nodes")
    if not resp then return nil, err end
    local alloc = {}
    for _, n in ipairs(c:get("nodes") or {}) do alloc[n.metadata.name] = (n.status or {}).allocatable or {} end
    local rows = {}
    for _, item in ipairs((decode(resp.body) or {}).items or {}) do
      local row = { name = item.metadata.name, cpu = cores(item.usage.cpu), memory = cores(item.usage.memory) }
      local a = alloc[row.name] or {}
      row.cpu_percent, row.memory_percent = percent(row.cpu, a.cpu), percent(row.memory, a.memory)
      rows[#rows + 1] = row
    end
    return sort_rows(rows, opts.sort_by)
  end

  --- client:proxy_get(pod_or_service, port, path, {timeout}) -> {status, body, content_type} | nil, err
  --- client:proxy_get({pod = NAME | service = NAME, namespace, port}, path, {timeout})
  -- GET through the API server's proxy (kubectl get --raw /api/v1/namespaces/NS/pods/NAME:PORT/proxy/PATH).
  -- Any status of the backend is a result (as rb.http.get; tostring(resp) is the
  -- body); transport failures are nil, err. opts.namespace for the string forms.
  function M.proxy_get(c, target, port, path, opts)
    if type(target) == "table" then port, path, opts = target.port, port, path end
    argcheck(type(target) == "table" or type(target) == "string", 1, "proxy_get", "pod or service expected")
    argcheck(type(path) == "string", 3, "proxy_get", "path expected")
    opts = opts_of(opts, 4, "proxy_get")
    local resource, name, ns
    resource, name, ns, port = proxy_ref(c, target, port, opts)
    argcheck(resource and type(name) == "string", 1, "proxy_get", "pod/NAME or svc/NAME expected")
    local p, q = path:match("^([^?]*)%??(.*)$")
    local ref = escape(name) .. (port and (":" .. tostring(port)) or "")
    local api = ("/api/v1/namespaces/%s/%s/%s/proxy%s%s"):format(escape(ns), resource, ref,
      p:sub(1, 1) == "/" and "" or "/", p)
    local resp, err = c:request("GET", api, { query = q ~= "" and q or nil, accept = "*/*", timeout = opts.timeout })
    if not resp then return nil, err end
    return setmetatable(resp, Proxied)
  end

  --- client:raw(method, path, {query, body, content_type, accept}) -> response | nil, err
  -- kubectl get --raw and friends: GET is a read, other methods writes.
  function M.raw(c, method, path, opts)
    argcheck(type(method) == "string", 1, "raw", "method expected")
    argcheck(type(path) == "string", 2, "raw", "path expected")
    local p, q = path:match("^([^?]*)%??(.*)$")
    opts = opts_of(opts, 3, "raw")
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    if q ~= "" then o.query = o.query and (o.query .. "&" .. q) or q end
    return call(c, method:upper(), p, o)
  end

  --- client:expect(kind, name, conditions, {namespace}) -> object | nil, err
  --- client:expect("kind/name", conditions, {namespace})
  -- conditions: { {path = "spec.replicas" | {segments}, value = v | absent = true}, ... }.
  -- Reads the object; err{kind = "changed", differs = {...}} names every field
  -- that does not hold its expected value.
  function M.expect(c, kind, name, conditions, opts)
    if type(name) == "table" then name, conditions, opts = nil, name, conditions end   -- expect("kind/name", ...)
    kind, name = split_ref(kind, name)
    argcheck(type(kind) == "string" and type(name) == "string", 2, "expect", "kind and name expected")
    argcheck(type(conditions) == "table", 3, "expect", "conditions expected")
    opts = opts_of(opts, 4, "expect")
    local obj, err = c:get(kind, name, opts)
    if not obj then return nil, err end
    local differs = mismatches(obj, conditions, quantity, 3, "expect")
    if #differs == 0 then return obj end
    return nil, rb.error("changed", ('k8s: %s "%s" is not as expected: %s'):format(kind, name, table.concat(differs, "; ")),
      { differs = differs })
  end

  return M
end
