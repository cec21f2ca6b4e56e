-- Cache Performance Issues: hit rate, latency and memory in Prometheus; the
-- Redis server's own view (hit rate over a few seconds, key patterns,
-- SLOWLOG, keys without TTL); then the seed's CONFIG SET changes.
local rb = require "rb"
local tmi = require "tmi"

local S = rb.section {
  id = "cache", title = "Cache Performance Issues",
  symptoms = { "Low cache hit rates", "High cache operation latency", "Memory pressure in Redis" },
  params = { idle_timeout = 300, maxmemory_policy = "allkeys-lru", key_pattern = "*", sample_seconds = 2,
    scan_limit = 20000 },
}

S:investigate("Cache Metrics", function(ctx)
  tmi.indicators(ctx, { "cache_hit_rate", "redis_memory" })
  local res = tmi.prom(ctx).query_many {
    "histogram_quantile(0.95, sum by (le) (rate(redis_operation_duration_seconds_bucket[5m])))",
    -- no maxmemory (0) means no limit: no value rather than +Inf
    "max(redis_memory_used_bytes / (redis_memory_max_bytes > 0) * 100)",
  }
  ctx:check { name = "p95 cache operation latency", value = res[1] and tmi.max_value(res[1]),
    warn = 0.01, crit = 0.05, unit = "s" }
  local mem = res[2] and tmi.max_value(res[2])
  ctx:check { name = "Redis memory usage of maxmemory", value = mem, warn = 70, crit = 85, unit = "%",
    detail = mem == nil and "no maxmemory limit set" or nil }
end)

-- INFO stats twice, interval seconds apart: hits and misses over that interval.
local function keyspace_rate(r, interval)
  local a = assert(r:info("stats"))
  rb.sleep(interval)
  local b = assert(r:info("stats"))
  local hits = (tonumber(b.keyspace_hits) or 0) - (tonumber(a.keyspace_hits) or 0)
  local misses = (tonumber(b.keyspace_misses) or 0) - (tonumber(a.keyspace_misses) or 0)
  return hits, misses, b
end

-- The key patterns (the key with digits and hex runs as *) holding the most
-- keys among up to limit scanned.
local function key_patterns(r, limit)
  local n, counts = 0, {}
  for key in r:scan { count = 1000 } do
    local pat = key:gsub("%x*%d%x*", "*")
    counts[pat] = (counts[pat] or 0) + 1
    n = n + 1
    if n >= limit then break end
  end
  local out = {}
  for pat, c in pairs(counts) do out[#out + 1] = { pattern = pat, keys = c } end
  table.sort(out, function(x, y) return x.keys > y.keys end)
  return out, n
end

S:investigate("Redis Analysis", function(ctx)
  local r <close> = tmi.redis(ctx)
  -- rates over an interval, not the totals since Redis started
  local hits, misses, stats = keyspace_rate(r, ctx.params.sample_seconds)
  local mem = assert(r:info("memory"))
  ctx:log(("over %ss: %d keyspace hits, %d misses; evicted %s, expired %s since start"):format(
    ctx.params.sample_seconds, hits, misses, tostring(stats.evicted_keys), tostring(stats.expired_keys)))
  ctx:log(("used memory %s, peak %s, maxmemory %s, policy %s"):format(tostring(mem.used_memory_human),
    tostring(mem.used_memory_peak_human), tostring(mem.maxmemory_human), tostring(mem.maxmemory_policy)))
  if hits + misses > 0 then
    ctx:check { name = ("Redis keyspace hit rate over %ss"):format(ctx.params.sample_seconds),
      value = hits * 100 / (hits + misses), warn = 80, crit = 50, unit = "%", higher_is_worse = false }
  else
    ctx:note(("no keyspace lookups in %ss: no hit rate"):format(ctx.params.sample_seconds))
  end
  local pats, scanned = key_patterns(r, ctx.params.scan_limit)
  ctx:log(("key patterns among %d keys scanned:"):format(scanned))
  for i, p in ipairs(pats) do
    if i > 5 then break end
    ctx:log(("  %7d  %s"):format(p.keys, p.pattern))
  end
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
  changes = { "Redis runtime configuration" },
  -- what these settings act on; the hit rate comes back with a warm cache (high-response-time: Warm up cache)
  verify = { { threshold = "redis_memory" } }, verify_timeout = 60 })

return S
