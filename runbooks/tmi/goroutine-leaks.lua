-- Goroutine Leaks: count per pod, dump and growth of goroutines on the pod
-- that leaks; then restart the pod(s) over the threshold (and nothing when
-- none is) and watch the count on their replacements.
local rb = require "rb"
local prom = require "rb.prom"
local pprof = require "rb.pprof"
local k8s = require "rb.k8s"
local tmi = require "tmi"

local S = rb.section {
  id = "goroutine-leaks", title = "Goroutine Leaks",
  symptoms = { "Continuously increasing goroutine count", "Memory usage growth over time",
    "Application becomes unresponsive" },
  -- growth_per_window: goroutines added over the window that make a pod "affected" even under the count threshold
  params = { growth_interval = 10, watch_seconds = 30, growth_per_window = 1000 },
}

local PER_POD = "max by (pod) (go_goroutines)"

-- The pods whose goroutine count is at the warning threshold, or whose count
-- grew by growth_per_window over the window.
local function affected(ctx)
  local pods = tmi.culprits(ctx, tmi.by_pod(ctx, PER_POD), ctx.thresholds.goroutines.warn)
  local seen = {}
  for _, p in ipairs(pods) do seen[p] = true end
  local grew = tmi.culprits(ctx, tmi.by_pod(ctx, "max by (pod) (delta(go_goroutines[5m]))"), ctx.params.growth_per_window)
  for _, p in ipairs(grew) do
    if not seen[p] then pods[#pods + 1] = p; seen[p] = true end
  end
  return pods, table.concat(pods, ", ")
end

S:investigate("Monitor goroutine count", function(ctx)
  tmi.indicators(ctx, { "goroutines" })
  tmi.log_series(ctx, "goroutines per pod", tmi.prom(ctx).query(PER_POD) or {}, "pod", "%.0f")
  local series = tmi.prom(ctx).query_range("max(go_goroutines)", { start = os.time() - 1800, step = 30 })
  if series and series[1] then
    ctx:log("goroutines over 30 minutes: " .. prom.sparkline(series[1], { scale = true }))
  end
end)

S:investigate("Get goroutine dump", function(ctx)
  -- grep -E "^goroutine [0-9]+" goroutines.txt | wc -l; grep -E "goroutine.*\[.*waiting\]:" | head -10
  local pod = tmi.worst_pod(ctx, PER_POD)
  local dump, body = pprof.fetch(tmi.pprof_target(ctx, pod), "goroutine", { debug = 2 })
  assert(dump, body)
  tmi.save_profile(ctx, pod, "goroutine", body)
  ctx:log(("goroutine dump of pod %s (the pod with the most goroutines):"):format(pod))
  ctx:check { threshold = "goroutines", name = "goroutines in the dump of " .. pod, value = dump.total }
  ctx:log("largest groups (state, where they wait, who started them):")
  for i, g in ipairs(dump.groups) do
    if i > 10 then break end
    ctx:log(("  %6d  %-20s %s  (created by %s%s)"):format(g.count, g.state or "?", g.top or "?",
      g.created_by or "?", g.max_wait_minutes and (", waiting " .. g.max_wait_minutes .. " min") or ""))
  end
end)

S:investigate("Analyze goroutine patterns", function(ctx)
  local pod = tmi.worst_pod(ctx, PER_POD)
  local target = tmi.pprof_target(ctx, pod)
  local before = assert(pprof.fetch(target, "goroutine", { debug = 2 }))
  rb.sleep(ctx.params.growth_interval)
  local after = assert(pprof.fetch(target, "goroutine", { debug = 2 }))
  local grew = pprof.goroutine_growth(before, after)
  local added = 0
  ctx:log(("growth on pod %s over %ss:"):format(pod, ctx.params.growth_interval))
  for _, g in ipairs(grew) do
    added = added + g.delta
    ctx:log(("  +%d  %s (created by %s)"):format(g.delta, g.top or "?", g.created_by or "?"))
  end
  ctx:check { name = ("goroutines added on %s in %ss"):format(pod, ctx.params.growth_interval), value = added,
    warn = 10, crit = 100 }
end)

local function goroutine_count(ctx, pod)
  local dump = pprof.fetch(tmi.pprof_target(ctx, pod), "goroutine", { debug = 1 })
  return dump and dump.total
end

-- The pods of the deployment that were not there before.
local function replacements(ctx, before)
  local old, out = {}, {}
  for _, p in ipairs(before) do old[p] = true end
  for _, p in ipairs(tmi.api_pods(ctx)) do if not old[p] then out[#out + 1] = p end end
  return out
end

S:resolve("Restart affected pods", function(ctx)
  local pods, names = affected(ctx)
  if #pods == 0 then
    ctx:note(("no pod has %s or more goroutines or grew by %s over %s: nothing to restart"):format(
      ctx.thresholds.goroutines.warn, ctx.params.growth_per_window, ctx.params.window))
    return
  end
  ctx:log("affected pod(s): " .. names)
  local before = tmi.api_pods(ctx)
  for _, pod in ipairs(pods) do assert(k8s.delete("pods", pod, { namespace = ctx.params.namespace })) end
  if ctx.mode ~= "apply" then return end
  -- watch -n 5 '... goroutine?debug=1 | grep "goroutine profile" | head -1' on the new pods
  local deadline, fresh = os.time() + ctx.params.watch_seconds, {}
  repeat
    fresh = replacements(ctx, before)
    if #fresh < #pods then rb.sleep(1) end
  until #fresh >= #pods or os.time() > deadline
  if #fresh == 0 then ctx:note("no replacement pod within " .. ctx.params.watch_seconds .. " s") return end
  for _, p in ipairs(fresh) do
    ctx:check { threshold = "goroutines", name = "goroutines on " .. p, value = goroutine_count(ctx, p) }
  end
end, { risk = "medium",
  description = "kubectl delete pod <each pod over the goroutine threshold>; then watch the replacements' goroutine count",
  changes = { "the leaking tmi-api pod(s) are replaced" },
  -- the runner's verify (when it supports it; ignored until then)
  verify = { { threshold = "goroutines" } }, verify_timeout = 60 })

return S
