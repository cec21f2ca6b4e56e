-- tmi — what the TMI sections share: where the services are, and the checks
-- every section makes against the book's thresholds. Targets come from the
-- book params when set, else from the run's environment (--env/--config).
local rb = require "rb"
local prom = require "rb.prom"
local pg = require "rb.pg"
local redis = require "rb.redis"
local k8s = require "rb.k8s"
local thresholds = require "rb.thresholds"

local M = {}

local function param_or_target(ctx, param, target)
  local v = ctx.params[param]
  if v ~= nil and v ~= "" then return v end
  return rb.target(target)
end

--- pg(ctx) -> conn (the seed: `kubectl exec postgres-0 -- psql -U tmi`)
function M.pg(ctx)
  return assert(pg.connect(param_or_target(ctx, "postgres_url", "postgres")))
end

--- redis(ctx) -> conn (the seed: `kubectl exec redis-0 -- redis-cli`)
function M.redis(ctx)
  local url = param_or_target(ctx, "redis_url", "redis")
  if not url then error("no Redis target: set --set redis_url=... or the environment's redis", 0) end
  return assert(redis.connect(url))
end

--- api_url(ctx) -> the API's base URL when reachable directly (param api_url,
-- else the environment's http.api), or nil: go through the cluster
function M.api_url(ctx)
  if ctx.params.api_url ~= "" then return ctx.params.api_url end
  local h = rb.target("http")
  return type(h) == "table" and h.api or nil
end

--- api_pods(ctx) -> names of the deployment's pods (the seed's <pod-name>)
function M.api_pods(ctx)
  local pods = assert(k8s.get("pods", nil, { namespace = ctx.params.namespace,
    selector = "app=" .. ctx.params.deployment }))
  local names = {}
  for _, p in ipairs(pods) do
    if (p.status or {}).phase == "Running" then names[#names + 1] = p.metadata.name end
  end
  table.sort(names)
  if #names == 0 then error(("no running pod of deployment %s in namespace %s"):format(
    ctx.params.deployment, ctx.params.namespace), 0) end
  return names
end

--- pprof_target(ctx, pod?) -> what rb.pprof.fetch takes: the pprof_url param
-- when set, else the pod's pprof port through the API server proxy (callers
-- name the pod they mean: the culprit, not the first in sort order).
function M.pprof_target(ctx, pod)
  if ctx.params.pprof_url and ctx.params.pprof_url ~= "" then return ctx.params.pprof_url end
  return { pod = pod or M.api_pods(ctx)[1], namespace = ctx.params.namespace, port = ctx.params.pprof_port }
end

--- prom(ctx) -> rb.prom with the book's rate window: every "[5m]" in a query
-- becomes "[<window param>]" (the seed's queries say 5m; rehearsals on a
-- fresh lab use a shorter window so a fault shows within seconds)
function M.prom(ctx)
  local w = "[" .. ctx.params.window .. "]"
  local function q(x) return type(x) == "string" and (x:gsub("%[5m%]", w)) or x end
  return {
    query = function(x, o) return prom.query(q(x), o) end,
    value = function(x, o) return prom.value(q(x), o) end,
    query_range = function(x, o) return prom.query_range(q(x), o) end,
    query_many = function(list, o)
      local t = {}
      for i, x in ipairs(list) do t[i] = q(x) end
      return prom.query_many(t, o)
    end,
  }
end

--- max_value(result) -> the largest value of an instant vector, or nil
M.max_value = thresholds.max_value

local CHART_MINUTES, CHART_SERIES = 30, 6

--- chart(ctx, name): the threshold's query over the last 30 minutes as a
-- chart of the step (the report draws it with the warn and crit lines; the
-- terminal gets a sparkline with its scale). No data: nothing drawn.
function M.chart(ctx, name)
  local t = ctx.thresholds[name]
  local ok, q = pcall(thresholds.query, ctx.thresholds, name, ctx.params)
  if not (t and ok) then return end
  local now = os.time()
  local r = prom.query_range(q, { start = now - CHART_MINUTES * 60, ["end"] = now, step = 30 })
  if not r or not r[1] then return end
  local series = {}
  for i, s in ipairs(r) do
    if i > CHART_SERIES then break end
    series[i] = { name = s.metric and (s.metric.pod or s.metric.instance or s.metric.__name__) or t.title, points = s.values }
  end
  ctx:chart { title = (t.title or name) .. " (last " .. CHART_MINUTES .. " min)", series = series, unit = t.unit,
    warn = t.warn, crit = t.crit }
  ctx:log(("%s, last %d min: %s"):format(t.title or name, CHART_MINUTES,
    prom.sparkline(r[1], { width = 40, scale = true, unit = t.unit })))
end

