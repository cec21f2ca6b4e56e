-- cache-warmup — the example of DESIGN §3: check the service's health, then
-- warm its cache. Run it against the recording service of the lab:
--   runbook run examples/cache-warmup/cache-warmup.lua --set base=http://127.0.0.1:PORT
local rb   = require "rb"
local http = require "rb.http"

local S = rb.section {
  id = "cache-warmup", title = "Cache warmup",
  symptoms = { "Low cache hit rates" },
  params = { base = "http://127.0.0.1:8080" },
}

S:investigate("Health", function(ctx)
  local r = assert(http.get(ctx.params.base .. "/health"))
  ctx:check { name = "health status", value = r.status, warn = 400, crit = 500 }
end)

S:resolve("Warm up cache", function(ctx)
  local r = assert(http.post(ctx.params.base .. "/admin/cache/warmup", { json = { scope = "all" } }))
  if not r.planned then ctx:note("warmup answered " .. r.status) end
end, { risk = "low", description = "POST /admin/cache/warmup: fills the cache from the database" })

return S
