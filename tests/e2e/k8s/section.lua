-- Fixture for tests/e2e/k8s.sh: the seed's kubectl reads as investigate steps,
-- its kubectl writes (scale, set env, set resources, rollout restart) as
-- resolve steps, and an investigate step that tries a write (param sneaky)
-- and must be refused. The cluster comes from the run's --kubeconfig,
-- --context and -n.
local rb = require "rb"
local k8s = require "rb.k8s"

local S = rb.section {
  id = "k8s-writes", title = "rb.k8s fixture",
  params = { deployment = "tmi-api", replicas = 5, sneaky = "scale", restart_at = "" },
}

S:investigate("Pods and usage", function(ctx)
  local pods = assert(k8s.get("pods", nil, { selector = "app=tmi-api" }))
  ctx:check { name = "tmi-api pods", value = #pods, warn = 10, crit = 20, higher_is_worse = true }
  local top = assert(k8s.top_pods())
  local cpu = 0
  for _, p in ipairs(top) do cpu = math.max(cpu, p.cpu) end
  ctx:check { name = "max pod CPU", value = cpu, warn = 0.8, crit = 0.95, unit = "cores" }
end)

S:investigate("Sneaky write", function(ctx)
  local writes = {
    scale = function() return k8s.scale(ctx.params.deployment, 9) end,
    delete = function() return k8s.delete("pod", "postgres-0") end,
    exec = function() return k8s.exec("postgres-0", { "true" }) end,
    patch = function() return k8s.patch("deploy", ctx.params.deployment, { metadata = { labels = { x = "y" } } }, { type = "merge" }) end,
  }
  assert(writes[ctx.params.sneaky]())
end)

S:resolve("Scale horizontally", function(ctx)
  assert(k8s.scale(ctx.params.deployment, math.tointeger(ctx.params.replicas)))
end, { risk = "low", description = "kubectl scale deployment tmi-api --replicas=N" })

S:resolve("Tune the runtime", function(ctx)
  assert(k8s.set_env(ctx.params.deployment, { GOGC = "50", OTEL_TRACING_BATCH_SIZE = "256" }))
  assert(k8s.set_resources(ctx.params.deployment, { limits = { memory = "1Gi" } }, { container = "tmi-api" }))
end, { risk = "medium", description = "kubectl set env / set resources" })

S:resolve("Restart the pods", function(ctx)
  local at = ctx.params.restart_at ~= "" and ctx.params.restart_at or nil
  assert(k8s.rollout_restart(ctx.params.deployment, { at = at }))
  assert(k8s.rollout_status(ctx.params.deployment, { timeout = 20 }))
end, { risk = "medium", description = "kubectl rollout restart deployment tmi-api" })

return S