--- indicators(ctx, names) -> { [name] = value } evaluating the book's
-- thresholds in one round trip (over the window and the short window, as
-- triage does), each turned into a check that says its window, and charted.
function M.indicators(ctx, names)
  local values = {}
  for _, e in ipairs(thresholds.evaluate_some(ctx.thresholds, names, prom, ctx.params,
      { short_window = ctx.params.short_window })) do
    values[e.name] = e.value
    ctx:check { threshold = e.name, value = e.value,
      detail = e.err or (e.window and e.window ~= ctx.params.window and ("over the last " .. e.window)) or nil }
  end
  if ctx.mode == "investigate" then
    for _, n in ipairs(names) do M.chart(ctx, n) end
  end
  return values
end

--- save_profile(ctx, pod, kind, body): the raw profile or dump, saved by the
-- engine in the run's directory for `go tool pprof` (named after the pod).
function M.save_profile(ctx, pod, kind, body)
  if type(body) ~= "string" or body == "" then return end
  local ext = kind == "goroutine" and ".txt" or ".pb.gz"
  ctx:attach { name = ("%s-%s%s"):format(kind, tostring(pod or "pod"), ext), data = body,
    kind = kind == "goroutine" and "goroutines" or "pprof" }
end

--- by_pod(ctx, query) -> { {pod =, value =}, ... } worst first: an instant
-- vector read per pod (the series' pod label; "[5m]" becomes the window)
function M.by_pod(ctx, query)
  local res = assert(M.prom(ctx).query(query))
  local out = {}
  for _, s in ipairs(res) do
    if s.metric.pod and s.value == s.value then out[#out + 1] = { pod = s.metric.pod, value = s.value } end
  end
  table.sort(out, function(a, b) return a.value > b.value end)
  return out
end

-- running(ctx, rows) -> the by_pod rows of pods that run now (Prometheus
-- still holds series of pods deleted within the window)
local function running(ctx, rows)
  local live, out = {}, {}
  for _, p in ipairs(M.api_pods(ctx)) do live[p] = true end
  for _, r in ipairs(rows) do if live[r.pod] then out[#out + 1] = r end end
  return out
end

--- culprits(ctx, rows, bound) -> the running pods of by_pod rows at or over bound, and their names joined
function M.culprits(ctx, rows, bound)
  local pods = {}
  for _, r in ipairs(running(ctx, rows)) do
    if r.value >= bound then pods[#pods + 1] = r.pod end
  end
  return pods, table.concat(pods, ", ")
end

--- worst_pod(ctx, query) -> the running pod with the largest value of query, else the first running pod
function M.worst_pod(ctx, query)
  local rows = running(ctx, M.by_pod(ctx, query))
  return rows[1] and rows[1].pod or M.api_pods(ctx)[1]
end

--- deployment(ctx) -> the deployment object read from the cluster (the one
-- scaling, limits and env changes act on), or an error naming what is missing
function M.deployment(ctx)
  local d, err = k8s.get("deployments", ctx.params.deployment, { namespace = ctx.params.namespace })
  if not d then error(("deployment %s in namespace %s: %s"):format(ctx.params.deployment,
    ctx.params.namespace, tostring(err)), 0) end
  return d
end

--- container_limit(ctx, resource) -> the limit (a number: bytes or cores) of
-- the deployment's container as the cluster has it, and its text; nil when unset
function M.container_limit(ctx, resource)
  for _, c in ipairs(M.deployment(ctx).spec.template.spec.containers) do
    if c.name == ctx.params.container then
      local text = ((c.resources or {}).limits or {})[resource]
      if text then return k8s.quantity(text), text end
    end
  end
  return nil
end

--- log_series(ctx, title, res, label, fmt) prints one line per series of a vector
function M.log_series(ctx, title, res, label, fmt)
  ctx:log(title .. ":")
  table.sort(res, function(a, b) return a.value > b.value end)
  for _, s in ipairs(res) do
    ctx:log(("  %-40s " .. (fmt or "%.4g")):format(s.metric[label] or "(all)", s.value))
  end
  if #res == 0 then ctx:log("  (no data)") end
end

--- set_env(ctx, vars) -> the seed's `kubectl set env deployment -n NS DEPLOY K=V ...`
function M.set_env(ctx, vars)
  local keys = {}
  for k, v in pairs(vars) do keys[#keys + 1] = k .. "=" .. tostring(v) end
  table.sort(keys)
  ctx:log(("deployment %s (read from the cluster), container %s: %s"):format(M.deployment(ctx).metadata.name,
    ctx.params.container, table.concat(keys, " ")))
  return assert(k8s.set_env(ctx.params.deployment, vars,
    { namespace = ctx.params.namespace, container = ctx.params.container }))
end

return M
