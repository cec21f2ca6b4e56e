-- The pg-idle-sessions playbook against the lab's real PostgreSQL: sessions
-- left idle in a transaction (psql reading from a pipe that stays open) are
-- found, planned for termination without being touched in a dry run, and
-- ended with --yes.
local testing = require "rb.testing"
local pg = require "rb.pg"

local SECTION = "examples/pg-idle-sessions/pg-idle-sessions.lua"
local dsn = assert(os.getenv("RB_TEST_PG_DSN"), "run under tests/run (needs the lab's PostgreSQL)")
local APP = "spec-idle"

-- three psql sessions that BEGIN, then wait on their input for up to 30 s
local function open_idle(n)
  local pids = {}
  for _ = 1, n do
    local p = io.popen(("(echo 'BEGIN; SELECT 1;'; sleep 30) | PGAPPNAME=%s timeout 40 psql '%s' >/dev/null 2>&1 & echo $!")
      :format(APP, dsn))
    pids[#pids + 1] = p:read("l")
    p:close()
  end
  return pids
end

local function idle_count()
  local db <close> = assert(pg.connect(dsn))
  return assert(db:query("SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle in transaction'", APP))[1].n
end

local function wait_for(n)
  for _ = 1, 50 do
    if idle_count() == n then return true end
    os.execute("sleep 0.2")
  end
  return false
end

describe("pg-idle-sessions playbook", function()
  local shells
  local set = { dsn = dsn, idle_for = "1 second", application = APP }
  before_each(function()
    shells = open_idle(3)
    assert.is_true(wait_for(3), "three sessions idle in transaction")
    os.execute("sleep 1.2")
  end)
  after_each(function()
    for _, pid in ipairs(shells) do os.execute("pkill -P " .. pid .. " 2>/dev/null; kill " .. pid .. " 2>/dev/null") end
    wait_for(0)
  end)

  it("finds them", function()
    local res = assert(testing.run(SECTION, { set = set, investigate_only = true }))
    assert.equal("warning", testing.level(res, "sessions idle in transaction for over 1 second"))
  end)

  it("plans one termination each and ends none in a dry run", function()
    local res = assert(testing.run(SECTION, { set = set, dry_run = true }))
    assert.equal(0, res.exit)
    local plan = res.steps["End idle-in-transaction sessions"].plan
    assert.equal(3, #plan)
    assert.equal("exec", plan[1].op)
    assert.equal(3, idle_count())
  end)

  it("ends them with --yes, and the audit chain holds", function()
    local res = assert(testing.run(SECTION, { set = set, yes = true }))
    assert.equal(0, res.exit)
    assert.is_true(wait_for(0), "the sessions are gone")
    assert.is_true(res.audit_ok)
  end)
end)
