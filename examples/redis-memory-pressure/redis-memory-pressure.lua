-- redis-memory-pressure — a team's playbook for a Redis that is running out of
-- memory: how full it is, whether it may evict, which keys will never expire;
-- then switch to an evicting policy and put a TTL on stale keys.
--   runbook run examples/redis-memory-pressure/redis-memory-pressure.lua --set redis_url=redis://...
local rb = require "rb"
local redis = require "rb.redis"

local S = rb.section {
  id = "redis-memory-pressure", title = "Redis memory pressure",
  symptoms = { "used_memory close to maxmemory", "OOM command not allowed errors", "evictions or rejected writes" },
  params = { redis_url = "", policy = "allkeys-lru", stale_pattern = "session:*", stale_ttl = 3600, max_keys = 500 },
}

local function connect(ctx)
  local url = ctx.params.redis_url ~= "" and ctx.params.redis_url or rb.target("redis")
  if not url then error("no Redis: --set redis_url=redis://... or an environment with a redis target", 0) end
  return assert(redis.connect(url))
end

-- Keys matching the pattern without a TTL, in SCAN order (the same in the
-- plan and apply passes while the keyspace does not change).
local function stale_keys(ctx, r)
  local keys = {}
  for key in r:scan { match = ctx.params.stale_pattern, count = 500 } do
    if #keys >= ctx.params.max_keys then break end
    if assert(r:call("TTL", key)) == -1 then keys[#keys + 1] = key end
  end
  table.sort(keys)
  return keys
end

S:investigate("Memory usage", function(ctx)
  local r <close> = connect(ctx)
  local mem = assert(r:info("memory"))
  ctx:log(("used %s of maxmemory %s, fragmentation %s"):format(tostring(mem.used_memory_human),
    tostring(mem.maxmemory_human), tostring(mem.mem_fragmentation_ratio)))
  local pct = (mem.maxmemory or 0) > 0 and mem.used_memory * 100 / mem.maxmemory or nil
  ctx:check { name = "memory used of maxmemory", value = pct, warn = 70, crit = 85, unit = "%",
    detail = pct == nil and "no maxmemory set: Redis grows until the OS stops it" or nil }
end)

S:investigate("Eviction policy", function(ctx)
  local r <close> = connect(ctx)
  local policy = assert(r:config_get("maxmemory-policy"))["maxmemory-policy"]
  local stats = assert(r:info("stats"))
  ctx:log(("policy %s; evicted %s keys, rejected writes show as errors in INFO errorstats"):format(
    policy, tostring(stats.evicted_keys)))
  ctx:check { name = "policy refuses writes when full (noeviction)", value = policy == "noeviction" and 1 or 0,
    warn = 1, crit = 2 }
end)

S:investigate("Keys that never expire", function(ctx)
  local r <close> = connect(ctx)
  local census = assert(r:ttl_census { match = ctx.params.stale_pattern })
  ctx:log(("%s: %d keys, %d without TTL"):format(ctx.params.stale_pattern, census.scanned, census.no_ttl))
  ctx:check { name = "keys without TTL matching " .. ctx.params.stale_pattern, value = census.no_ttl,
    warn = 1, crit = 100 }
end)

S:resolve("Switch to an evicting policy", function(ctx)
  local r <close> = connect(ctx)
  local policy = assert(r:config_get("maxmemory-policy"))["maxmemory-policy"]
  if policy == ctx.params.policy then return ctx:note("policy already " .. policy) end
  assert(r:config_set("maxmemory-policy", ctx.params.policy))
end, { risk = "medium", description = "CONFIG SET maxmemory-policy allkeys-lru (keys may be evicted from now on)",
  changes = { "Redis maxmemory-policy" } })

S:resolve("Expire stale keys", function(ctx)
  local r <close> = connect(ctx)
  local keys = stale_keys(ctx, r)
  for _, key in ipairs(keys) do assert(r:call("EXPIRE", key, ctx.params.stale_ttl)) end
  ctx:note(("%d key(s) matching %s given a %ds TTL"):format(#keys, ctx.params.stale_pattern, ctx.params.stale_ttl))
end, { risk = "low", description = "EXPIRE each key matching stale_pattern that has no TTL (one planned action per key)",
  changes = { "TTL of stale keys" } })

return S
