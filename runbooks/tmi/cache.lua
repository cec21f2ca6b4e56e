-- Cache Performance Issues: hit rate, latency and memory in Prometheus; the
-- Redis server's own view (INFO, SLOWLOG, keys without TTL); then the seed's
-- CONFIG SET changes.
local rb = require "rb"
local tmi = require "tmi"

local S = rb.section {
  id = "cache", title = "Cache Performance Issues",
  symptoms = { "Low cache hit rates", "High cache operation latency", "Memory pressure in Redis" },
  params = { idle_timeout = 300, maxmemory_policy = "allkeys-lru", key_pattern = "*" },
}

S:investigate("Cache Metrics", function(ctx)
  local res = tmi.prom(ctx).query_many {
    "sum(rate(redis_cache_hits_total[5m])) / sum(rate(redis_cache_operations_total[5m])) * 100",
    "histogram_quantile(0.95, sum by (le) (rate(redis_operation_duration_seconds_bucket[5m])))",
    -- no maxmemory (0) means no limit: no value rather than +Inf
    "max(redis_memory_used_bytes / (redis_memory_max_bytes > 0) * 100)",
  }
  ctx:check { name = "cache hit rate", value = res[1] and tmi.max_value(res[1]), warn = 80, crit = 50,
    unit = "%", higher_is_worse = false }
  ctx:check { name = "p95 cache operation latency", value = res[2] and tmi.max_value(res[2]),
    warn = 0.01, crit = 0.05, unit = "s" }
  local mem = res[3] and tmi.max_value(res[3])
  ctx:check { name = "Redis memory usage", value = mem, warn = 70, crit = 85, unit = "%",
    detail = mem == nil and "no maxmemory limit set" or nil }
end)

S:investigate("Redis Analysis", function(ctx)
  local r <close> = tmi.redis(ctx)
  local stats = assert(r:info("stats"))
  local mem = assert(r:info("memory"))
  ctx:log(("keyspace hits %s, misses %s, evicted %s, expired %s"):format(tostring(stats.keyspace_hits),
    tostring(stats.keyspace_misses), tostring(stats.evicted_keys), tostring(stats.expired_keys)))
  ctx:log(("used memory %s, peak %s, maxmemory %s, policy %s"):format(tostring(mem.used_memory_human),
    tostring(mem.used_memory_peak_human), tostring(mem.maxmemory_human), tostring(mem.maxmemory_policy)))
  local pct = r:hit_rate()
  if pct then ctx:check { name = "Redis keyspace hit rate", value = pct, warn = 80, crit = 50, unit = "%", higher_is_worse = false } end
  local slow = assert(r:slowlog(10))
  ctx:log(("slowlog: %d entries"):format(#slow))
  for _, e in ipairs(slow) do ctx:log(("  %8d us  %s"):format(e.duration_us, table.concat(e.command, " "))) end
end)

S:investigate("Keys without TTL", function(ctx)
  -- redis-cli --scan --pattern "*" | xargs redis-cli TTL | grep -c "^-1$"
  local r <close> = tmi.redis(ctx)
  local c = assert(r:ttl_census { match = ctx.params.key_pattern })
  ctx:log(("scanned %d keys: %d without TTL, %d with"):format(c.scanned, c.no_ttl, c.with_ttl))
  ctx:check { name = "share of keys without TTL", value = c.scanned > 0 and c.no_ttl * 100 / c.scanned or 0,
    warn = 10, crit = 50, unit = "%" }
end)

S:resolve("Cache Optimization", function(ctx)
  local r <close> = tmi.redis(ctx)
  assert(r:config_set("timeout", ctx.params.idle_timeout))
  assert(r:config_set("maxmemory-policy", ctx.params.maxmemory_policy))
end, { risk = "medium", description = "CONFIG SET timeout 300; CONFIG SET maxmemory-policy allkeys-lru",
  changes = { "Redis runtime configuration" } })

return S
