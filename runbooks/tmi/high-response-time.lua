-- High Response Time: find the slow endpoints and their causes (database,
-- cache), then scale out and warm the cache.
local rb = require "rb"
local http = require "rb.http"
local k8s = require "rb.k8s"
local tmi = require "tmi"

local S = rb.section {
  id = "high-response-time", title = "High Response Time",
  symptoms = { "P95 response time > 2 seconds", "User complaints about slow responses", "Timeout errors increasing" },
  params = { replicas = 5, jaeger_url = "", slow_trace = "2s" },
}

S:investigate("Identify Slow Endpoints", function(ctx)
  tmi.indicators(ctx, { "p95_response_time" })
  -- the seed's topk(10, histogram_quantile(...)) by (endpoint), written so Prometheus accepts it
  local res = assert(tmi.prom(ctx).query(
    "topk(10, histogram_quantile(0.95, sum by (endpoint, le) (rate(http_request_duration_seconds_bucket[5m]))))"))
  tmi.log_series(ctx, "p95 by endpoint (s)", res, "endpoint")
  tmi.log_series(ctx, "p95 by pod (s)", tmi.prom(ctx).query(
    "histogram_quantile(0.95, sum by (pod, le) (rate(http_request_duration_seconds_bucket[5m])))") or {}, "pod")
  local worst = res[1]
  if worst then
    ctx:check { name = "slowest endpoint p95 (" .. (worst.metric.endpoint or "?") .. ")", value = worst.value,
      threshold = "p95_response_time" }
  end
end)

S:investigate("Errors by endpoint and status", function(ctx)
  tmi.indicators(ctx, { "error_rate" })
  local res = assert(tmi.prom(ctx).query(
    'sum by (endpoint, status) (rate(http_requests_total{status=~"5.."}[5m])) > 0'))
  ctx:log("5xx responses per second by endpoint and status:")
  table.sort(res, function(a, b) return a.value > b.value end)
  for _, s in ipairs(res) do
    ctx:log(("  %-36s %s  %.2f/s"):format(s.metric.endpoint or "?", s.metric.status or "?", s.value))
  end
  if #res == 0 then ctx:log("  (none)") end
  tmi.log_series(ctx, "error % per pod", tmi.prom(ctx).query(
    'sum by (pod) (rate(http_requests_total{status=~"5.."}[5m])) / sum by (pod) (rate(http_requests_total[5m])) * 100') or {},
    "pod", "%.1f")
end)

S:investigate("Analyze Request Patterns", function(ctx)
  local res, errs = tmi.prom(ctx).query_many {
    "sum by (endpoint) (rate(http_requests_total[5m]))",
    "histogram_quantile(0.95, sum by (le) (rate(http_request_size_bytes_bucket[5m])))",
  }
  tmi.log_series(ctx, "requests per second by endpoint", res[1] or {}, "endpoint")
  ctx:log(("p95 request size: %s bytes"):format(tostring(res[2] and tmi.max_value(res[2]) or errs[2])))
end)

S:investigate("Check Trace Data", function(ctx)
  -- the seed opens the Jaeger UI and searches traces over 2 s; this asks Jaeger's query API
  if ctx.params.jaeger_url == "" then
    ctx:note("no jaeger_url param: set --set jaeger_url=http://jaeger:16686 to search slow traces")
    return
  end
  local r = assert(http.get(("%s/api/traces?service=%s&minDuration=%s&limit=20"):format(
    ctx.params.jaeger_url, ctx.params.deployment, ctx.params.slow_trace)))
  local data = assert(r:json())
  local traces = data.data or {}
  ctx:check { name = "traces slower than " .. ctx.params.slow_trace, value = #traces, warn = 1, crit = 10 }
end)

S:investigate("Database Query Analysis", function(ctx)
  local res = tmi.prom(ctx).query_many {
    "sum(rate(db_slow_queries_total[5m]))",
    "max(db_connections_active / db_connections_max * 100)",
  }
  ctx:log(("slow queries per second: %s"):format(tostring(res[1] and tmi.max_value(res[1]))))
  ctx:check { name = "database connection pool usage", value = res[2] and tmi.max_value(res[2]),
    warn = 70, crit = 85, unit = "%" }
end)

S:investigate("Check resource limits", function(ctx)
  -- kubectl describe pod <pod> | grep -A 5 "Limits:"
  for _, name in ipairs(tmi.api_pods(ctx)) do
    local pod = assert(k8s.get("pods", name, { namespace = ctx.params.namespace }))
    for _, c in ipairs(pod.spec.containers) do
      local lim = (c.resources or {}).limits or {}
      ctx:log(("%s/%s limits: cpu=%s memory=%s"):format(name, c.name, tostring(lim.cpu), tostring(lim.memory)))
    end
  end
end)

S:investigate("Database Optimization", function(ctx)
  local db <close> = tmi.pg(ctx)
  local stats = assert(db:column_stats { schema = "public" })
  ctx:log("pg_stats for public (n_distinct, correlation):")
  for i, r in ipairs(stats) do
    if i > 15 then break end
    ctx:log(("  %s.%s  %s  %s"):format(r.tablename, r.attname, tostring(r.n_distinct), tostring(r.correlation)))
  end
  local plan = assert(db:query("EXPLAIN ANALYZE SELECT * FROM threat_models WHERE created_at > NOW() - INTERVAL '1 day'"))
  for _, r in ipairs(plan) do ctx:log("  " .. r["QUERY PLAN"]) end
end)

S:investigate("Cache Optimization", function(ctx)
  local v = tmi.prom(ctx).value("sum(rate(redis_cache_hits_total[5m])) / sum(rate(redis_cache_operations_total[5m])) * 100")
  ctx:check { name = "cache hit rate", value = v, warn = 80, crit = 50, unit = "%", higher_is_worse = false }
end)

S:resolve("Scale up application instances", function(ctx)
  local d = tmi.deployment(ctx)
  ctx:log(("deployment %s: %s -> %s replicas"):format(d.metadata.name, tostring(math.tointeger(d.spec.replicas) or d.spec.replicas), ctx.params.replicas))
  assert(k8s.scale(d.metadata.name, ctx.params.replicas, { namespace = ctx.params.namespace }))
end, { risk = "medium", description = "kubectl scale deployment tmi-api --replicas=5",
  changes = { "deployment replicas" }, verify = { { threshold = "p95_response_time" } }, verify_timeout = 60 })

S:resolve("Warm up cache", function(ctx)
  -- kubectl exec <api-pod> -- curl -X POST http://localhost:8080/admin/cache/warmup
  local api = tmi.api_url(ctx)
  if api then
    local r = assert(http.post(api .. "/admin/cache/warmup"))
    if not r.planned and r.status >= 300 then error("cache warmup answered " .. r.status, 0) end
  else
    local pod = tmi.api_pods(ctx)[1]
    local r = assert(k8s.exec(pod, { "curl", "-sf", "-X", "POST", "http://localhost:" .. ctx.params.api_port ..
      "/admin/cache/warmup" }, { namespace = ctx.params.namespace, container = ctx.params.container }))
    if r.exit_code and r.exit_code ~= 0 then error("cache warmup failed: " .. (r.stderr or ""), 0) end
  end
end, { risk = "low", description = "POST /admin/cache/warmup on the API", changes = { "Redis cache contents" },
  verify = { { threshold = "cache_hit_rate" } }, verify_timeout = 60 })

return S
