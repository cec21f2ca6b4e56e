-- rb.rbac — least-privilege Kubernetes RBAC for a book, derived from a static
-- scan of its Lua files (sections and lib/) for rb.k8s calls (and
-- rb.pprof.fetch, which reaches pods through the API server's proxy), plus
-- the kinds in its manifests/ for k8s.apply. Pure Lua over text: nothing is
-- loaded or run.
--
-- Reads (get, list, logs, top, proxy, describe, rollout_status) go to the
-- Role NAME-investigate; writes (scale, patch, set_*, rollout_*, delete,
-- apply) to NAME-resolve, with the get their plan's before-state needs;
-- exec goes where the step calling it is (an investigate step's exec is a
-- read the book declares; otherwise resolve). Cluster-scoped reads (nodes)
-- go to a ClusterRole. What a static scan cannot name (a kind held in a
-- variable, raw(), get_many()) is reported as a warning with file:line.
local M = {}

-- kind as kubectl accepts it -> group, resource, cluster-scoped
local KINDS = {
  pods = { "", "pods" }, po = { "", "pods" }, pod = { "", "pods" },
  services = { "", "services" }, svc = { "", "services" }, service = { "", "services" },
  endpoints = { "", "endpoints" }, ep = { "", "endpoints" },
  events = { "", "events" }, ev = { "", "events" }, event = { "", "events" },
  configmaps = { "", "configmaps" }, cm = { "", "configmaps" }, configmap = { "", "configmaps" },
  secrets = { "", "secrets" }, secret = { "", "secrets" },
  persistentvolumeclaims = { "", "persistentvolumeclaims" }, pvc = { "", "persistentvolumeclaims" },
  serviceaccounts = { "", "serviceaccounts" }, sa = { "", "serviceaccounts" },
  nodes = { "", "nodes", true }, no = { "", "nodes", true }, node = { "", "nodes", true },
  namespaces = { "", "namespaces", true }, ns = { "", "namespaces", true },
  deployments = { "apps", "deployments" }, deploy = { "apps", "deployments" }, deployment = { "apps", "deployments" },
  replicasets = { "apps", "replicasets" }, rs = { "apps", "replicasets" },
  statefulsets = { "apps", "statefulsets" }, sts = { "apps", "statefulsets" },
  daemonsets = { "apps", "daemonsets" }, ds = { "apps", "daemonsets" },
  jobs = { "batch", "jobs" }, job = { "batch", "jobs" }, cronjobs = { "batch", "cronjobs" }, cj = { "batch", "cronjobs" },
  networkpolicies = { "networking.k8s.io", "networkpolicies" }, netpol = { "networking.k8s.io", "networkpolicies" },
  ingresses = { "networking.k8s.io", "ingresses" }, ing = { "networking.k8s.io", "ingresses" },
  horizontalpodautoscalers = { "autoscaling", "horizontalpodautoscalers" }, hpa = { "autoscaling", "horizontalpodautoscalers" },
  poddisruptionbudgets = { "policy", "poddisruptionbudgets" }, pdb = { "policy", "poddisruptionbudgets" },
}
-- manifest kind -> the same
local MANIFEST_KIND = {
  Pod = "pods", Service = "services", ConfigMap = "configmaps", Secret = "secrets", Deployment = "deployments",
  StatefulSet = "statefulsets", DaemonSet = "daemonsets", Job = "jobs", CronJob = "cronjobs",
  NetworkPolicy = "networkpolicies", Ingress = "ingresses", HorizontalPodAutoscaler = "hpa",
  PodDisruptionBudget = "pdb", ServiceAccount = "serviceaccounts", PersistentVolumeClaim = "pvc",
}

local function kind_of(k)
  if not k then return nil end
  k = k:lower():gsub("/.*$", "")
  local e = KINDS[k]
  if e then return e[1], e[2], e[3] end
  local res, group = k:match("^([%w-]+)%.([%w.-]+)$")
  if res then return group, res, false end
end

local DEPLOY = { kind = "deployments" }
-- function -> list of { kind | group+resource, verbs, write }
local FN = {
  get = function(c) return { { kind = c.kind, verbs = c.has_name and { "get" } or { "list" } } } end,
  expect = function(c) return { { kind = c.kind, verbs = { "get" } } } end,
  describe = function(c) return { { kind = c.kind, verbs = { "get" } }, { kind = "events", verbs = { "list" } } } end,
  logs = function() return { { group = "", resource = "pods/log", verbs = { "get" } } } end,
  top_pods = function() return { { group = "metrics.k8s.io", resource = "pods", verbs = { "list" } } } end,
  top_nodes = function() return { { group = "metrics.k8s.io", resource = "nodes", verbs = { "list" }, cluster = true },
    { group = "", resource = "nodes", verbs = { "list" }, cluster = true } } end,
  proxy_get = function(c)
    local svc = c.first and c.first:match("^svc/")
    return { { group = "", resource = svc and "services/proxy" or "pods/proxy", verbs = { "get" } } }
  end,
  rollout_status = function() return { { kind = "deployments", verbs = { "get" } } } end,
  exec = function() return { { group = "", resource = "pods/exec", verbs = { "create", "get" }, exec = true },
    { group = "", resource = "pods", verbs = { "get" }, exec = true } } end,
  scale = function() return { { group = "apps", resource = "deployments/scale", verbs = { "get", "patch" }, write = true } } end,
  patch = function(c) return { { kind = c.kind, verbs = { "get", "patch" }, write = true } } end,
  delete = function(c) return { { kind = c.kind, verbs = { "get", "delete" }, write = true } } end,
  apply = function() return { { manifests = true, write = true } } end,
}
for _, f in ipairs { "set_env", "set_resources", "set_image", "rollout_restart", "rollout_pause", "rollout_resume" } do
  FN[f] = function() return { { kind = DEPLOY.kind, verbs = { "get", "patch" }, write = true } } end
end
local NOT_STATIC = { raw = "raw() takes any path", get_many = "get_many() takes any paths" }

-- The argument text after "(" or "{": first string literal and whether a second argument names an object.
local function args_of(text, open)
  if open == "{" then return nil, false end
  local rest = text:match("^%s*(.*)")
  local first, after = rest:match('^"([^"]*)"%s*(.*)')
  if not first then first, after = rest:match("^'([^']*)'%s*(.*)") end
  if not first then
    after = rest:match("^[^,)]*(.*)")   -- a variable or expression: no literal
  end
  local second = after and after:match("^,%s*(.)") or nil
  local second_word = after and after:match("^,%s*([%w_]+)")
  local has_name = second ~= nil and second ~= "{" and second_word ~= "nil"
  return first, has_name, first == nil
end

local function line_at(text, pos)
  local n = 1
  for _ in text:sub(1, pos):gmatch("\n") do n = n + 1 end
  return n
end

-- Step openers in a section file: sorted {pos, kind}.
local function steps_of(text)
  local out = {}
  for pos, kind in text:gmatch("():(%a+)%s*%(") do
    if kind == "investigate" or kind == "resolve" then out[#out + 1] = { pos = pos, kind = kind } end
  end
  return out
end

local function step_at(steps, pos)
  local kind
  for _, s in ipairs(steps) do if s.pos < pos then kind = s.kind end end
  return kind
end

--- scan(name, text) -> calls: { {fn, kind, first, has_name, line, step, file} }, warnings
function M.scan(name, text)
  local calls, warns = {}, {}
  local steps = steps_of(text)
  text:gsub("()%-%-[^\n]*", function() end)
  for pos, fn, open in text:gmatch("()k8s%.([%a_]+)%s*([({])") do
    local line_start = text:sub(1, pos):match(".*\n()") or 1
    if not text:sub(line_start, pos):match("%-%-") then   -- not in a comment
      local first, has_name, dynamic = args_of(text:sub(pos + #fn + 5, pos + #fn + 300), open)
      local c = { fn = fn, first = first, has_name = has_name, line = line_at(text, pos), file = name,
        step = step_at(steps, pos) }
      if NOT_STATIC[fn] then
        warns[#warns + 1] = ("%s:%d: k8s.%s: %s; add its rules by hand"):format(name, c.line, fn, NOT_STATIC[fn])
      elseif FN[fn] then
        c.kind = first
        if dynamic and (fn == "get" or fn == "patch" or fn == "delete" or fn == "describe" or fn == "expect") then
          warns[#warns + 1] = ("%s:%d: k8s.%s: the kind is not a literal; add its rules by hand"):format(name, c.line, fn)
        else
          calls[#calls + 1] = c
        end
      end
    end
  end
  for pos in text:gmatch("()pprof%.fetch%s*[({]") do
    calls[#calls + 1] = { fn = "proxy_get", file = name, line = line_at(text, pos), step = step_at(steps, pos),
      via = "pprof.fetch" }
  end
  return calls, warns
end

--- manifest_kinds(text) -> { "Kind", ... } of every document's top-level kind
function M.manifest_kinds(text)
  local out = {}
  for k in ("\n" .. text):gmatch("\nkind:%s*([%w]+)") do out[#out + 1] = k end
  return out
end

local function add(rules, group, resource, verbs, src)
  local key = group .. "|" .. resource
  local r = rules[key] or { group = group, resource = resource, verbs = {}, src = {} }
  rules[key] = r
  for _, v in ipairs(verbs) do r.verbs[v] = true end
  r.src[src] = true
end

--- rules(calls, manifest_kinds) -> { ns_read, cluster_read, ns_write }, warnings
function M.rules(calls, mkinds)
  local out = { read = {}, cluster = {}, write = {} }
  local warns = {}
  for _, c in ipairs(calls) do
    local src = ("%s:%d %s"):format(c.file, c.line, c.via or ("k8s." .. c.fn))
    for _, need in ipairs(FN[c.fn](c)) do
      local targets = {}
      if need.manifests then
        for _, k in ipairs(mkinds) do targets[#targets + 1] = MANIFEST_KIND[k] or k:lower() .. "s" end
        if #targets == 0 then warns[#warns + 1] = src .. ": apply with no manifests/ to read kinds from" end
      else
        targets[1] = need.resource and "" or need.kind or "?"
      end
      for _, t in ipairs(targets) do
        local group, resource, cluster = need.group, need.resource, need.cluster
        if not resource then group, resource, cluster = kind_of(t) end
        if not resource then
          warns[#warns + 1] = ("%s: unknown kind '%s'; add its rules by hand"):format(src, tostring(t))
        else
          local verbs = need.manifests and { "get", "create", "patch" } or need.verbs
          local write = need.write or (need.exec and c.step ~= "investigate")
          add(cluster and out.cluster or write and out.write or out.read, group, resource, verbs, src)
        end
      end
    end
  end
  return out, warns
end

local function sorted(set)
  local l = {}
  for k in pairs(set) do l[#l + 1] = k end
  table.sort(l)
  return l
end

local function rules_yaml(rules)
  local lines, keys = {}, sorted(rules)
  if #keys == 0 then return { "rules: []" } end
  lines[1] = "rules:"
  for _, k in ipairs(keys) do
    local r = rules[k]
    for _, s in ipairs(sorted(r.src)) do lines[#lines + 1] = "  # " .. s end
    lines[#lines + 1] = ('  - apiGroups: ["%s"]'):format(r.group)
    lines[#lines + 1] = ('    resources: ["%s"]'):format(r.resource)
    lines[#lines + 1] = ('    verbs: ["%s"]'):format(table.concat(sorted(r.verbs), '", "'))
  end
  return lines
end

local function object(kind, name, ns, book, rules, comment)
  local l = { "---", comment, "apiVersion: rbac.authorization.k8s.io/v1", "kind: " .. kind, "metadata:",
    "  name: " .. name }
  if ns then l[#l + 1] = "  namespace: " .. ns end
  l[#l + 1] = "  labels: { app.kubernetes.io/name: runbook, runbook.dev/book: " .. book .. " }"
  for _, x in ipairs(rules_yaml(rules)) do l[#l + 1] = x end
  return table.concat(l, "\n")
end

local function binding(kind, role_kind, name, ns, sa, sa_ns)
  local l = { "---", "apiVersion: rbac.authorization.k8s.io/v1", "kind: " .. kind, "metadata:", "  name: " .. name }
  if ns then l[#l + 1] = "  namespace: " .. ns end
  l[#l + 1] = "  labels: { app.kubernetes.io/name: runbook }"
  l[#l + 1] = "roleRef: { apiGroup: rbac.authorization.k8s.io, kind: " .. role_kind .. ", name: " .. name .. " }"
  l[#l + 1] = "subjects: [ { kind: ServiceAccount, name: " .. sa .. ", namespace: " .. sa_ns .. " } ]"
  return table.concat(l, "\n")
end

--- render(book_id, rules, o) -> YAML text; o = {namespace, service_account, sa_namespace, bind = true}
function M.render(book, r, o)
  local base = "runbook-" .. book
  local docs = { ("# Generated by `runbook rbac %s` from a static scan of the book's rb.k8s calls."):format(book) }
  docs[#docs + 1] = object("Role", base .. "-investigate", o.namespace, book, r.read,
    "# Reads the investigate steps make (bound to serve's service account below).")
  if next(r.cluster) then
    docs[#docs + 1] = object("ClusterRole", base .. "-investigate-cluster", nil, book, r.cluster,
      "# Cluster-scoped reads (nodes).")
  end
  docs[#docs + 1] = object("Role", base .. "-resolve", o.namespace, book, r.write,
    "# Writes of the resolve steps. NOT bound here: an operator binds it deliberately, e.g.\n"
    .. ("#   kubectl -n %s create rolebinding %s-resolve --role=%s-resolve --serviceaccount=%s:NAME")
      :format(o.namespace, base, base, o.sa_namespace))
  if o.bind then
    docs[#docs + 1] = binding("RoleBinding", "Role", base .. "-investigate", o.namespace, o.service_account,
      o.sa_namespace)
    if next(r.cluster) then
      docs[#docs + 1] = binding("ClusterRoleBinding", "ClusterRole", base .. "-investigate-cluster", nil,
        o.service_account, o.sa_namespace)
    end
  end
  return table.concat(docs, "\n") .. "\n"
end

return M
