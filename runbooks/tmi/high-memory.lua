-- High Memory Usage: memory and GC metrics, a heap profile; then raise the
-- limit, restart, shrink telemetry batches and make GC more aggressive.
local rb = require "rb"
local pprof = require "rb.pprof"
local k8s = require "rb.k8s"
local tmi = require "tmi"

local S = rb.section {
  id = "high-memory", title = "High Memory Usage",
  symptoms = { "Memory usage > 85% of limit", "Out of memory kills (OOMKilled)", "Garbage collection pressure" },
  params = { memory_limit = "1Gi", gogc = 50, otel_tracing_batch = 256, otel_metrics_batch = 512 },
}

local HEAP_PER_POD = "max by (pod) (go_memstats_heap_inuse_bytes)"

S:investigate("Memory Analysis", function(ctx)
  local top = assert(k8s.top_pods { namespace = ctx.params.namespace })
  for _, p in ipairs(top) do ctx:log(("  %-40s %8.1f MiB"):format(p.name, p.memory / 1048576)) end
  tmi.indicators(ctx, { "memory_usage" })
  -- the seed's "% of limit" against the limit the cluster has now (not a fixed param)
  local limit, text = tmi.container_limit(ctx, "memory")
  if limit then
    ctx:log(("memory limit of %s/%s (from the cluster): %s"):format(ctx.params.deployment, ctx.params.container, text))
    for _, r in ipairs(tmi.by_pod(ctx, HEAP_PER_POD)) do
      ctx:check { name = "memory usage of " .. r.pod, value = r.value / limit * 100, warn = 70, crit = 85, unit = "%" }
    end
  else
    ctx:note("the container has no memory limit in the cluster: no % of limit")
  end
  local res = tmi.prom(ctx).query_many { "max(go_memstats_heap_inuse_bytes) / 1024 / 1024",
    "max(go_memstats_heap_alloc_bytes) / 1024 / 1024" }
  ctx:log(("heap in use: %s MiB, heap allocated: %s MiB"):format(tostring(res[1] and tmi.max_value(res[1])),
    tostring(res[2] and tmi.max_value(res[2]))))
end)

S:investigate("Garbage Collection Metrics", function(ctx)
  -- go_gc_duration_seconds is a summary with quantiles 0, .25, .5, .75 and 1: the
  -- seed's quantile="0.95" has no series, so the largest quantile (1) stands in
  local res = tmi.prom(ctx).query_many { "sum(rate(go_gc_duration_seconds_count[5m]))",
    'max(go_gc_duration_seconds{quantile="0.95"})', 'max(go_gc_duration_seconds{quantile="1"})' }
  ctx:log(("GC runs per second: %s"):format(tostring(res[1] and tmi.max_value(res[1]))))
  local pause = (res[2] and tmi.max_value(res[2])) or (res[3] and tmi.max_value(res[3]))
  ctx:check { name = "GC pause (max quantile)", value = pause, warn = 0.01, crit = 0.1, unit = "s" }
end)

S:investigate("Memory Profiling", function(ctx)
  local pod = tmi.worst_pod(ctx, HEAP_PER_POD)
  local prof, body = pprof.fetch(tmi.pprof_target(ctx, pod), "heap")
  assert(prof, body)
  tmi.save_profile(ctx, pod, "heap", body)
  ctx:log(("heap profile of pod %s (the largest heap), top by inuse_space:"):format(pod))
  for _, r in ipairs(prof:top { n = 10, by = "flat", sample_type = "inuse_space" }) do
    ctx:log(("  %10.1f KiB  %5.1f%%  %s"):format(r.flat / 1024, r.flat_pct, r.name))
  end
end)

S:resolve("Increase memory limits", function(ctx)
  local _, cur = tmi.container_limit(ctx, "memory")
  ctx:log(("deployment %s container %s: memory limit %s -> %s"):format(tmi.deployment(ctx).metadata.name,
    ctx.params.container, tostring(cur), ctx.params.memory_limit))
  assert(k8s.set_resources(ctx.params.deployment, { limits = { memory = ctx.params.memory_limit } },
    { namespace = ctx.params.namespace, container = ctx.params.container }))
end, { risk = "medium", description = "patch the tmi-api container's memory limit to 1Gi (rolls the pods)",
  changes = { "deployment pod template: resources.limits.memory" } })

S:resolve("Restart pods to clear memory", function(ctx)
  assert(k8s.rollout_restart(ctx.params.deployment, { namespace = ctx.params.namespace }))
end, { risk = "medium", description = "kubectl rollout restart deployment tmi-api", changes = { "every tmi-api pod is replaced" } })

S:resolve("Reduce telemetry batch sizes", function(ctx)
  tmi.set_env(ctx, { OTEL_TRACING_BATCH_SIZE = ctx.params.otel_tracing_batch,
    OTEL_METRICS_BATCH_SIZE = ctx.params.otel_metrics_batch })
end, { risk = "low", description = "set OTEL_TRACING_BATCH_SIZE=256 and OTEL_METRICS_BATCH_SIZE=512 (rolls the pods)",
  changes = { "deployment env" } })

S:resolve("Enable more aggressive GC", function(ctx)
  tmi.set_env(ctx, { GOGC = ctx.params.gogc })
end, { risk = "low", description = "set GOGC=50 (rolls the pods)", changes = { "deployment env" } })

return S
