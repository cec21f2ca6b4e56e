-- rb.k8s — the kubectl-equivalent Kubernetes calls (reference: docs/lua/k8s.md).
--
-- Extends the C half (engine/bind/k8s.c: kubeconfig/in-cluster client,
-- credentials, the gated Client:request and Client:exec_ws) with kubectl's
-- verbs: discovery and short names, get/describe/logs/top, the pod and
-- service proxy, rollout status, and the writes (scale, patch, set env, set
-- resources, rollout restart, delete, exec). GET is a read; every other verb
-- is a write: refused in investigate, sent with dryRun=All in plan (the plan
-- shows what the server made of it), matched against the approved plan in
-- apply. Module-level functions use the run's targets (--kubeconfig,
-- --context, -n); k8s.client{...} makes an explicit client.
local M = ...
local rb = require "rb"
local cjson = require "cjson"

local new_error, new_client = M._error, M._client
M._error, M._client = nil, nil
M.quantity = M._quantity
M._quantity = nil
local Client = M.Client

-- What a plan says the server made of a dry run is this module's own reading
-- (its diff of the dryRun=All answer): a runbook calling client:request cannot
-- supply that text. `simulate = false` (cannot be simulated) stays: it only
-- makes the plan say less.
local raw_request = Client.request
function Client:request(method, path, opts)
  if type(opts) == "table" and rawget(opts, "simulate") ~= nil then
    local o = {}
    for k, v in next, opts do if k ~= "simulate" then o[k] = v end end
    if rawget(opts, "simulate") == false then o.simulate = false end
    opts = o
  end
  return raw_request(self, method, path, opts)
end

local function argcheck(cond, n, fname, msg)
  if not cond then error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 3) end
end

local function opts_of(opts, n, fname)
  argcheck(opts == nil or type(opts) == "table", n, fname, "options table expected")
  return opts or {}
end

local null = cjson.null

-- cjson decodes every number as a float: 3.0 prints as 3.
local function str(v)
  if math.type(v) == "float" and v == math.floor(v) and math.abs(v) < 2^53 then return ("%d"):format(v) end
  return tostring(v)
end
local function decode(body)
  local ok, v = pcall(cjson.decode, body)
  if ok then return v end
  return nil
end

-- ---- clients -------------------------------------------------------------

-- operator: the kubeconfig is the run's target (--kubeconfig, the config's
-- kubeconfig), which the engine set: its exec plugins may run (docs/lua/k8s.md).
local run_targets
local function make_client(opts, operator)
  return new_client {
    kubeconfig = opts.kubeconfig, operator = operator, context = opts.context, namespace = opts.namespace,
    timeout = opts.timeout, connect_timeout = opts.connect_timeout,
  }
end

-- The run's targets (--kubeconfig, --context, -n, the config's).
run_targets = function()
  local kc, ctx, ns = rb.target("kubeconfig"), rb.target("kube_context"), rb.target("namespace")
  if kc == os.getenv("KUBECONFIG") then kc = nil end   -- the environment's list, not --kubeconfig
  return { kubeconfig = kc, context = ctx, namespace = ns }
end

--- k8s.client{kubeconfig, context, namespace, timeout, connect_timeout} -> Client | nil, err
--- k8s.client() -> the configured target's client | nil, err{kind = "config"}
-- kubeconfig: a path, a colon list as in KUBECONFIG, or the text of a
-- kubeconfig; default: KUBECONFIG, then ~/.kube/config, then the in-cluster
-- service account. An exec plugin runs only from the operator's kubeconfig.
function M.client(opts)
  if opts == nil then return make_client(run_targets(), true) end   -- the configured target
  opts = opts_of(opts, 1, "client")
  argcheck(opts.kubeconfig == nil or type(opts.kubeconfig) == "string", 1, "client", "kubeconfig must be a string")
  local kc = opts.kubeconfig
  return make_client(opts, kc ~= nil and kc ~= "" and kc == rb.target("kubeconfig"))
end

-- The run's client: rebuilt when the targets change (--env, --context, -n).
local default, default_key
local function run_client()
  local t = run_targets()
  local key = table.concat({ t.kubeconfig or "", t.context or "", t.namespace or "" }, "\0")
  if default and key == default_key then return default end
  local c, err = make_client(t, true)
  if not c then return nil, err end
  default, default_key = c, key
  return c
end

--- k8s.default() -> Client | nil, err: the client module-level calls use.
M.default = run_client

-- ---- errors --------------------------------------------------------------

local REASONS = {
  [400] = "BadRequest", [401] = "Unauthorized", [403] = "Forbidden", [404] = "NotFound",
  [405] = "MethodNotAllowed", [409] = "Conflict", [410] = "Gone", [415] = "UnsupportedMediaType",
  [422] = "Invalid", [429] = "TooManyRequests", [500] = "InternalError", [503] = "ServiceUnavailable",
  [504] = "Timeout",
}

-- An API answer >= 400 as err{kind = "k8s", status, reason, message, details}.
local function status_error(resp, what)
  local st = decode(resp.body)
  local reason, msg, details
  if type(st) == "table" and st.kind == "Status" then
    reason, msg, details = st.reason, st.message, st.details
  end
  reason = (reason ~= nil and reason ~= null and reason ~= "") and reason or REASONS[resp.status] or "Unknown"
  if msg == nil or msg == null or msg == "" then
    msg = (resp.body or ""):sub(1, 300):gsub("%s+$", "")
    if msg == "" then msg = "status " .. resp.status end
  end
  local e = new_error("k8s", ("k8s: %s: %s (%s, %d)"):format(what, msg, reason, resp.status))
  e.status, e.reason, e.details = resp.status, reason, details ~= null and details or nil
  return e
end

-- request -> decoded JSON body | nil, err
local function call(c, method, path, opts, what)
  local resp, err = c:request(method, path, opts)
  if not resp then return nil, err end
  if resp.status >= 400 then return nil, status_error(resp, what or (method .. " " .. path)) end
  return resp
end

-- ---- discovery -------------------------------------------------------------

local discovered = setmetatable({}, { __mode = "k" })   -- client -> {index, list}

