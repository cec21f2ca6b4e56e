-- How a team tests its own playbook: run it with rb.testing against a real
-- service (here the lab's recording HTTP server) and assert on what a user
-- would see — findings, the plan, what reached the server, the audit chain.
local testing = require "rb.testing"

local SECTION = "examples/cache-warmup/cache-warmup.lua"
local base = assert(os.getenv("RB_TEST_HTTP_URL"), "run under tests/run (needs the lab's httprec)")
local log = os.getenv("RB_TEST_HTTP_LOG")

local function posts()
  local n = 0
  for line in io.lines(log) do
    if line:find('"method": "POST", "path": "/admin/cache/warmup"', 1, true) then n = n + 1 end
  end
  return n
end

describe("cache-warmup playbook", function()
  it("reports a healthy service as good", function()
    local res = assert(testing.run(SECTION, { set = { base = base }, investigate_only = true }))
    assert.equal(0, res.exit)
    assert.equal("good", testing.level(res, "health status"))
  end)

  it("plans exactly one POST and sends nothing in a dry run", function()
    local before = posts()
    local res = assert(testing.run(SECTION, { set = { base = base }, dry_run = true }))
    assert.equal(0, res.exit)
    local plan = res.steps["Warm up cache"].plan
    assert.equal(1, #plan)
    assert.equal("post", plan[1].op)
    assert.equal(base .. "/admin/cache/warmup", plan[1].target)
    assert.equal(before, posts())
    assert.is_true(res.audit_ok)
  end)

  it("is refused without a terminal or --yes", function()
    local before = posts()
    local res = assert(testing.run(SECTION, { set = { base = base } }))
    assert.equal(3, res.exit)
    assert.equal(before, posts())
  end)

  it("warms the cache once when approved", function()
    local before = posts()
    local res = assert(testing.run(SECTION, { set = { base = base }, yes = true }))
    assert.equal(0, res.exit)
    assert.equal(before + 1, posts())
  end)

  it("sees a failing service as critical", function()
    local res = assert(testing.run(SECTION, { set = { base = base .. "/status/503?" }, investigate_only = true }))
    assert.equal(4, res.exit)
    assert.equal("critical", testing.level(res, "health status"))
  end)
end)
