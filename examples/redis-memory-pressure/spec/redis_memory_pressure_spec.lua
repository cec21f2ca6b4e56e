-- The redis-memory-pressure playbook against the lab's real Redis: the plan
-- names every key it will expire, a dry run leaves them alone, --yes sets
-- each TTL once, and a key that appears between plan and apply is not touched.
local testing = require "rb.testing"
local redis = require "rb.redis"

local SECTION = "examples/redis-memory-pressure/redis-memory-pressure.lua"
local url = assert(os.getenv("RB_TEST_REDIS_URL"), "run under tests/run (needs the lab's Redis)")

local function admin() return assert(redis.connect(url)) end   -- runbook lua: free mode

local function ttl(r, key) return assert(r:call("TTL", key)) end

describe("redis-memory-pressure playbook", function()
  local r, policy
  before_each(function()
    r = admin()
    policy = assert(r:config_get("maxmemory-policy"))["maxmemory-policy"]
    for i = 1, 20 do assert(r:call("SET", "spec:session:" .. i, "x")) end
    assert(r:call("SET", "spec:session:kept", "x", "EX", 100))
  end)
  after_each(function()
    for key in r:scan { match = "spec:session:*" } do r:call("DEL", key) end
    r:config_set("maxmemory-policy", policy)
    r:close()
  end)

  it("finds the keys that never expire", function()
    local res = assert(testing.run(SECTION, { set = { redis_url = url, stale_pattern = "spec:session:*" },
      investigate_only = true }))
    assert.equal("warning", testing.level(res, "keys without TTL matching spec:session:*"))
    assert.is_true(res.audit_ok)
  end)

  it("plans one EXPIRE per stale key and changes nothing in a dry run", function()
    local res = assert(testing.run(SECTION, { set = { redis_url = url, stale_pattern = "spec:session:*" },
      dry_run = true, step = "Expire stale keys" }))
    assert.equal(0, res.exit)
    local plan = res.steps["Expire stale keys"].plan
    assert.equal(20, #plan)
    assert.equal("EXPIRE", plan[1].op)
    assert.equal(-1, ttl(r, "spec:session:1"))
  end)

  it("applies exactly the plan with --yes", function()
    r:config_set("maxmemory-policy", "noeviction")
    local res = assert(testing.run(SECTION, { set = { redis_url = url, stale_pattern = "spec:session:*" }, yes = true }))
    assert.equal(0, res.exit)
    for i = 1, 20 do
      local t = ttl(r, "spec:session:" .. i)
      assert.is_true(t > 0 and t <= 3600, "key " .. i .. " ttl " .. t)
    end
    assert.is_true(ttl(r, "spec:session:kept") <= 100)
    assert.equal("allkeys-lru", assert(r:config_get("maxmemory-policy"))["maxmemory-policy"])
    assert.is_true(res.audit_ok)
  end)
end)
