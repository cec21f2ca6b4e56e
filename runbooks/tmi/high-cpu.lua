-- High CPU Usage: where the CPU goes (per pod, over time, in a CPU profile),
-- then scale horizontally and raise the CPU limit.
local rb = require "rb"
local prom = require "rb.prom"
local pprof = require "rb.pprof"
local k8s = require "rb.k8s"
local tmi = require "tmi"

local S = rb.section {
  id = "high-cpu", title = "High CPU Usage",
  symptoms = { "CPU utilization > 85%", "Application becomes unresponsive", "Increased response times" },
  params = { replicas = 6, cpu_limit = "1000m", profile_seconds = 30 },
}

local CPU_PER_POD = "max by (pod) (rate(process_cpu_seconds_total[5m]) * 100)"

S:investigate("CPU Usage Analysis", function(ctx)
  local top = assert(k8s.top_pods { namespace = ctx.params.namespace })
  ctx:log("kubectl top pods:")
  for _, p in ipairs(top) do ctx:log(("  %-40s %6.0fm  %8.1f MiB"):format(p.name, p.cpu * 1000, p.memory / 1048576)) end
  tmi.indicators(ctx, { "cpu_utilization" })
  tmi.log_series(ctx, "CPU % per pod", tmi.prom(ctx).query(CPU_PER_POD) or {}, "pod", "%.1f")
  local series = tmi.prom(ctx).query_range("max(rate(process_cpu_seconds_total[5m]) * 100)", { start = os.time() - 3600, step = 60 })
  if series and series[1] then
    ctx:log("CPU % over the last hour: " .. prom.sparkline(series[1], { scale = true, unit = "%" }))
  end
end)

S:investigate("Profiling", function(ctx)
  -- curl .../debug/pprof/profile?seconds=30 > cpu-profile.prof; go tool pprof cpu-profile.prof
  local pod = tmi.worst_pod(ctx, CPU_PER_POD)
  local prof, body = pprof.fetch(tmi.pprof_target(ctx, pod), "profile", { seconds = ctx.params.profile_seconds })
  assert(prof, body)
  tmi.save_profile(ctx, pod, "cpu", body)
  ctx:log(("CPU profile of pod %s (the busiest): %d samples over %ss, top functions by flat time:"):format(pod,
    prof:total("samples") or 0, ctx.params.profile_seconds))
  for _, r in ipairs(prof:top { n = 10, by = "flat" }) do
    ctx:log(("  %6.2f%%  %6.2f%% cum  %s"):format(r.flat_pct, r.cum_pct, r.name))
  end
end)

S:investigate("Goroutine Analysis", function(ctx)
  tmi.indicators(ctx, { "goroutines" })
  local pod = tmi.worst_pod(ctx, CPU_PER_POD)
  local dump, dbody = pprof.fetch(tmi.pprof_target(ctx, pod), "goroutine", { debug = 1 })
  assert(dump, dbody)
  tmi.save_profile(ctx, pod, "goroutine", dbody)
  ctx:log(("goroutine dump of pod %s: %d goroutines, largest groups:"):format(pod, dump.total))
  for i, g in ipairs(dump.groups) do
    if i > 10 then break end
    ctx:log(("  %6d  %s"):format(g.count, g.top or g.entry or "?"))
  end
end)

S:resolve("Scale horizontally", function(ctx)
  local d = tmi.deployment(ctx)
  ctx:log(("deployment %s: %s -> %s replicas"):format(d.metadata.name, tostring(math.tointeger(d.spec.replicas) or d.spec.replicas), ctx.params.replicas))
  assert(k8s.scale(d.metadata.name, ctx.params.replicas, { namespace = ctx.params.namespace }))
end, { risk = "medium", description = "kubectl scale deployment tmi-api --replicas=6", changes = { "deployment replicas" },
  verify = { { threshold = "cpu_utilization" } }, verify_timeout = 60 })

S:resolve("Increase CPU limits", function(ctx)
  local _, cur = tmi.container_limit(ctx, "cpu")
  ctx:log(("deployment %s container %s: CPU limit %s -> %s"):format(tmi.deployment(ctx).metadata.name,
    ctx.params.container, tostring(cur), ctx.params.cpu_limit))
  assert(k8s.set_resources(ctx.params.deployment, { limits = { cpu = ctx.params.cpu_limit } },
    { namespace = ctx.params.namespace, container = ctx.params.container }))
end, { risk = "medium", description = "patch the tmi-api container's CPU limit to 1000m (rolls the pods)",
  changes = { "deployment pod template: resources.limits.cpu" } })

return S