local function add_resources(index, list, group, version, doc)
  for _, r in ipairs(doc.resources or {}) do
    local base, sub = r.name:match("^([^/]+)/(.+)$")
    if base then
      local e = index[base .. (group ~= "" and ("." .. group) or "")]
      if e then e.subresources[sub] = true end
    else
      local e = {
        group = group, version = version, resource = r.name, kind = r.kind,
        namespaced = r.namespaced, verbs = r.verbs or {}, subresources = {},
        short_names = r.shortNames ~= null and r.shortNames or {},
      }
      list[#list + 1] = e
      local names = { r.name, r.singularName ~= null and r.singularName or nil, (r.kind or ""):lower() }
      for _, s in ipairs(e.short_names) do names[#names + 1] = s end
      for _, n in ipairs(names) do
        if n and n ~= "" then
          if not index[n] then index[n] = e end           -- first wins: core, then groups in order
          if group ~= "" and not index[n .. "." .. group] then index[n .. "." .. group] = e end
        end
      end
    end
  end
end

-- Two round trips: /api/v1 and /apis together, then every group's preferred
-- version together (client:get_many).
local function discovery_docs(c, paths)
  local res, errs = c:get_many(paths)
  if not res then return nil, errs end          -- credentials failed before anything was sent
  local docs = {}
  for i, p in ipairs(paths) do
    local r = res[i]
    if not r then return nil, errs[i] end
    if r.status >= 400 then return nil, status_error(r, "discovery " .. p) end
    docs[i] = decode(r.body) or {}
  end
  return docs
end

local function discover(c)
  local d = discovered[c]
  if d then return d end
  local index, list = {}, {}
  local top, err = discovery_docs(c, { "/api/v1", "/apis" })
  if not top then return nil, err end
  add_resources(index, list, "", "v1", top[1])
  local paths, groups = {}, {}
  for _, g in ipairs(top[2].groups or {}) do
    local v = g.preferredVersion ~= null and g.preferredVersion or (g.versions or {})[1]
    if v then
      paths[#paths + 1] = "/apis/" .. v.groupVersion
      groups[#groups + 1] = { name = g.name, version = v.version }
    end
  end
  local docs
  docs, err = discovery_docs(c, paths)
  if not docs then return nil, err end
  for i, g in ipairs(groups) do add_resources(index, list, g.name, g.version, docs[i]) end
  d = { index = index, list = list }
  discovered[c] = d
  return d
end

--- client:resource(kind) -> {group, version, resource, kind, namespaced, ...} | nil, err
function Client:resource(kind)
  argcheck(type(kind) == "string" and kind ~= "", 1, "resource", "resource type expected")
  local d, err = discover(self)
  if not d then return nil, err end
  local e = d.index[kind] or d.index[kind:lower()]
  if not e then
    local u = new_error("k8s", ('k8s: the server doesn\'t have a resource type "%s"'):format(kind))
    u.reason, u.resource = "UnknownResource", kind
    return nil, u
  end
  return e
end

local function escape(s)
  return (tostring(s):gsub("[^%w%-%._~]", function(ch) return ("%%%02X"):format(ch:byte()) end))
end

local function query_string(q)
  local keys, parts = {}, {}
  for k in pairs(q) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = q[k]
    if type(v) == "table" then
      for _, x in ipairs(v) do parts[#parts + 1] = escape(k) .. "=" .. escape(x) end
    else
      parts[#parts + 1] = escape(k) .. "=" .. escape(v)
    end
  end
  return #parts > 0 and table.concat(parts, "&") or nil
end

-- "deployment/tmi-api" -> "deployment", "tmi-api"
local function split_ref(kind, name, default_kind)
  if name == nil and type(kind) == "string" then
    local k, n = kind:match("^([^/]+)/(.+)$")
    if k then return k, n end
    if default_kind then return default_kind, kind end
  end
  return kind, name
end

-- A "kind/NAME" or "NAME" argument and the options table at argument optn, checked.
local function named(ref, default_kind, opts, optn, fname)
  local _, name = split_ref(ref, nil, default_kind)
  argcheck(type(name) == "string", 1, fname, default_kind .. " name expected")
  return name, opts_of(opts, optn, fname)
end

local function path_for(c, e, name, ns, sub)
  local p = e.group == "" and "/api/v1" or ("/apis/" .. e.group .. "/" .. e.version)
  if e.namespaced and ns then p = p .. "/namespaces/" .. escape(ns) end
  p = p .. "/" .. e.resource
  if name then p = p .. "/" .. escape(name) end
  if sub then p = p .. "/" .. sub end
  return p
end

local function ns_of(c, opts) return opts.namespace or c:info().namespace end

-- Resolves kind and builds the object's path: e, path | nil, err
local function locate(c, kind, name, opts, sub)
  local e, err = c:resource(kind)
  if not e then return nil, err end
  return e, path_for(c, e, name, ns_of(c, opts), sub)
end

local function qualified(e)
  return e.group == "" and e.resource or (e.resource .. "." .. e.group)
end

-- ---- reads -------------------------------------------------------------------

--- client:get(kind, name?, {namespace, selector, field_selector, all_namespaces})
--   -> object | items, list | nil, err
function Client:get(kind, name, opts)
  argcheck(type(kind) == "string", 1, "get", "resource type expected")
  if type(name) == "table" and opts == nil then name, opts = nil, name end
  kind, name = split_ref(kind, name)
  argcheck(name == nil or type(name) == "string", 2, "get", "name expected")
  opts = opts_of(opts, 3, "get")
  local e, err = self:resource(kind)
  if not e then return nil, err end
  local ns = (not opts.all_namespaces or name) and ns_of(self, opts) or nil
  local path = path_for(self, e, name, ns)
  local q = query_string { labelSelector = opts.selector, fieldSelector = opts.field_selector }
  local what = name and ('get %s "%s"'):format(qualified(e), name) or ("list " .. qualified(e))
  local resp
  resp, err = call(self, "GET", path, { query = q, timeout = opts.timeout }, what)
  if not resp then return nil, err end
  local v = decode(resp.body)
  if type(v) ~= "table" then return nil, new_error("parse", "k8s: " .. what .. ": answer is not JSON") end
  if name then return v end
  local api = e.group == "" and e.version or (e.group .. "/" .. e.version)
  for _, item in ipairs(v.items or {}) do   -- as kubectl -o json fills them in
    item.kind = item.kind or e.kind
    item.apiVersion = item.apiVersion or api
  end
  return v.items or {}, v
end

local function events_for(c, obj, ns)
  local fs = ("involvedObject.name=%s,involvedObject.namespace=%s,involvedObject.kind=%s")
    :format(obj.metadata.name, ns or obj.metadata.namespace or "", obj.kind or "")
  if not ns then fs = ("involvedObject.name=%s,involvedObject.kind=%s"):format(obj.metadata.name, obj.kind or "") end
  local evs, err = c:get("events", nil, { namespace = ns, field_selector = fs })
  if not evs then return nil, err end
  table.sort(evs, function(a, b)
    local ta = (a.lastTimestamp ~= null and a.lastTimestamp) or a.eventTime or ""
    local tb = (b.lastTimestamp ~= null and b.lastTimestamp) or b.eventTime or ""
    if ta == null then ta = "" end
    if tb == null then tb = "" end
    return ta < tb
  end)
  return evs
end

local function kv_lines(t)
  if type(t) ~= "table" or next(t) == nil then return "<none>" end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do out[#out + 1] = k .. "=" .. tostring(t[k]) end
  return table.concat(out, ", ")
end

local function describe_containers(out, containers, statuses)
  local st = {}
  for _, s in ipairs(type(statuses) == "table" and statuses or {}) do st[s.name] = s end
  out[#out + 1] = "Containers:"
  for _, ctr in ipairs(containers or {}) do
    out[#out + 1] = "  " .. ctr.name .. ":"
    out[#out + 1] = "    Image:         " .. tostring(ctr.image)
    local s = st[ctr.name]
    if s then
      out[#out + 1] = "    Ready:         " .. tostring(s.ready)
      out[#out + 1] = "    Restart Count: " .. str(s.restartCount or 0)
    end
    local r = ctr.resources or {}
    out[#out + 1] = "    Limits:        " .. kv_lines(r.limits)
    out[#out + 1] = "    Requests:      " .. kv_lines(r.requests)
    local env = {}
    for _, v in ipairs(ctr.env or {}) do env[#env + 1] = v.name .. "=" .. tostring(v.value ~= null and v.value or "<from>") end
    out[#out + 1] = "    Environment:   " .. (#env > 0 and table.concat(env, ", ") or "<none>")
  end
end

local function describe_text(obj, events)
  local m = obj.metadata or {}
  local out = {
    "Name:         " .. tostring(m.name),
    "Namespace:    " .. tostring(m.namespace ~= nil and m.namespace or ""),
    "Kind:         " .. tostring(obj.kind),
    "Labels:       " .. kv_lines(m.labels),
    "Annotations:  " .. kv_lines(m.annotations),
  }
  local spec, status = obj.spec or {}, obj.status or {}
  if obj.kind == "Pod" then
    out[#out + 1] = "Node:         " .. tostring(spec.nodeName)
    out[#out + 1] = "Status:       " .. tostring(status.phase)
    out[#out + 1] = "IP:           " .. tostring(status.podIP)
    describe_containers(out, spec.containers, status.containerStatuses)
  elseif spec.template and spec.template.spec then
    out[#out + 1] = ("Replicas:     %s desired | %s updated | %s total | %s available"):format(
      str(spec.replicas), str(status.updatedReplicas or 0), str(status.replicas or 0),
      str(status.availableReplicas or 0))
    describe_containers(out, spec.template.spec.containers)
  end
  out[#out + 1] = "Events:"
  if #events == 0 then out[#out + 1] = "  <none>" end
  for _, ev in ipairs(events) do
    out[#out + 1] = ("  %-8s %-20s %s"):format(tostring(ev.type), tostring(ev.reason), tostring(ev.message))
  end
  return table.concat(out, "\n") .. "\n"
end

--- client:describe(kind, name, {namespace}) -> {object, events, text} | nil, err
function Client:describe(kind, name, opts)
  kind, name = split_ref(kind, name)
  argcheck(type(kind) == "string" and type(name) == "string", 2, "describe", "kind and name expected")
  opts = opts_of(opts, 3, "describe")
  local obj, err = self:get(kind, name, opts)
  if not obj then return nil, err end
  local e = self:resource(kind)
  local evs
  evs, err = events_for(self, obj, e.namespaced and ns_of(self, opts) or nil)
  if not evs then return nil, err end
  return { object = obj, events = evs, text = describe_text(obj, evs) }
end

-- The query of a pods/NAME/log request (kubectl logs' flags).
local function log_query(opts, argn, fname)
  local since = opts.since_seconds or opts.since
  if type(since) == "string" then
    local n, unit = since:match("^(%d+)([smh]?)$")
    argcheck(n, argn, fname, "since must be seconds or like 30s, 5m, 2h")
    since = tonumber(n) * ({ s = 1, m = 60, h = 3600, [""] = 1 })[unit]
  end
  argcheck(since == nil or (math.tointeger(since) and since > 0), argn, fname, "since_seconds must be a positive integer")
  local tail = opts.tail_lines or opts.tail
  argcheck(tail == nil or (math.tointeger(tail) and tail >= 0), argn, fname, "tail_lines must be an integer >= 0")
  return {
    container = opts.container, tailLines = tail, sinceSeconds = since, limitBytes = opts.limit_bytes,
    previous = opts.previous and "true" or nil, timestamps = opts.timestamps and "true" or nil,
  }
end

local function pod_log(c, pod, ns, q, timeout)
  local path = "/api/v1/namespaces/" .. escape(ns) .. "/pods/" .. escape(pod) .. "/log"
  local resp, err = call(c, "GET", path, { query = query_string(q), accept = "*/*", timeout = timeout },
    ('logs pod "%s"'):format(pod))
  if not resp then return nil, err end
  return resp.body
end

-- "app=x,tier in (a,b)" from a LabelSelector (spec.selector of a workload).
local function selector_text(sel)
  local parts = {}
  local labels = type(sel) == "table" and sel.matchLabels ~= null and sel.matchLabels or {}
  for k, v in pairs(labels) do parts[#parts + 1] = k .. "=" .. tostring(v) end
  table.sort(parts)
  local ops = { In = " in ", NotIn = " notin " }
  for _, e in ipairs(type(sel) == "table" and sel.matchExpressions ~= null and sel.matchExpressions or {}) do
    if ops[e.operator] then parts[#parts + 1] = e.key .. ops[e.operator] .. "(" .. table.concat(e.values, ",") .. ")"
    elseif e.operator == "Exists" then parts[#parts + 1] = e.key
    else parts[#parts + 1] = "!" .. e.key end
  end
  return table.concat(parts, ",")
end

-- The pods a logs{deployment | selector} call reads, by name.
local function log_pods(c, opts)
  local sel = opts.selector
  if opts.deployment then
    local d, err = c:get("deployments", opts.deployment, { namespace = opts.namespace })
    if not d then return nil, err end
    sel = selector_text(d.spec.selector)
  end
  local pods, err = c:get("pods", nil, { namespace = opts.namespace, selector = sel })
  if not pods then return nil, err end
  table.sort(pods, function(a, b) return a.metadata.name < b.metadata.name end)
  return pods
end

local LOG_POD_BYTES, LOG_TOTAL_BYTES = 256 * 1024, 1024 * 1024

-- Each line of text as "[pod/NAME/CONTAINER] line", at most max bytes of text.
local function prefixed(out, prefix, text, max)
  local cut = #text > max
  if cut then text = text:sub(1, max) end
  for line in text:gmatch("[^\n]+") do out[#out + 1] = prefix .. line end
  return cut
end

-- logs{deployment = NAME | selector = "app=x", container, tail_lines,
-- since_seconds, previous, limit_bytes (per pod), max_bytes (total), namespace}
-- -> text, {pods = {{name, container, bytes, truncated, error}}, truncated} | nil, err
local function logs_of_pods(c, opts)
  argcheck((opts.deployment == nil) ~= (opts.selector == nil), 1, "logs", "deployment or selector expected (one of them)")
  argcheck(opts.deployment == nil or type(opts.deployment) == "string", 1, "logs", "deployment must be a name")
  argcheck(opts.selector == nil or type(opts.selector) == "string", 1, "logs", "selector must be a string")
  local per = opts.limit_bytes or LOG_POD_BYTES
  local total = opts.max_bytes or LOG_TOTAL_BYTES
  argcheck(math.tointeger(per) and per > 0, 1, "logs", "limit_bytes must be a positive integer")
  argcheck(math.tointeger(total) and total > 0, 1, "logs", "max_bytes must be a positive integer")
  local q = log_query(opts, 1, "logs")
  q.limitBytes = per
  local pods, err = log_pods(c, opts)
  if not pods then return nil, err end
  local out, info, used, first_err = {}, { pods = {} }, 0, nil
  for _, pod in ipairs(pods) do
    for _, ctr in ipairs(opts.container and { { name = opts.container } } or pod.spec.containers or {}) do
      local row = { name = pod.metadata.name, container = ctr.name, bytes = 0 }
      info.pods[#info.pods + 1] = row
      if used >= total then row.truncated, info.truncated = true, true
      else
        q.container = ctr.name
        local text, lerr = pod_log(c, pod.metadata.name, pod.metadata.namespace, q, opts.timeout)
        if not text then row.error, first_err = lerr.message, first_err or lerr
        else
          local max = math.min(per, total - used)
          row.truncated = prefixed(out, ("[pod/%s/%s] "):format(pod.metadata.name, ctr.name), text, max)
          row.bytes = math.min(#text, max)
          used = used + row.bytes
          info.truncated = info.truncated or row.truncated
        end
      end
    end
  end
  if first_err and used == 0 then return nil, first_err end
  return #out > 0 and (table.concat(out, "\n") .. "\n") or "", info
end

--- client:logs(pod, {container, tail_lines, since_seconds, previous, timestamps, limit_bytes, namespace}) -> text | nil, err
--- client:logs{deployment = NAME | selector = "app=x", ...} -> text, info | nil, err (every matching pod, prefixed)
-- since_seconds: seconds, or "30s" / "5m" / "2h" (tail and since are the older names).
function Client:logs(pod, opts)
  if type(pod) == "table" and opts == nil then return logs_of_pods(self, pod) end
  pod = select(2, split_ref(pod, nil, "pod"))
  argcheck(type(pod) == "string", 1, "logs", "pod name expected")
  opts = opts_of(opts, 2, "logs")
  return pod_log(self, pod, ns_of(self, opts), log_query(opts, 2, "logs"), opts.timeout)
end

local function cores(q) return q and M.quantity(q) or 0 end

--- client:top_pods({namespace, selector, all_namespaces, sort_by = "cpu"|"memory"})
--   -> {{name, namespace, cpu (cores), memory (bytes), containers}, ...} | nil, err
function Client:top_pods(opts)
  opts = opts_of(opts, 1, "top_pods")
  local p = "/apis/metrics.k8s.io/v1beta1" .. (opts.all_namespaces and "" or ("/namespaces/" .. escape(ns_of(self, opts)))) .. "/pods"
  local resp, err = call(self, "GET", p, { query = query_string { labelSelector = opts.selector } }, "top pods")
  if not resp then return nil, err end
  local rows = {}
  for _, item in ipairs((decode(resp.body) or {}).items or {}) do
    local row = { name = item.metadata.name, namespace = item.metadata.namespace, cpu = 0, memory = 0, containers = {} }
    for _, ctr in ipairs(item.containers or {}) do
      local c = { name = ctr.name, cpu = cores(ctr.usage.cpu), memory = cores(ctr.usage.memory) }
      row.cpu, row.memory = row.cpu + c.cpu, row.memory + c.memory
      row.containers[#row.containers + 1] = c
    end
    rows[#rows + 1] = row
  end
  local by = opts.sort_by
  table.sort(rows, function(a, b)
    if by then return a[by] > b[by] end
    return a.name < b.name
  end)
  return rows
end

--- client:top_nodes({sort_by}) -> {{name, cpu, memory, cpu_percent, memory_percent}, ...} | nil, err
function Client:top_nodes(opts)
  opts = opts_of(opts, 1, "top_nodes")
  local resp, err = call(self, "GET", "/apis/metrics.k8s.io/v1beta1/nodes", nil, "top nodes")
  if not resp then return nil, err end
  local nodes = self:get("nodes") or {}
  local alloc = {}
  for _, n in ipairs(nodes) do alloc[n.metadata.name] = (n.status or {}).allocatable or {} end
  local rows = {}
  for _, item in ipairs((decode(resp.body) or {}).items or {}) do
    local name = item.metadata.name
    local row = { name = name, cpu = cores(item.usage.cpu), memory = cores(item.usage.memory) }
    local a = alloc[name]
    if a and a.cpu then row.cpu_percent = math.floor(row.cpu / cores(a.cpu) * 100 + 0.5) end
    if a and a.memory then row.memory_percent = math.floor(row.memory / cores(a.memory) * 100 + 0.5) end
    rows[#rows + 1] = row
  end
  local by = opts.sort_by
  table.sort(rows, function(a, b) if by then return a[by] > b[by] end return a.name < b.name end)
  return rows
end

-- proxy target: {pod|service = NAME, namespace, port} or "pod/NAME", "svc/NAME", "NAME" (a pod)
local function proxy_ref(c, target, port, opts)
  if type(target) == "table" then
    local kind = target.service and "services" or "pods"
    return kind, target.service or target.pod, target.namespace or ns_of(c, opts), target.port or port
  end
  local k, n = tostring(target):match("^([^/]+)/(.+)$")
  if not k then k, n = "pod", target end
  local e = ({ pod = "pods", pods = "pods", po = "pods", service = "services", services = "services", svc = "services" })[k]
  return e, n, ns_of(c, opts), port
end

-- A proxied answer prints as its body (tostring(resp)), like kubectl get --raw.
local Proxied = { __tostring = function(r) return r.body or "" end }

--- client:proxy_get(pod_or_service, port, path, {timeout}) -> {status, body, content_type} | nil, err
--- client:proxy_get({pod = NAME | service = NAME, namespace, port}, path, {timeout})
-- GET through the API server's proxy (kubectl get --raw /api/v1/namespaces/NS/pods/NAME:PORT/proxy/PATH).
-- Any status of the backend is a result (as rb.http.get; tostring(resp) is the
-- body); transport failures are nil, err. opts.namespace for the string forms.
function Client:proxy_get(target, port, path, opts)
  if type(target) == "table" then port, path, opts = target.port, port, path end
  argcheck(type(target) == "table" or type(target) == "string", 1, "proxy_get", "pod or service expected")
  argcheck(type(path) == "string", 3, "proxy_get", "path expected")
  opts = opts_of(opts, 4, "proxy_get")
  local resource, name, ns = proxy_ref(self, target, port, opts)
  argcheck(resource and type(name) == "string", 1, "proxy_get", "pod/NAME or svc/NAME expected")
  local p, q = path:match("^([^?]*)%??(.*)$")
  local ref = escape(name) .. (port and (":" .. tostring(port)) or "")
  local api = ("/api/v1/namespaces/%s/%s/%s/proxy%s%s"):format(escape(ns), resource, ref,
    p:sub(1, 1) == "/" and "" or "/", p)
  local resp, err = self:request("GET", api, { query = q ~= "" and q or nil, accept = "*/*", timeout = opts.timeout })
  if not resp then return nil, err end
  return setmetatable(resp, Proxied)
end

--- client:rollout_status(deployment, {timeout = 300, interval = 1, namespace}) -> {done, message} | nil, err
-- Waits as kubectl rollout status does: the spec observed, every replica
-- updated, no old replica left, every updated replica available.
function Client:rollout_status(name, opts)
  name, opts = named(name, "deployment", opts, 2, "rollout_status")
  local deadline = os.time() + (opts.timeout or 300)
  local last
  while true do
    local d, err = self:get("deployments", name, { namespace = opts.namespace })
    if not d then return nil, err end
    local spec, st, gen = d.spec or {}, d.status or {}, d.metadata.generation or 0
    local msg, done
    if gen <= (st.observedGeneration or 0) then
      for _, c in ipairs(st.conditions or {}) do
        if c.type == "Progressing" and c.reason == "ProgressDeadlineExceeded" then
          local e = new_error("k8s", ('k8s: deployment "%s" exceeded its progress deadline'):format(name))
          e.reason = "ProgressDeadlineExceeded"
          return nil, e
        end
      end
      local want, upd = spec.replicas or 1, st.updatedReplicas or 0
      if upd < want then
        msg = ('Waiting for deployment "%s" rollout to finish: %d out of %d new replicas have been updated...'):format(name, upd, want)
      elseif (st.replicas or 0) > upd then
        msg = ('Waiting for deployment "%s" rollout to finish: %d old replicas are pending termination...'):format(name, st.replicas - upd)
      elseif (st.availableReplicas or 0) < upd then
        msg = ('Waiting for deployment "%s" rollout to finish: %d of %d updated replicas are available...'):format(name, st.availableReplicas or 0, upd)
      else
        msg, done = ('deployment "%s" successfully rolled out'):format(name), true
      end
    else
      msg = "Waiting for deployment spec update to be observed..."
    end
    if done then return { done = true, message = msg } end
    if os.time() >= deadline then
      local e = new_error("timeout", ('k8s: rollout status of deployment "%s": timed out: %s'):format(name, msg))
      e.last = msg
      return nil, e
    end
    if msg ~= last and not opts.quiet then io.stderr:write(msg, "\n") end
    last = msg
    rb.sleep(opts.interval or 1)
  end
end

-- ---- plan text: what the dry run changed (rb.k8s_diff) ---------------------

local kdiff = require "rb.k8s_diff"
local show, is_list = kdiff.show, kdiff.is_list
M.diff = kdiff.diff

-- ---- fields: the before-state of a write, and expectations -----------------
--
-- A field path is a list of segments: a string is a map key, {name = N} the
-- item of a list merged by name (containers, env), as a strategic merge patch
-- addresses it. k8s.fields(obj, patch) is what `runbook undo` keeps of a
-- write: the value obj has at every field the patch sets (or absent = true);
-- k8s.restore_patch(fields) is the patch that puts them back; k8s.expect
-- refuses when the live object does not hold the values a caller expects.

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

local function copy(v)
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = copy(x) end
  return out
end

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

local function collect(obj, patch, strategic, path, out, in_item)
  for _, k in ipairs(sorted_keys(patch)) do
    if not (in_item and k == "name") then
      local p, pv = extend(path, k), patch[k]
      local ov = is_map(obj) and obj[k] or nil
      if strategic and named_list(pv) then
        for _, item in ipairs(pv) do
          local ip, cur = extend(p, { name = item.name }), named_item(ov, item.name)
          if item["$patch"] == "delete" or not cur then record(out, ip, cur)
          else collect(cur, item, true, ip, out, true) end
        end
      elseif is_map(pv) and next(pv) ~= nil and is_map(ov) then
        collect(ov, pv, strategic, p, out, false)
      else
        record(out, p, ov)
      end
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

--- k8s.at(obj, path) -> the value at path, or nil when absent (an item a
-- patch deletes with $patch = "delete", or null, is absent)
function M.at(obj, path)
  path = path_of(path, 2, "at")
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

--- k8s.restore_patch(fields) -> patch: the patch that sets each field back
-- to its value in fields (absent ones removed), for k8s.patch.
function M.restore_patch(fields)
  argcheck(type(fields) == "table", 1, "restore_patch", "fields expected")
  local body = {}
  for i, f in ipairs(fields) do
    local path = path_of(f.path, 1, "restore_patch")
    argcheck(f.absent or f.value ~= nil, 1, "restore_patch", ("field %d has neither value nor absent"):format(i))
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
  return body
end

-- Values equal as the API server means them: numbers by value (3 == 3.0),
-- quantities by amount ("0.5" == "500m"), maps as subsets of the live value.
local function same(live, want)
  if absent(want) then return absent(live) end
  if type(want) == "number" or type(live) == "number" then return tonumber(live) == tonumber(want) end
  if type(want) == "string" and type(live) == "string" then
    if live == want then return true end
    local ok1, a = pcall(M.quantity, live)
    local ok2, b = pcall(M.quantity, want)
    return ok1 and ok2 and a ~= nil and a == b
  end
  if type(want) == "table" and type(live) == "table" then
    if is_list(want) and not named_list(want) then
      if #want ~= #live then return false end
      for i = 1, #want do if not same(live[i], want[i]) then return false end end
      return true
    end
    if named_list(want) then
      for _, item in ipairs(want) do
        if not same(named_item(live, item.name), item) then return false end
      end
      return true
    end
    for _, k in ipairs(sorted_keys(want)) do if not same(live[k], want[k]) then return false end end
    return true
  end
  return live == want
end

--- client:expect(kind, name, conditions, {namespace}) -> object | nil, err
--- client:expect("kind/name", conditions, {namespace})
-- conditions: { {path = "spec.replicas" | {segments}, value = v | absent = true}, ... }.
-- Reads the object; err{kind = "changed", differs = {...}} names every field
-- that does not hold its expected value.
function Client:expect(kind, name, conditions, opts)
  if type(name) == "table" then name, conditions, opts = nil, name, conditions end   -- expect("kind/name", ...)
  kind, name = split_ref(kind, name)
  argcheck(type(kind) == "string" and type(name) == "string", 2, "expect", "kind and name expected")
  argcheck(type(conditions) == "table", 3, "expect", "conditions expected")
  opts = opts_of(opts, 4, "expect")
  local obj, err = self:get(kind, name, opts)
  if not obj then return nil, err end
  local differs = {}
  for _, c in ipairs(conditions) do
    local path = path_of(c.path, 3, "expect")
    local live = M.at(obj, path)
    local want = (not c.absent) and c.value or nil
    if not same(live, want) then
      differs[#differs + 1] = ("%s is %s, expected %s"):format(M.path_text(path),
        live == nil and "absent" or show(live), want == nil and "absent" or show(want))
    end
  end
  if #differs == 0 then return obj end
  local e = new_error("changed", ('k8s: %s "%s" is not as expected: %s'):format(kind, name, table.concat(differs, "; ")))
  e.differs = differs
  return nil, e
end

-- simulate(resp) for Client:request: what the server would make of the write.
-- note: what the caller knows that the server's answer does not say (prefixed).
local function simulator(before, what, note)
  local lead = note and (note .. "; ") or ""
  return function(resp)
    if resp.status >= 400 then return lead .. "refused by the server: " .. tostring(status_error(resp, what).message) end
    local after = decode(resp.body)
    if type(before) ~= "table" or type(after) ~= "table" then return lead .. ("server (dryRun=All): %s accepted"):format(what) end
    local d = M.diff(before, after)
    if #d == 0 then return lead .. "accepted by the server (dryRun=All): no change" end
    return lead .. "server (dryRun=All): " .. table.concat(d, "; ")
  end
end

-- ---- writes ------------------------------------------------------------------

local CONTENT = {
  strategic = "application/strategic-merge-patch+json",
  merge = "application/merge-patch+json",
  json = "application/json-patch+json",
}

-- JSON with object keys sorted: a value always encodes to the same bytes, so a
-- write's body (part of its identity at the gate) is the same in plan and apply.
local function canonical(v)
  if type(v) ~= "table" then return cjson.encode(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  local out = {}
  if #keys > 0 and #v == #keys then   -- a list
    for i = 1, #v do out[i] = canonical(v[i]) end
    return "[" .. table.concat(out, ",") .. "]"
  end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for i, k in ipairs(keys) do out[i] = cjson.encode(tostring(k)) .. ":" .. canonical(v[k]) end
  return "{" .. table.concat(out, ",") .. "}"
end
M.canonical_json = canonical

-- One gated write. The engine names it in the plan from the request itself
-- (method, path, body, credential): no label of ours is part of it.
-- o.undo: the write's before-state (see undo_record), handed to the gate
-- right before the request so the plan and the intent event keep it.
local before_state = require "rb._before"
local function write(c, method, path, body, o)
  local text = body
  if type(body) == "table" then text = canonical(body) end
  if o.undo then before_state.set(o.undo) end
  local resp, err = raw_request(c, method, path, {
    body = text, content_type = o.content_type, timeout = o.timeout,
    simulate = simulator(o.before, o.what, o.note),
  })
  if not resp then return nil, err end
  if resp.status >= 400 then return nil, status_error(resp, o.what) end
  local v = decode(resp.body) or {}
  if resp.planned then
    if type(v) == "table" then v.planned = true end
  end
  return v
end

-- What `runbook undo` needs of a patch: the object, and the values its
-- fields had before (k8s.fields), or why it cannot be inverted (cannot).
local function undo_record(c, e, name, opts, extra)
  local r = { binding = "k8s", resource = qualified(e), name = name,
    namespace = e.namespaced and ns_of(c, opts) or nil }
  for k, v in pairs(extra) do r[k] = v end
  return r
end

local function patch_undo(c, e, name, opts, before, body, ptype, sub)
  if ptype == "json" then
    return undo_record(c, e, name, opts, { cannot = "a JSON patch (RFC 6902) is not inverted; use a strategic or merge patch" })
  end
  return undo_record(c, e, name, opts, { subresource = sub, type = ptype,
    fields = M.fields(before, body, { type = ptype }) })
end

--- client:scale(deployment, replicas, {namespace, kind}) -> Scale | nil, err
-- PATCH of the scale subresource (as kubectl scale).
function Client:scale(name, n, opts)
  local kind
  kind, name = split_ref(name, nil, "deployments")
  argcheck(type(name) == "string", 1, "scale", "deployment name expected")
  n = math.tointeger(tonumber(n))   -- params may arrive as "5" or 5.0
  argcheck(n and n >= 0, 2, "scale", "replicas must be an integer >= 0")
  opts = opts_of(opts, 3, "scale")
  local e, path = locate(self, opts.kind or kind, name, opts, "scale")
  if not e then return nil, path end
  local before, err = call(self, "GET", path, nil, ('get scale of %s "%s"'):format(qualified(e), name))
  if not before then return nil, err end
  local body, cur = { spec = { replicas = n } }, decode(before.body)
  return write(self, "PATCH", path, body, {
    content_type = CONTENT.merge, before = cur,
    what = ('scale %s "%s"'):format(qualified(e), name),
    undo = patch_undo(self, e, name, opts, cur, body, "merge", "scale"),
  })
end

local SUBRESOURCES = { scale = true, status = true }

-- The object (or its subresource) as the server has it now: decoded | nil, err
local function current(c, e, path, name, sub)
  local what = ('get %s%s "%s"'):format(qualified(e), sub and ("/" .. sub) or "", name)
  local resp, err = call(c, "GET", path, nil, what)
  if not resp then return nil, err end
  local v = decode(resp.body)
  if type(v) ~= "table" then return nil, new_error("parse", "k8s: " .. what .. ": answer is not JSON") end
  return v
end

--- client:patch(kind, name, body, {type = "strategic"|"merge"|"json", subresource = "scale"|"status", namespace})
--   -> object | nil, err (kubectl patch --subresource)
-- body: a table (encoded as JSON) or a JSON string.
function Client:patch(kind, name, body, opts)
  argcheck(type(kind) == "string", 1, "patch", "resource type expected")
  argcheck(type(name) == "string", 2, "patch", "name expected")
  argcheck(type(body) == "table" or type(body) == "string", 3, "patch", "patch body (table or JSON) expected")
  opts = opts_of(opts, 4, "patch")
  local ptype, sub = opts.type or "strategic", opts.subresource
  argcheck(CONTENT[ptype], 4, "patch", "type must be strategic, merge or json")
  argcheck(sub == nil or SUBRESOURCES[sub], 4, "patch", "subresource must be scale or status")
  if type(body) == "string" then
    local v = decode(body)
    argcheck(type(v) == "table", 3, "patch", "body is not JSON")
    body = v
  end
  local e, path = locate(self, kind, name, opts, sub)
  if not e then return nil, path end
  if sub and not e.subresources[sub] then
    local u = new_error("k8s", ('k8s: patch: %s has no subresource "%s"'):format(qualified(e), sub))
    u.reason = "NotFound"
    return nil, u
  end
  local before, err = current(self, e, path, name, sub)
  if not before then return nil, err end
  return write(self, "PATCH", path, body, {
    content_type = CONTENT[ptype], before = before,
    what = ('patch %s%s "%s"'):format(qualified(e), sub and ("/" .. sub) or "", name), timeout = opts.timeout,
    undo = patch_undo(self, e, name, opts, before, body, ptype, sub),
  })
end

-- The pod template's containers that a kubectl -c option selects (all by default).
local function containers_of(obj, want, fname)
  local spec = obj.spec and obj.spec.template and obj.spec.template.spec
  local names = {}
  for _, c in ipairs(spec and spec.containers or {}) do
    if want == nil or want == "*" or c.name == want then names[#names + 1] = c.name end
  end
  if #names == 0 then
    local e = new_error("k8s", ('k8s: %s: no container%s in %s "%s"'):format(fname,
      want and (' "' .. want .. '"') or "", obj.kind or "object", obj.metadata.name))
    e.reason = "NotFound"
    return nil, e
  end
  return names
end

-- A strategic-merge patch of the template's containers: each gets
-- build(name) (nil: left alone). only: container names that must exist.
local function template_patch(self, fname, name, opts, build, only)
  local e, path = locate(self, "deployments", name, opts)
  if not e then return nil, path end
  local before, err = self:get("deployments", name, opts)
  if not before then return nil, err end
  for _, want in ipairs(only or {}) do
    local ok, cerr = containers_of(before, want, fname)
    if not ok then return nil, cerr end
  end
  local names
  names, err = containers_of(before, opts.container, fname)
  if not names then return nil, err end
  local list = {}
  for _, n in ipairs(names) do list[#list + 1] = build(n) end
  local body = { spec = { template = { spec = { containers = list } } } }
  return write(self, "PATCH", path, body, {
    content_type = CONTENT.strategic, before = before,
    what = ('%s deployment "%s"'):format(fname, name), timeout = opts.timeout,
    undo = patch_undo(self, e, name, opts, before, body, "strategic"),
  })
end

-- vars: {NAME = "value" | false (remove)}, or a list of "NAME=value" / "NAME-" / {name, value}
-- kept in order (as kubectl's arguments are); a map is taken in name order.
local function env_list(vars)
  local out = {}
  if #vars > 0 then
    for _, v in ipairs(vars) do
      if type(v) == "table" then out[#out + 1] = { name = v.name, value = v.value }
      else
        local k, val = tostring(v):match("^([^=]+)=(.*)$")
        if k then out[#out + 1] = { name = k, value = val }
        else
          local rm = tostring(v):match("^(.+)%-$")
          if not rm then return nil, tostring(v) end
          out[#out + 1] = { name = rm, remove = true }
        end
      end
    end
  else
    local keys = {}
    for k in pairs(vars) do keys[#keys + 1] = k end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local v = vars[k]
      if v == false then out[#out + 1] = { name = k, remove = true }
      else out[#out + 1] = { name = k, value = tostring(v) } end
    end
  end
  return out
end

--- client:set_env(deployment, vars, {container, namespace}) -> object | nil, err
function Client:set_env(name, vars, opts)
  name, opts = named(name, "deployment", opts, 3, "set_env")
  argcheck(type(vars) == "table" and next(vars) ~= nil, 2, "set_env", "variables expected")
  local list, bad = env_list(vars)
  argcheck(list, 2, "set_env", "NAME=value or NAME- expected, got " .. tostring(bad))
  return template_patch(self, "set_env", name, opts, function(cname)
    local env = {}
    for _, v in ipairs(list) do
      if v.remove then env[#env + 1] = { name = v.name, ["$patch"] = "delete" }
      else env[#env + 1] = { name = v.name, value = v.value } end
    end
    return { name = cname, env = env }
  end)
end

--- client:set_resources(deployment, {limits = {cpu, memory}, requests = {...}}, {container, namespace})
function Client:set_resources(name, res, opts)
  name, opts = named(name, "deployment", opts, 3, "set_resources")
  argcheck(type(res) == "table" and (res.limits or res.requests), 2, "set_resources", "{limits, requests} expected")
  local r = {}
  for _, k in ipairs { "limits", "requests" } do
    if res[k] then
      r[k] = {}
      for rk, v in pairs(res[k]) do r[k][rk] = tostring(v) end
    end
  end
  return template_patch(self, "set_resources", name, opts, function(cname)
    return { name = cname, resources = r }
  end)
end

--- client:set_image(deployment, image | {container = image}, {container, namespace}) -> object | nil, err
-- kubectl set image: a string sets every container's image (or opts.container's);
-- a map sets the image of each container it names.
function Client:set_image(name, images, opts)
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
  return template_patch(self, "set_image", name, opts, function(cname)
    local img = type(images) == "string" and images or images[cname]
    return img and { name = cname, image = img } or nil
  end, only)
end

-- spec.paused of a deployment (kubectl rollout pause / resume).
local function set_paused(self, fname, name, opts, paused)
  name, opts = named(name, "deployment", opts, 2, fname)
  local e, path = locate(self, "deployments", name, opts)
  if not e then return nil, path end
  local before, err = self:get("deployments", name, opts)
  if not before then return nil, err end
  local body = { spec = { paused = paused } }
  return write(self, "PATCH", path, body, {
    content_type = CONTENT.strategic, before = before,
    what = ('%s deployment "%s"'):format((fname:gsub("_", " ")), name), timeout = opts.timeout,
    undo = patch_undo(self, e, name, opts, before, body, "strategic"),
  })
end

--- client:rollout_pause(deployment, {namespace}) / client:rollout_resume(deployment, {namespace}) -> object | nil, err
function Client:rollout_pause(name, opts) return set_paused(self, "rollout_pause", name, opts, true) end
function Client:rollout_resume(name, opts) return set_paused(self, "rollout_resume", name, opts, false) end

-- ---- rollout history and undo (kubectl rollout history / undo) ------------

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
  return { revision = math.tointeger(tonumber(a[REVISION])), replicaset = rs.metadata.name,
    change_cause = a[CHANGE_CAUSE], images = images, earlier = earlier,
    replicas = math.tointeger(rs.spec.replicas or 0), template = rs.spec.template, annotations = a }
end

--- client:rollout_history(deployment, {namespace}) -> {{revision, replicaset, change_cause,
--   images, earlier, replicas, current}, ...} (oldest first), deployment | nil, err
function Client:rollout_history(name, opts)
  name, opts = named(name, "deployment", opts, 2, "rollout_history")
  local d, err = self:get("deployments", name, opts)
  if not d then return nil, err end
  local rss
  rss, err = self:get("replicasets", nil, { namespace = opts.namespace, selector = selector_text(d.spec.selector) })
  if not rss then return nil, err end
  local cur = math.tointeger(tonumber(annotations(d)[REVISION]))
  local hist = {}
  for _, rs in ipairs(rss) do
    local h = owned_by(rs, d.metadata.uid) and revision_of(rs)
    if h and h.revision then
      h.current = h.revision == cur
      hist[#hist + 1] = h
    end
  end
  table.sort(hist, function(a, b) return a.revision < b.revision end)
  return hist, d
end

local function without_hash(template)
  local t = copy(template)
  if type(t.metadata) == "table" and type(t.metadata.labels) == "table" then
    t.metadata.labels["pod-template-hash"] = nil
  end
  return t
end

local function images_text(images)
  local out = {}
  for k, v in pairs(images) do out[#out + 1] = k .. "=" .. v end
  table.sort(out)
  return table.concat(out, ",")
end

-- Which revision an undo goes to, and whether it re-ships the release a
-- rollback just left: {from, to, reship} | nil, err
local function undo_target(d, hist, to)
  local by, latest = {}, nil
  for _, h in ipairs(hist) do by[h.revision] = h; latest = h end
  local from = by[math.tointeger(tonumber(annotations(d)[REVISION]))] or latest
  local target
  if to then target = by[to]
  else
    for _, h in ipairs(hist) do if h.revision < (from and from.revision or 0) then target = h end end
  end
  if not from or not target then
    local u = new_error("k8s", to and ('k8s: rollout undo deployment "%s": unable to find specified revision %d in history'):format(d.metadata.name, to)
      or ('k8s: rollout undo deployment "%s": no rollout history found (no previous revision)'):format(d.metadata.name))
    u.reason = "NotFound"
    return nil, u
  end
  -- the release before the current one, when the current one came back by a rollback
  local left
  for _, h in ipairs(hist) do if h.revision < from.revision then left = h end end
  return { from = from, to = target, reship = #from.earlier > 0 and left ~= nil and target.revision == left.revision }
end

-- kubectl's rollback patch: the revision's template (without pod-template-hash)
-- and its annotations (the deployment keeps the ones UNDO_SKIP names).
local function undo_patch(d, to)
  local ann = {}
  for k, v in pairs(annotations(d)) do if UNDO_SKIP[k] then ann[k] = v end end
  for k, v in pairs(to.annotations) do if not UNDO_SKIP[k] then ann[k] = v end end
  return {
    { op = "replace", path = "/spec/template", value = without_hash(to.template) },
    { op = "replace", path = "/metadata/annotations", value = ann },
  }
end

--- client:rollout_undo(deployment, {to_revision, reship, namespace}) -> object | {skipped, revision, message} | nil, err
-- kubectl rollout undo [--to-revision=N]. A write (dry-run in plans). When
-- the current release came back by a rollback, undoing again would re-ship
-- the release that rollback left (the bad one): refused with err{kind =
-- "guard", reason = "UndoOfUndo"} unless reship = true, and the plan says so.
function Client:rollout_undo(name, opts)
  name, opts = named(name, "deployment", opts, 2, "rollout_undo")
  local to = opts.to_revision
  argcheck(to == nil or (math.tointeger(to) and to > 0), 2, "rollout_undo", "to_revision must be a positive integer")
  local e, path = locate(self, "deployments", name, opts)
  if not e then return nil, path end
  local hist, d = self:rollout_history(name, opts)
  if not hist then return nil, d end
  local t, err = undo_target(d, hist, to and math.tointeger(to))
  if not t then return nil, err end
  if M.diff(without_hash(t.to.template), d.spec.template)[1] == nil then
    return { skipped = true, revision = t.to.revision,
      message = ("skipped rollback (current template already matches revision %d)"):format(t.to.revision) }
  end
  local note = ("rollback of deployment %q from revision %d (%s) to revision %d (%s)"):format(name,
    t.from.revision, images_text(t.from.images), t.to.revision, images_text(t.to.images))
  if t.reship then
    if not opts.reship then
      local g = new_error("guard", ("k8s: rollout undo deployment %q: revision %d is the release the rollback to revision %d "
        .. "left; undoing the undo would ship it again (pass to_revision = an older good revision, or reship = true)")
        :format(name, t.to.revision, t.from.revision))
      g.reason, g.revision, g.current = "UndoOfUndo", t.to.revision, t.from.revision
      return nil, g
    end
    note = note .. (" -- RE-SHIPS revision %d, the release a rollback left (reship = true)"):format(t.to.revision)
  end
  return write(self, "PATCH", path, undo_patch(d, t.to), {
    content_type = CONTENT.json, before = d, note = note, timeout = opts.timeout,
    what = ('rollout undo deployment "%s" to revision %d'):format(name, t.to.revision),
    undo = undo_record(self, e, name, opts, { cannot = ("a rollback is undone by rollout_undo(%q, {to_revision = %d})")
      :format(name, t.from.revision) }),
  })
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

--- client:rollout_restart(deployment, {at, namespace}) -> object | nil, err
-- Sets the template annotation kubectl.kubernetes.io/restartedAt. Its value
-- is opts.at when given, else the time this generation's restart was first
-- planned (RFC 3339, UTC; restart_clock), so plan and apply send the same body.
function Client:rollout_restart(name, opts)
  name, opts = named(name, "deployment", opts, 2, "rollout_restart")
  argcheck(opts.at == nil or type(opts.at) == "string", 2, "rollout_restart", "at must be an RFC 3339 time")
  local e, path = locate(self, "deployments", name, opts)
  if not e then return nil, path end
  local before, err = self:get("deployments", name, opts)
  if not before then return nil, err end
  local key = restart_key(self, before)
  local at = opts.at or restart_clock(key)
  local body = { spec = { template = { metadata = { annotations = {
    ["kubectl.kubernetes.io/restartedAt"] = at } } } } }
  local res, werr = write(self, "PATCH", path, body, {
    content_type = CONTENT.strategic, before = before,
    what = ('rollout restart deployment "%s"'):format(name), timeout = opts.timeout,
    undo = undo_record(self, e, name, opts, { cannot = "the pods were restarted; setting the annotation back would restart them again" }),
  })
  if res and not res.planned then restarts[key] = nil end
  return res, werr
end

--- client:delete(kind, name, {namespace, wait = true, timeout = 60, grace_period}) -> {deleted, uid, planned?} | nil, err
-- Background propagation, as kubectl; waits until the object is gone
-- unless wait = false.
function Client:delete(kind, name, opts)
  kind, name = split_ref(kind, name)
  argcheck(type(kind) == "string" and type(name) == "string", 2, "delete", "kind and name expected")
  opts = opts_of(opts, 3, "delete")
  local e, path = locate(self, kind, name, opts)
  if not e then return nil, path end
  local body = { kind = "DeleteOptions", apiVersion = "v1", propagationPolicy = "Background",
    gracePeriodSeconds = opts.grace_period }
  local what = ('delete %s "%s"'):format(qualified(e), name)
  local res, err = write(self, "DELETE", path, body, {
    content_type = "application/json", what = what,
    timeout = opts.timeout,
  })
  if not res then return nil, err end
  local uid = res.metadata and res.metadata.uid or (res.details and res.details.uid)
  local out = { deleted = name, kind = e.kind, uid = uid, planned = res.planned }
  if res.planned or opts.wait == false then return out end
  local deadline = os.time() + (opts.timeout or 60)
  while true do
    local cur, gerr = self:get(kind, name, opts)
    if not cur then
      if gerr.reason == "NotFound" then return out end
      return nil, gerr
    end
    if uid and cur.metadata.uid ~= uid then return out end   -- a new object under the same name
    if os.time() >= deadline then
      return nil, new_error("timeout", ("k8s: %s: still there after %d s"):format(what, opts.timeout or 60))
    end
    rb.sleep(0.5)
  end
end

--- client:exec(pod, argv, {container, stdin, namespace, timeout = 60}) -> {stdout, stderr, exit_code} | nil, err
-- Over WebSocket (v5.channel.k8s.io, else v4). A write that cannot be
-- simulated: in plan mode it returns {planned = true}.
function Client:exec(pod, argv, opts)
  local _
  _, pod = split_ref(pod, nil, "pod")
  argcheck(type(pod) == "string", 1, "exec", "pod name expected")
  if type(argv) == "string" then argv = { argv } end
  argcheck(type(argv) == "table" and #argv > 0, 2, "exec", "command (list of strings) expected")
  opts = opts_of(opts, 3, "exec")
  argcheck(opts.stdin == nil or type(opts.stdin) == "string", 3, "exec", "stdin must be a string")
  local ns = ns_of(self, opts)
  local q = query_string {
    command = argv, container = opts.container, stdout = "true", stderr = "true",
    stdin = opts.stdin and "true" or nil,
  }
  local path = "/api/v1/namespaces/" .. escape(ns) .. "/pods/" .. escape(pod) .. "/exec"
  local r, err = self:exec_ws(path, q, { stdin = opts.stdin, timeout = opts.timeout })
  if not r then return nil, err end
  if r.planned then return { planned = true } end
  local what = ('exec in pod "%s"'):format(pod)
  if r.http_status ~= 101 then
    return nil, status_error({ status = r.http_status, body = r.body or "" }, what)
  end
  local st = decode(r.status_json) or {}
  local out = { stdout = r.stdout, stderr = r.stderr, exit_code = 0, protocol = r.protocol }
  if st.status == "Failure" then
    local code
    for _, c in ipairs(st.details and st.details.causes or {}) do
      if c.reason == "ExitCode" then code = tonumber(c.message) end
    end
    if not code then
      local e = status_error({ status = st.code or 500, body = r.status_json }, what)
      return nil, e
    end
    out.exit_code = code
  end
  return out
end

--- client:raw(method, path, {query, body, content_type, accept}) -> response | nil, err
-- kubectl get --raw and friends: GET is a read, other methods writes.
function Client:raw(method, path, opts)
  argcheck(type(method) == "string", 1, "raw", "method expected")
  argcheck(type(path) == "string", 2, "raw", "path expected")
  local p, q = path:match("^([^?]*)%??(.*)$")
  opts = opts_of(opts, 3, "raw")
  local o = {}
  for k, v in pairs(opts) do o[k] = v end
  if q ~= "" then o.query = o.query and (o.query .. "&" .. q) or q end
  return call(self, method:upper(), p, o)
end

-- ---- kubectl-like tables (rb.k8s_table) -----------------------------------

local ktable = require "rb.k8s_table"
M.age, M.table = ktable.age, ktable.table

--- client:apply(manifest, {namespace}) -> { {action, kind, name, object}, ... } | nil, err
-- kubectl apply -f, for manifests a runbook ships: manifest is YAML or JSON
-- text (one document holding an object or a v1 List) or a Lua table. Each
-- object that does not exist is created (POST); one that exists gets the
-- manifest as a merge patch (no last-applied bookkeeping: fields the manifest
-- drops are left alone). Both are writes, dry-run in plans.
function Client:apply(manifest, opts)
  argcheck(type(manifest) == "table" or type(manifest) == "string", 1, "apply", "manifest (text or table) expected")
  opts = opts_of(opts, 2, "apply")
  if type(manifest) == "string" then
    local v, err = require("rb.yaml").decode(manifest)
    if not v then return nil, err end
    manifest = v
  end
  local objects = manifest.kind == "List" and manifest.items or { manifest }
  local out = {}
  for i, obj in ipairs(objects) do
    argcheck(type(obj) == "table" and type(obj.kind) == "string" and type(obj.metadata) == "table"
      and type(obj.metadata.name) == "string", 1, "apply", ("object %d needs kind and metadata.name"):format(i))
    local kind = obj.kind:lower() .. (obj.apiVersion and obj.apiVersion:match("^(.+)/[^/]+$")
      and ("." .. obj.apiVersion:match("^(.+)/[^/]+$")) or "")
    local o = { namespace = obj.metadata.namespace or opts.namespace }
    local e, err = self:resource(kind)
    if not e then return nil, err end
    local existing, gerr = call(self, "GET", path_for(self, e, obj.metadata.name, ns_of(self, o)), nil, "apply")
    if not existing and gerr.status ~= 404 then return nil, gerr end
    local res
    if existing then
      res, err = self:patch(kind, obj.metadata.name, obj, { type = "merge", namespace = o.namespace })
    else
      res, err = write(self, "POST", path_for(self, e, nil, ns_of(self, o)), obj, {
        content_type = "application/json",
        what = ('create %s "%s"'):format(qualified(e), obj.metadata.name),
      })
    end
    if not res then return nil, err end
    out[i] = { action = existing and "configured" or "created", kind = qualified(e), name = obj.metadata.name, object = res }
  end
  return out
end

-- Module-level functions: the same calls on the run's client.
for _, fname in ipairs { "get", "describe", "logs", "top_pods", "top_nodes", "proxy_get", "rollout_status",
  "scale", "patch", "set_env", "set_resources", "set_image", "rollout_pause", "rollout_resume", "rollout_restart",
  "rollout_history", "rollout_undo",
  "delete", "exec", "raw", "resource", "apply", "expect" } do
  local method = Client[fname]
  M[fname] = function(...)
    local c, err = run_client()
    if not c then return nil, err end
    return method(c, ...)
  end
end

return M
