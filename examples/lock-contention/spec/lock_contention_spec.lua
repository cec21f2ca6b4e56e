-- The lock-contention playbook against the lab's real PostgreSQL: a session
-- left idle in a transaction after an UPDATE (psql reading from a pipe that
-- stays open) blocks a second UPDATE of the same row. The playbook names the
-- blocker, plans its termination without sending it in a dry run (the
-- server's statement log), terminates exactly that session once with --yes,
-- and the blocked UPDATE then completes.
--   RUNBOOK_CONFIG=/tmp/runbook-lab/config.yaml runbook lua /usr/bin/busted examples/lock-contention/spec
-- (the statement-log assertions need RB_TEST_PG_LOG, which the lab's env files set)
local testing = require "rb.testing"
local pg = require "rb.pg"

local SECTION = "examples/lock-contention/lock-contention.lua"
local DSN = os.getenv("RB_TEST_PG_DSN") or require("rb").target("postgres")   -- --config/--env, DATABASE_URL
local LOG = os.getenv("RB_TEST_PG_LOG")    -- the lab's statement log (log_statement = all)

if not DSN then
  describe("lock-contention playbook", function()
    pending("needs a PostgreSQL: a postgres target (--config/--env, DATABASE_URL) or RB_TEST_PG_DSN")
  end)
  return
end

local HOLDER, WAITER = "lc-spec-holder", "lc-spec-waiter"

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local function db() return assert(pg.connect(DSN)) end

local function sessions(app)
  local c <close> = db()
  local rows = assert(c:query("SELECT pid, state, wait_event_type FROM pg_stat_activity WHERE application_name = $1", app))
  return rows
end

local function wait_until(cond)
  for _ = 1, 60 do
    if cond() then return true end
    os.execute("sleep 0.2")
  end
  return false
end

local function log_size()
  if not LOG then return 0 end
  local f = assert(io.open(LOG))
  local n = f:seek("end")
  f:close()
  return n
end

-- Statement-log lines since offset that ran fn($1) with $1 = pid.
local function signals_sent(since, fn, pid)
  if not LOG then return nil end
  local f = assert(io.open(LOG))
  f:seek("set", since)
  local n, armed = 0, false
  for line in f:lines() do
    if line:find("execute <unnamed>: SELECT " .. fn .. "($1)", 1, true) then
      armed = true
    elseif armed and line:find("DETAIL:", 1, true) then
      if line:find("$1 = '" .. pid .. "'", 1, true) then n = n + 1 end
      armed = false
    end
  end
  f:close()
  return n
end

describe("lock-contention playbook", function()
  local holder_shell, waiter_out, holder_pid
  local set = { dsn = DSN, min_wait = 1, settle = 10 }

  before_each(function()
    local c <close> = db()
    assert(c:exec("CREATE TABLE IF NOT EXISTS lc_spec (id int PRIMARY KEY, v int NOT NULL)"))
    assert(c:exec("INSERT INTO lc_spec VALUES (1, 0) ON CONFLICT (id) DO UPDATE SET v = 0"))
    -- the holder: UPDATE in an open transaction, then idle (its input stays open for 40 s)
    local p = io.popen(("(echo 'BEGIN; UPDATE lc_spec SET v = v + 1 WHERE id = 1;'; sleep 40) | "
      .. "PGAPPNAME=%s timeout 45 psql -X -q %s >/dev/null 2>&1 & echo $!"):format(HOLDER, q(DSN)))
    holder_shell = p:read("l")
    p:close()
    assert.is_true(wait_until(function()
      local r = sessions(HOLDER)[1]
      return r ~= nil and r.state == "idle in transaction"
    end), "the holder is idle in its transaction")
    holder_pid = sessions(HOLDER)[1].pid
    -- the waiter: the same row; what it prints tells whether it got through
    waiter_out = os.tmpname()
    os.execute(("PGAPPNAME=%s timeout 45 psql -X %s -c 'UPDATE lc_spec SET v = v + 10 WHERE id = 1' > %s 2>&1 &")
      :format(WAITER, q(DSN), waiter_out))
    assert.is_true(wait_until(function()
      local r = sessions(WAITER)[1]
      return r ~= nil and r.wait_event_type == "Lock"
    end), "the waiter waits for the lock")
    os.execute("sleep 1.2")    -- past min_wait
  end)

  after_each(function()
    local c <close> = db()
    for _, app in ipairs { HOLDER, WAITER } do
      for _, r in ipairs(sessions(app)) do c:exec("SELECT pg_terminate_backend($1)", r.pid) end
    end
    os.execute("pkill -P " .. holder_shell .. " 2>/dev/null; kill " .. holder_shell .. " 2>/dev/null")
    os.remove(waiter_out)
  end)

  local function waiter_done()
    local f = io.open(waiter_out)
    local text = f and f:read("a") or ""
    if f then f:close() end
    return text:find("UPDATE 1", 1, true) ~= nil
  end

  it("names the blocker, its state and statement, and the session it blocks", function()
    local res = assert(testing.run(SECTION, { set = set, investigate_only = true }))
    assert.equal("warning", testing.level(res, "sessions waiting for a lock"))
    local logs = table.concat(res.steps["Blocking chains"].logs, "\n")
    assert.matches("pid " .. holder_pid .. " %(rb, idle in transaction", logs)
    assert.matches("UPDATE lc_spec SET v = v %+ 1", logs)
    assert.matches("waiting since .-: UPDATE lc_spec SET v = v %+ 10", logs)
    -- the waiter's lock: a NULL relation (a transactionid lock) is named by its type, never "userdata"
    local waits = table.concat(res.steps["Waiting locks"].logs, "\n")
    assert.matches("pid %d+ waits for %a+ on [%w_]+ %(active%): UPDATE lc_spec SET v = v %+ 10", waits)
    assert.is_nil(waits:find("userdata", 1, true), waits)
    assert.is_true(#sessions(HOLDER) == 1 and not waiter_done(), "investigating changed nothing")
  end)

  it("plans the termination of exactly the blocker and sends nothing in a dry run", function()
    local from = log_size()
    local res = assert(testing.run(SECTION, { set = set, dry_run = true }))
    assert.equal(0, res.exit)
    local plan = res.steps["Terminate the head blocker"].plan
    assert.equal(1, #plan)
    assert.equal("terminate_backend", plan[1].op)
    assert.matches("%[" .. holder_pid .. "%]", plan[1].args)
    local logs = table.concat(res.steps["Terminate the head blocker"].logs, "\n")
    assert.matches("pg_terminate_backend%(" .. holder_pid .. "%) will work", logs)
    assert.equal(0, #res.steps["Cancel the head blocker's statement"].plan, "an idle blocker has no statement to cancel")
    if LOG then assert.equal(0, signals_sent(from, "pg_terminate_backend", holder_pid)) end
    assert.equal(1, #sessions(HOLDER), "the blocker is still there")
    assert.is_false(waiter_done())
  end)

  it("terminates the blocker once with --yes, and the blocked UPDATE completes", function()
    local from = log_size()
    local res = assert(testing.run(SECTION, { set = set, yes = true }))
    assert.equal(0, res.exit)
    if LOG then assert.equal(1, signals_sent(from, "pg_terminate_backend", holder_pid)) end
    assert.is_true(wait_until(function() return #sessions(HOLDER) == 0 end), "the blocker's session is gone")
    assert.is_true(wait_until(waiter_done), "the blocked UPDATE went through")
    assert.equal("good", testing.level(res, "chains still blocked by a terminated head"))
    assert.is_true(res.audit_ok)
  end)
end)
