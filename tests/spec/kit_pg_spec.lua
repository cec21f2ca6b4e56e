-- rb.pg's playbook kit against the lab's PostgreSQL: cancel_backend and
-- terminate_backend in every gate mode (refused in investigate, planned with
-- the privilege check in plan mode and not sent — the server's statement
-- log —, sent once when applied, and their effect on the victim session),
-- blocking_locks chains from real blocked sessions, locks{...}, whole libpq
-- error messages, unix-socket target labels, the shared timeout rule and the
-- no-argument connect rule.
local pg = require "rb.pg"
local gate = require "rb._gate"
local sys = require "rb._sys"

local DSN, SUPER, LOG = os.getenv("RB_TEST_PG_DSN"), os.getenv("RB_TEST_PG_SUPERDSN"), os.getenv("RB_TEST_PG_LOG")
local SOCKET, PORT = os.getenv("RB_TEST_PG_SOCKET"), os.getenv("RB_TEST_PG_PORT")
local RUNBOOK = os.getenv("RUNBOOK") or "build/runbook"

if not (DSN and SUPER and LOG) then
  describe("rb.pg kit", function() pending("RB_TEST_PG_DSN/SUPERDSN/LOG unset: start the lab") end)
  return
end

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
local function sleep(s) sys.sleep_ms(s * 1000) end
local UNIQ = ("kit%d_%d"):format(sys.getpid(), os.time())
local seq = 0
local function app() seq = seq + 1; return UNIQ .. "_" .. seq end

local function wait_until(what, fn)
  for _ = 1, 100 do
    local v = fn()
    if v then return v end
    sleep(0.1)
  end
  error("timed out waiting for " .. what)
end

local function read_from(offset)
  local f = assert(io.open(LOG))
  f:seek("set", offset)
  local t = f:read("a")
  f:close()
  return t
end
local function log_end()
  local f = assert(io.open(LOG))
  local n = f:seek("end")
  f:close()
  return n
end

-- How many times fn($1) ran with $1 = pid in the statement log since offset.
local function sent(offset, fn, pid)
  local n, armed = 0, false
  for line in read_from(offset):gmatch("[^\n]+") do
    if line:find("execute <unnamed>: SELECT " .. fn .. "($1) AS signalled", 1, true) then armed = true
    elseif armed and line:find("DETAIL:", 1, true) then
      if line:find("$1 = '" .. pid .. "'", 1, true) then n = n + 1 end
      armed = false
    end
  end
  return n
end

local admin
local function session(appname)
  return admin:query("SELECT pid, state, wait_event_type, usename::text AS usename FROM pg_stat_activity "
    .. "WHERE application_name = $1", appname)[1]
end

-- A psql session running sql in the background (up to secs); its output goes
-- to a file. Returns {app, pid (of the backend), out}.
local function background(dsn, sql, secs, want_state)
  local a, out = app(), os.tmpname()
  os.execute(("PGAPPNAME=%s timeout %d psql -X %s -c %s >%s 2>&1 &"):format(a, secs, q(dsn), q(sql), out))
  local s = wait_until("session " .. a, function()
    local r = session(a)
    return r and (want_state == nil or r.state == want_state or r.wait_event_type == want_state) and r
  end)
  return { app = a, pid = s.pid, out = out }
end

-- A session idle in a transaction after sql (psql reading from a pipe kept open).
local function idle_in_tx(dsn, sql, secs)
  local a = app()
  os.execute(("(echo %s; sleep %d) | PGAPPNAME=%s timeout %d psql -X -q %s >/dev/null 2>&1 &")
    :format(q("BEGIN; " .. sql), secs, a, secs + 2, q(dsn)))
  local s = wait_until("idle session " .. a, function()
    local r = session(a)
    return r and r.state == "idle in transaction" and r
  end)
  return { app = a, pid = s.pid }
end

local function output(b)
  local f = io.open(b.out)
  local t = f and f:read("a") or ""
  if f then f:close() end
  return t
end

