-- Goroutine Leaks: count, dump and growth of goroutines; then restart the
-- affected pod and watch the count on its replacement.
local rb = require "rb"
local prom = require "rb.prom"
local pprof = require "rb.pprof"
local k8s = require "rb.k8s"
local tmi = require "tmi"

local S = rb.section {
  id = "goroutine-leaks", title = "Goroutine Leaks",
  symptoms = { "Continuously increasing goroutine count", "Memory usage growth over time",
    "Application becomes unresponsive" },
  params = { growth_interval = 10, watch_seconds = 30 },
}

S:investigate("Monitor goroutine count", function(ctx)
  tmi.indicators(ctx, { "goroutines" })
  local series = tmi.prom(ctx).query_range("max(go_goroutines)", { start = os.time() - 1800, step = 30 })
  if series and series[1] then ctx:log("goroutines over 30 minutes: " .. prom.sparkline(series[1])) end
end)

S:investigate("Get goroutine dump", function(ctx)
  -- grep -E "^goroutine [0-9]+" goroutines.txt | wc -l; grep -E "goroutine.*\[.*waiting\]:" | head -10
  local dump = assert(pprof.fetch(tmi.pprof_target(ctx), "goroutine", { debug = 2 }))
  ctx:check { threshold = "goroutines", name = "goroutines in the dump", value = dump.total }
  ctx:log("largest groups (state, where they wait, who started them):")
  for i, g in ipairs(dump.groups) do
    if i > 10 then break end
    ctx:log(("  %6d  %-20s %s  (created by %s%s)"):format(g.count, g.state or "?", g.top or "?",
      g.created_by or "?", g.max_wait_minutes and (", waiting " .. g.max_wait_minutes .. " min") or ""))
  end
end)

S:investigate("Analyze goroutine patterns", function(ctx)
  local target = tmi.pprof_target(ctx)
  local before = assert(pprof.fetch(target, "goroutine", { debug = 2 }))
  rb.sleep(ctx.params.growth_interval)
  local after = assert(pprof.fetch(target, "goroutine", { debug = 2 }))
  local grew = pprof.goroutine_growth(before, after)
  local added = 0
  for _, g in ipairs(grew) do
    added = added + g.delta
    ctx:log(("  +%d  %s (created by %s)"):format(g.delta, g.top or "?", g.created_by or "?"))
  end
  ctx:check { name = ("goroutines added in %ss"):format(ctx.params.growth_interval), value = added,
    warn = 10, crit = 100 }
end)

local function goroutine_count(ctx, pod)
  local dump = pprof.fetch(tmi.pprof_target(ctx, pod), "goroutine", { debug = 1 })
  return dump and dump.total
end

S:resolve("Restart affected pods", function(ctx)
  local pods = tmi.api_pods(ctx)
  local pod = pods[1]
  assert(k8s.delete("pods", pod, { namespace = ctx.params.namespace }))
  if ctx.mode ~= "apply" then return end
  -- watch -n 5 '... goroutine?debug=1 | grep "goroutine profile" | head -1' on the new pod
  local deadline = os.time() + ctx.params.watch_seconds
  local newest
  repeat
    for _, p in ipairs(tmi.api_pods(ctx)) do
      local seen = false
      for _, old in ipairs(pods) do seen = seen or old == p end
      if not seen then newest = p end
    end
    if not newest then rb.sleep(1) end
  until newest or os.time() > deadline
  if not newest then ctx:note("no replacement pod within " .. ctx.params.watch_seconds .. " s") return end
  ctx:check { threshold = "goroutines", name = "goroutines on " .. newest, value = goroutine_count(ctx, newest) }
end, { risk = "medium", description = "kubectl delete pod <affected pod>; then watch the replacement's goroutine count",
  changes = { "one tmi-api pod is replaced" } })

return S
