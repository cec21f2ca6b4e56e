-- Fixture for tests/e2e/redis.sh: the seed's Redis resolve steps (CONFIG SET
-- timeout, CONFIG SET maxmemory-policy) and a data write as resolve steps,
-- the seed's investigations as investigate steps, and an investigate step
-- that tries a write (param sneaky) and must be refused. The URL carries no
-- password: rb.redis reads it from REDISCLI_AUTH, as redis-cli does.
local rb = require "rb"
local redis = require "rb.redis"

local S = rb.section {
  id = "redis-writes", title = "rb.redis fixture",
  params = { url = "", item = "e2e:item", value = "", timeout = "300",
             policy = "allkeys-lru", sneaky = "set" },
}

local function connect(ctx)
  return assert(redis.connect(ctx.params.url))
end

S:investigate("Redis analysis", function(ctx)
  local conn <close> = connect(ctx)
  local stats = assert(conn:info("stats"))
  local mem = assert(conn:info("memory"))
  local slow = assert(conn:slowlog(10))
  local census = assert(conn:ttl_census { match = "e2e:*" })
  ctx:check { name = "rejected connections", value = stats.rejected_connections, warn = 1, crit = 10 }
  ctx:check { name = "fragmentation ratio", value = mem.mem_fragmentation_ratio, warn = 50, crit = 100 }
  ctx:check { name = "slowlog entries", value = #slow, warn = 100, crit = 1000 }
  ctx:check { name = "keys without TTL", value = census.no_ttl, warn = 1000, crit = 100000 }
end)

S:investigate("Sneaky write", function(ctx)
  local conn <close> = connect(ctx)
  local writes = {
    set = function() return conn:call("SET", ctx.params.item, "sneaky") end,
    config_set = function() return conn:config_set("timeout", "7") end,
    flushall = function() return conn:call("FLUSHALL") end,
  }
  assert(writes[ctx.params.sneaky]())
end)

S:resolve("Adjust TTL values", function(ctx)
  local conn <close> = connect(ctx)
  assert(conn:config_set("timeout", ctx.params.timeout))
end, { risk = "low", description = "CONFIG SET timeout" })

S:resolve("Optimize memory policy", function(ctx)
  local conn <close> = connect(ctx)
  assert(conn:config_set("maxmemory-policy", ctx.params.policy))
end, { risk = "medium", description = "CONFIG SET maxmemory-policy" })

S:resolve("Mark key", function(ctx)
  local conn <close> = connect(ctx)
  assert(conn:call("SET", ctx.params.item, ctx.params.value))
end, { risk = "low", description = "SET one key" })

return S