describe("rb.pg kit", function()
  local conn
  local victims = {}
  setup(function()
    gate.set_mode("free")
    admin = assert(pg.connect(SUPER))
    assert(admin:exec("CREATE TABLE IF NOT EXISTS kit_locks (id int PRIMARY KEY, v int NOT NULL)"))
    assert(admin:exec("GRANT ALL ON kit_locks TO rb"))
    assert(admin:exec("INSERT INTO kit_locks VALUES (1, 0) ON CONFLICT (id) DO NOTHING"))
  end)
  teardown(function()
    gate.set_mode("free")
    admin:exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE '" .. UNIQ .. "%'")
    admin:close()
  end)
  before_each(function()
    gate.reset()
    gate.set_mode("free")
    conn = assert(pg.connect(DSN))
  end)
  after_each(function()
    gate.set_mode("free")
    gate.reset()
    conn:close()
    for _, v in ipairs(victims) do
      admin:exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", v.app)
      if v.out then os.remove(v.out) end
    end
    victims = {}
  end)

  local function victim(...)
    local v = background(...)
    victims[#victims + 1] = v
    return v
  end

  describe("cancel_backend / terminate_backend", function()
    it("are refused in investigate before anything is sent", function()
      local v = victim(DSN, "SELECT pg_sleep(20)", 25, "active")
      local from = log_end()
      gate.set_mode("investigate")
      for _, fn in ipairs { "cancel_backend", "terminate_backend" } do
        local ok, err = pcall(conn[fn], conn, v.pid)
        assert.is_false(ok)
        assert.matches("write refused in investigate: pg." .. fn, tostring(err))
      end
      gate.set_mode("free")
      assert.equal(0, sent(from, "pg_cancel_backend", v.pid) + sent(from, "pg_terminate_backend", v.pid))
      assert.equal("active", session(v.app).state, "the victim still runs its statement")
    end)

    it("in plan mode check the privilege, say it in the plan, and send nothing", function()
      local mine = victim(DSN, "SELECT pg_sleep(20)", 25, "active")
      local su = victim(SUPER, "SELECT pg_sleep(20)", 25, "active")
      local from = log_end()
      gate.set_mode("plan")
      local r1 = assert(conn:terminate_backend(mine.pid))
      local r2 = assert(conn:cancel_backend(su.pid))
      local r3 = assert(conn:terminate_backend(2147483000))
      local plan = gate.plan()
      gate.set_mode("free")
      assert.is_true(r1.planned)
      assert.is_true(r1.will_work)
      assert.matches("pg_terminate_backend%(" .. mine.pid .. "%) will work: rb has the privileges of that role", r1.why)
      assert.is_false(r2.will_work)
      assert.matches("will fail: pid " .. su.pid .. " is a client backend of a superuser", r2.why)
      assert.is_false(r3.will_work)
      assert.matches("is not a PostgreSQL backend", r3.why)
      assert.equal(3, #plan)
      assert.equal("terminate_backend", plan[1].op)
      assert.equal(r1.why, plan[1].simulated)
      assert.equal("cancel_backend", plan[2].op)
      assert.equal(0, sent(from, "pg_terminate_backend", mine.pid) + sent(from, "pg_cancel_backend", su.pid))
      assert.equal("active", session(mine.app).state)
      assert.equal("active", session(su.app).state)
    end)

    it("cancel_backend, applied, is sent once and cancels the running statement", function()
      local v = victim(DSN, "SELECT pg_sleep(20)", 25, "active")
      local from = log_end()
      gate.set_mode("plan")
      assert(conn:cancel_backend(v.pid))
      gate.confirm(gate.plan())
      gate.set_mode("apply")
      local r = assert(conn:cancel_backend(v.pid))
      gate.set_mode("free")
      assert.is_true(r.signalled)
      wait_until("the statement to be cancelled", function()
        return output(v):find("canceling statement due to user request", 1, true)
      end)
      assert.equal(1, sent(from, "pg_cancel_backend", v.pid))
    end)

    it("terminate_backend, applied, is sent once and ends the session; a pid not planned is refused", function()
      local v = victim(DSN, "SELECT pg_sleep(20)", 25, "active")
      local other = victim(DSN, "SELECT pg_sleep(20)", 25, "active")
      local from = log_end()
      gate.set_mode("plan")
      assert(conn:terminate_backend(v.pid))
      gate.confirm(gate.plan())
      gate.set_mode("apply")
      assert.has_error(function() conn:terminate_backend(other.pid) end)
      local r = assert(conn:terminate_backend(v.pid))
      gate.set_mode("free")
      assert.is_true(r.signalled)
      wait_until("the session to end", function() return session(v.app) == nil end)
      assert.equal(1, sent(from, "pg_terminate_backend", v.pid))
      assert.equal(0, sent(from, "pg_terminate_backend", other.pid))
      assert.equal("active", session(other.app).state)
    end)

    it("a backend the role may not signal: the server's error, the session untouched", function()
      local su = victim(SUPER, "SELECT pg_sleep(20)", 25, "active")
      local r, err = conn:terminate_backend(su.pid)
      assert.is_nil(r)
      assert.equal("sql", err.kind)
      assert.equal("42501", err.sqlstate)
      assert.matches("superuser", err.message .. " " .. (err.detail or ""))
      assert.equal("active", session(su.app).state)
    end)

    it("raise on a pid that is not a positive integer", function()
      assert.has_error(function() conn:terminate_backend("12") end)
      assert.has_error(function() conn:cancel_backend(0) end)
      assert.has_error(function() conn:cancel_backend(1.5) end)
    end)
  end)

  describe("blocking_locks", function()
    it("gives each chain's head with its state, transaction age and every session it blocks", function()
      local holder = idle_in_tx(DSN, "UPDATE kit_locks SET v = v + 1 WHERE id = 1;", 20)
      victims[#victims + 1] = holder
      local w1 = victim(DSN, "UPDATE kit_locks SET v = v + 10 WHERE id = 1", 25, "Lock")
      local w2 = victim(DSN, "UPDATE kit_locks SET v = v + 100 WHERE id = 1", 25, "Lock")
      sleep(0.3)
      local chains = assert(conn:blocking_locks())
      local chain
      for _, c in ipairs(chains) do if c.pid == holder.pid then chain = c end end
      assert.truthy(chain, "the holder heads a chain")
      for _, c in ipairs(chains) do
        for _, b in ipairs(c.blocked) do assert.are_not.equal(holder.pid, b.pid, "the head is not listed as blocked") end
      end
      assert.equal("idle in transaction", chain.state)
      assert.equal("rb", chain.user)
      assert.matches("UPDATE kit_locks SET v = v %+ 1 ", chain.query)
      assert.is_true(chain.xact_age_s > chain.max_wait_s)
      assert.is_true(chain.max_wait_s >= 0.3)
      local by_pid = {}
      for _, b in ipairs(chain.blocked) do by_pid[b.pid] = b end
      assert.truthy(by_pid[w1.pid] and by_pid[w2.pid], "both waiters are in the chain")
      assert.matches("v %+ 10 WHERE", by_pid[w1.pid].query)
      assert.equal("string", type(by_pid[w1.pid].waiting_since))
      assert.is_true(by_pid[w1.pid].waiting_s > 0)
      -- w2 queues behind w1 as well as the holder: it is in the chain once
      local seen = 0
      for _, b in ipairs(chain.blocked) do if b.pid == w2.pid then seen = seen + 1 end end
      assert.equal(1, seen)
    end)

    it("is empty when nothing waits", function()
      local chains = assert(conn:blocking_locks())
      for _, c in ipairs(chains) do
        for _, b in ipairs(c.blocked) do assert.is_nil(b.query:find("kit_locks", 1, true)) end
      end
    end)
  end)

  describe("locks", function()
    it("lists pg_locks with the session, filtered", function()
      local holder = idle_in_tx(DSN, "LOCK TABLE kit_locks IN SHARE MODE;", 20)
      victims[#victims + 1] = holder
      local w = victim(DSN, "UPDATE kit_locks SET v = 0 WHERE id = 1", 25, "Lock")
      local waiting = assert(conn:locks { relation = "kit_locks", granted = false })
      assert.equal(1, #waiting)
      assert.equal(w.pid, waiting[1].pid)
      assert.equal("RowExclusiveLock", waiting[1].mode)
      assert.equal("kit_locks", waiting[1].relation)
      assert.matches("UPDATE kit_locks", waiting[1].query)
      local held = assert(conn:locks { pid = holder.pid, mode = "ShareLock" })
      assert.equal(1, #held)
      assert.is_true(held[1].granted)
      assert.is_true(held[1].xact_age_s > 0)
    end)

    it("raises on an unknown option or a wrong type", function()
      assert.has_error(function() conn:locks { relaton = "x" } end, "bad argument #1 to 'locks' (unknown option 'relaton')")
      assert.has_error(function() conn:locks { pid = "1" } end)
      assert.has_error(function() conn:locks { limit = 0 } end)
    end)
  end)

  describe("vocabulary", function()
    it("keeps libpq's whole message (every address tried), not 180 characters of it", function()
      local c, err = pg.connect("host=127.0.0.1,127.0.0.1 port=1,2 dbname=rbtest user=rb connect_timeout=2")
      assert.is_nil(c)
      assert.equal("conn", err.kind)
      assert.matches('port 1 failed', err.message)
      assert.matches('port 2 failed', err.message)
      assert.is_true(#err.message > 180)
    end)

    it("labels a unix-socket connection unix:///dir?port=N&db=D", function()
      local c = assert(pg.connect(SUPER))
      assert.equal(("unix://%s?port=%s&db=rbtest"):format(SOCKET, PORT), c:target())
      c:close()
    end)

    it("reads every timeout with the one rule (seconds, above 0, at most a day)", function()
      for _, bad in ipairs { 0, -1, 86401, "5" } do
        assert.has_error(function() pg.connect(DSN, { connect_timeout = bad }) end)
        assert.has_error(function() conn:query { "SELECT 1", timeout = bad } end)
      end
      local ok, err = pcall(pg.connect, DSN, { statement_timeout = 0 })
      assert.is_false(ok)
      assert.matches("bad option 'statement_timeout' to 'connect' %(seconds expected", err)
      assert.truthy(conn:query { "SELECT 1 AS one", timeout = 86400 })
    end)

    it("pg.connect() with nothing configured is nil, err{kind = 'config'}", function()
      local script = os.tmpname()
      local f = assert(io.open(script, "w"))
      f:write([[local c, err = require("rb.pg").connect(); io.write(tostring(c), " ", err.kind, " ", tostring(err))]])
      f:close()
      local p = io.popen(("env -u DATABASE_URL -u PGHOST -u PGHOSTADDR -u PGSERVICE -u RUNBOOK_CONFIG %s lua %s 2>&1")
        :format(q(RUNBOOK), q(script)))
      local out = p:read("a")
      p:close()
      os.remove(script)
      assert.matches("^nil config config error: rb.pg: no PostgreSQL server configured", out)
    end)
  end)
end)
