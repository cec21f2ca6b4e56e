-- rollback — investigate a deployment regression; resolve by rolling back.
local rb = require "rb"
local k8s = require "rb.k8s"
local redis = require "rb.redis"
local thresholds = require "rb.thresholds"

local S = rb.section {
  id = "rollback", title = "Deployment regression",
  symptoms = { "5xx after a deploy", "pods restarting since the last rollout", "Redis evicting keys" },
}

local function images(h)
  local out = {}
  for c, img in pairs(h.images) do out[#out + 1] = c .. "=" .. img end
  table.sort(out)
  return table.concat(out, ",")
end

S:investigate("Rollout history", function(ctx)
  local hist = assert(k8s.rollout_history(ctx.params.deployment))
  for _, h in ipairs(hist) do
    ctx:log(("revision %d%s: %s (%s)"):format(h.revision, h.current and " (running)" or "", images(h),
      h.change_cause or "no change-cause"))
  end
  local cur = hist[#hist]
  if cur and #cur.earlier > 0 then
    ctx:note(("revision %d is itself a rollback (it was revision %s): do not undo it again"):format(cur.revision,
      table.concat(cur.earlier, ",")))
  end
  ctx:expect { name = "a previous revision to roll back to", ok = #hist > 1, level = "warning" }
end)

S:investigate("Pods: restarts and logs", function(ctx)
  local pods = assert(k8s.get("pods", { selector = "app=" .. ctx.params.deployment }))
  local restarts = 0
  for _, p in ipairs(pods) do
    for _, c in ipairs(p.status.containerStatuses or {}) do restarts = restarts + (c.restartCount or 0) end
  end
  ctx:check { name = "container restarts", value = restarts, warn = 1, crit = 5 }
  local text = assert(k8s.logs { deployment = ctx.params.deployment, tail_lines = ctx.params.log_lines })
  for line in text:gmatch("[^\n]+") do ctx:log(line) end
end)

S:investigate("Error rate", function(ctx)
  local value, level, err = thresholds.read(ctx, "error_rate")
  if level == "unknown" then ctx:note("Prometheus: " .. tostring(err))
  else ctx:log(("5xx per second: %s (%s)"):format(value, level)) end
end)

S:investigate("Redis memory and evictions", function(ctx)
  local r <close> = assert(redis.connect())
  local rates = assert(r:rates { window = ctx.params.window })
  local info = assert(r:info("memory"))
  ctx:log(("used_memory %s of maxmemory %s"):format(info.used_memory, info.maxmemory))
  ctx:check { name = "Redis evictions per second", value = rates.evictions_per_s, warn = 1, crit = 100 }
end)

S:resolve("Roll back to the previous good revision", function(ctx)
  local to = math.tointeger(ctx.params.to_revision)
  local r = assert(k8s.rollout_undo(ctx.params.deployment, { to_revision = to ~= 0 and to or nil }))
  if r.skipped then ctx:log(r.message) end
  if ctx.mode == "apply" and not r.skipped then
    assert(k8s.rollout_status(ctx.params.deployment, { timeout = 60, quiet = true }))
    local value, level = thresholds.read(ctx, "error_rate")
    ctx:log(("5xx per second after the rollback: %s (%s)"):format(tostring(value), level))
  end
end, { risk = "high", description = "kubectl rollout undo: the deployment's template goes back to the previous revision",
  changes = { "pods of the previous revision replace the running ones", "undoing this rollback again is refused" } })

return S
