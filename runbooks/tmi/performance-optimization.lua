-- Performance Optimization: profiling switches, GC and telemetry tuning,
-- load-test monitoring, benchmark comparison and the alerting rules.
local rb = require "rb"
local k8s = require "rb.k8s"
local tmi = require "tmi"

local S = rb.section {
  id = "performance-optimization", title = "Performance Optimization",
  symptoms = { "Planned tuning", "Load testing", "Setting up performance alerts" },
  params = { gogc = 100, gomaxprocs = 4, otel_profile = "high", before_pod = "load-test-before",
    after_pod = "load-test-after", watch_samples = 3,
    profiling_manifest = "manifests/monitoring/profiling-config.yaml",
    load_test_manifest = "manifests/testing/load-test-job.yaml" },
}

S:investigate("Monitor during load test", function(ctx)
  -- watch -n 5 'kubectl top pods -n tmi'
  for i = 1, ctx.params.watch_samples do
    local top = assert(k8s.top_pods { namespace = ctx.params.namespace })
    local cpu, mem = 0, 0
    for _, p in ipairs(top) do cpu, mem = cpu + p.cpu, mem + p.memory end
    ctx:log(("sample %d: %d pods, %.0fm CPU, %.0f MiB"):format(i, #top, cpu * 1000, mem / 1048576))
    if i < ctx.params.watch_samples then rb.sleep(5) end
  end
end)

S:investigate("Benchmark Comparisons", function(ctx)
  -- kubectl logs load-test-before > before.log; ... after; diff
  local before, e1 = k8s.logs(ctx.params.before_pod, { namespace = ctx.params.namespace })
  local after, e2 = k8s.logs(ctx.params.after_pod, { namespace = ctx.params.namespace })
  if not before or not after then
    ctx:note("no load-test logs to compare: " .. tostring(e1 or e2))
    return
  end
  local seen, added, removed = {}, 0, 0
  for line in before:gmatch("[^\n]+") do seen[line] = (seen[line] or 0) + 1 end
  for line in after:gmatch("[^\n]+") do
    if (seen[line] or 0) > 0 then seen[line] = seen[line] - 1 else added = added + 1; ctx:log("+ " .. line) end
  end
  for line, n in pairs(seen) do if n > 0 then removed = removed + n; ctx:log("- " .. line) end end
  ctx:log(("%d line(s) only after, %d only before"):format(added, removed))
end)

S:investigate("Performance Alerts", function(ctx)
  -- the seed's HighResponseTime / HighCPUUsage rules, from the book's thresholds
  local text = "see `runbook export-alerts tmi`"
  for name, t in pairs(ctx.thresholds) do
    ctx:log(("  %-24s %s > %s for 5m"):format(t.alert or name, t.query, tostring(t.crit)))
  end
  ctx:note(text)
end)

S:resolve("Enable profiling endpoints", function(ctx)
  tmi.set_env(ctx, { ENABLE_PPROF = "true" })
end, { risk = "low", description = "set ENABLE_PPROF=true (rolls the pods)", changes = { "deployment env" } })

-- kubectl apply -f FILE, FILE shipped in the book's directory
local function apply_file(ctx, file)
  local text = assert(ctx:read_file(file))
  for _, r in ipairs(assert(k8s.apply(text, { namespace = ctx.params.namespace }))) do
    if not r.object.planned then ctx:log(("%s/%s %s"):format(r.kind, r.name, r.action)) end
  end
end

S:resolve("Set up continuous profiling", function(ctx)
  apply_file(ctx, ctx.params.profiling_manifest)
end, { risk = "low", description = "kubectl apply -f monitoring/profiling-config.yaml (the book's manifests/)",
  changes = { "ConfigMap profiling-config" } })

S:resolve("Resource Tuning", function(ctx)
  tmi.set_env(ctx, { GOGC = ctx.params.gogc, GOMAXPROCS = ctx.params.gomaxprocs,
    OTEL_PERFORMANCE_PROFILE = ctx.params.otel_profile })
end, { risk = "medium", description = "set GOGC=100, GOMAXPROCS=4, OTEL_PERFORMANCE_PROFILE=high (rolls the pods)",
  changes = { "deployment env" } })

S:resolve("Run load tests", function(ctx)
  apply_file(ctx, ctx.params.load_test_manifest)
end, { risk = "medium", description = "kubectl apply -f testing/load-test-job.yaml: a bounded in-cluster load test",
  changes = { "Job load-test (traffic against the API for up to 5 minutes)" } })

return S
