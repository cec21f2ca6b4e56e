-- security: rb.pg reads only read (issue 11, item 1; issue 10, item 4).
-- Each case attempts the attack as an investigate step could, then asserts its
-- effect on the server: the victim backend still runs, the row is unchanged,
-- the index was not summarized, the statement never reached the log. A control
-- at the end of each group shows the same check sees the effect when the call
-- is a real write, so none of these tests can pass vacuously.
local pg = require "rb.pg"
local gate = require "rb._gate"
local sys = require "rb._sys"
local util = require "tests.spec.support.util"
local child = require "tests.spec.support.child"

local DSN, SUPER, LOG = os.getenv("RB_TEST_PG_DSN"), os.getenv("RB_TEST_PG_SUPERDSN"),
  os.getenv("RB_TEST_PG_LOG")
local RUNBOOK = os.getenv("RUNBOOK") or "build/runbook"

if not DSN then
  describe("security: rb.pg", function()
    pending("RB_TEST_PG_DSN is unset: start the lab (tests/run does) to run these specs")
  end)
  return
end

local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end
local UNIQ = ("%d_%d"):format(sys.getpid(), os.time())
local seq = 0
local function marker(tag)
  seq = seq + 1
  return ("rbsec_%s_%s_%d"):format(tag, UNIQ, seq)
end

-- The superuser's view of the server, through psql (not through rb.pg).
local function super(sql)
  return util.sh(("psql -X -q -A -t %s -c %s 2>&1"):format(q(SUPER), q(sql)))
end

local function log_count(needle)
  local n = 0
  for line in io.lines(LOG) do
    if line:find(needle, 1, true) then n = n + 1 end
  end
  return n
end

local function wait_until(what, seconds, fn)
  local deadline = sys.clock_ms() + seconds * 1000
  while sys.clock_ms() < deadline do
    local v = fn()
    if v then return v end
    sys.sleep_ms(50)
  end
  error("timed out waiting for " .. what)
end

-- A victim: another session of the same role (so pg_signal_backend could end
-- it), sleeping with a marker; returns its pid.
local function victim(m)
  util.sh(("timeout 60 psql -X -q %s -c %s >/dev/null 2>&1 &"):format(q(DSN),
    q(("SELECT pg_sleep(50) /* %s */"):format(m))))
  return wait_until("the victim backend", 10, function()
    local pid = super(("SELECT pid FROM pg_stat_activity WHERE query LIKE '%%%s */' AND pid <> pg_backend_pid()")
      :format(m))
    return tonumber(pid)
  end)
end

local function alive(pid)
  return super(("SELECT count(*) FROM pg_stat_activity WHERE pid = %d"):format(pid)) == "1"
end

describe("security: rb.pg reads", function()
  local conn

  setup(function()
    gate.reset()
    gate.set_mode("free")
    -- what a shared database may hold: a view and a function that hide effects
    -- from the text of a query
    assert(super(([[
      DROP TABLE IF EXISTS sec_row CASCADE;
      CREATE TABLE sec_row (id int PRIMARY KEY, v text);
      INSERT INTO sec_row VALUES (1, 'before');
      GRANT ALL ON sec_row TO rb;
      CREATE OR REPLACE FUNCTION sec_kill(p int) RETURNS boolean LANGUAGE plpgsql
        AS 'BEGIN RETURN pg_terminate_backend(p); END';
      CREATE OR REPLACE VIEW sec_kill_view AS
        SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity
        WHERE query LIKE '%%rbsec_view_target%%' AND pid <> pg_backend_pid();
      CREATE OR REPLACE VIEW sec_dblink_view AS
        SELECT dblink_exec(%s, 'UPDATE sec_row SET v = ''after'' WHERE id = 1') AS r;
      GRANT SELECT ON sec_kill_view, sec_dblink_view TO rb;
      DROP TABLE IF EXISTS sec_brin;
      CREATE TABLE sec_brin (n int) WITH (autovacuum_enabled = off);
      CREATE INDEX sec_brin_idx ON sec_brin USING brin (n) WITH (pages_per_range = 1);
      INSERT INTO sec_brin SELECT generate_series(1, 20000);
      GRANT ALL ON sec_brin TO rb;
      SELECT 'ok';]]):format("'" .. DSN .. "'")):match("ok$"))
  end)

  before_each(function()
    gate.reset()
    gate.set_mode("free")
    conn = assert(pg.connect(DSN))
    gate.set_mode("investigate")
  end)
  after_each(function()
    gate.set_mode("free")
    gate.reset()
    conn:close()
  end)

  it("pg_terminate_backend however it is spelled leaves the victim backend alive", function()
    local m = marker("victim")
    local pid = victim(m)
    local spellings = {
      'SELECT U&"pg_terminate\\005Fbackend"($1)',
      'SELECT u&"\\0070g_terminate_backend"($1)',
      'SELECT U&"pg_terminate\\+00005Fbackend"($1)',
      [[SELECT U&"pg!005fterminate!005fbackend" UESCAPE '!' ($1)]],
      'SELECT "pg_terminate_backend"($1)',
      'SELECT pg_catalog.pg_terminate_backend($1)',
      'SELECT PG_CATALOG.PG_TERMINATE_BACKEND ($1)',
      'SELECT "pg_catalog"."pg_terminate_backend"($1)',
      'SELECT pg_catalog.U&"pg_cancel\\005Fbackend"($1)',
      'SELECT * FROM pg_terminate_backend /* c */ ($1)',
      'SELECT sec_kill($1)',                              -- a function that hides the call
      'SELECT public.sec_kill($1::int)',
    }
    for _, sql in ipairs(spellings) do
      local ok, err = pcall(conn.query, conn, sql, pid)
      assert.is_false(ok, sql)
      assert.matches("refused", tostring(err), 1, true)
      assert.is_true(alive(pid), sql)
    end
    -- control: the same check sees a backend ended by a real write
    gate.set_mode("free")
    assert(conn:exec("SELECT pg_terminate_backend($1)", pid))
    wait_until("the victim to end", 5, function() return not alive(pid) end)
  end)

  it("a view that terminates backends is refused by what the server says it calls", function()
    local m = marker("rbsec_view_target")
    local pid = victim(m)
    local ok, err = pcall(conn.query, conn, "SELECT * FROM sec_kill_view")
    assert.is_false(ok)
    assert.matches("pg_terminate_backend() is volatile", tostring(err), 1, true)
    assert.is_true(alive(pid))
    gate.set_mode("free")
    assert(conn:exec("SELECT pg_terminate_backend($1)", pid))
  end)

  it("dblink_exec cannot commit an UPDATE from a read, however it is reached", function()
    local link = "'" .. DSN .. "'"
    local attempts = {
      ("SELECT dblink_exec(%s, 'UPDATE sec_row SET v = ''after'' WHERE id = 1')"):format(link),
      ([[SELECT U&"dblink\005Fexec"(%s, 'UPDATE sec_row SET v = ''after'' WHERE id = 1')]]):format(link),
      ([[SELECT * FROM "public"."dblink_exec"(%s, 'UPDATE sec_row SET v = ''after'' WHERE id = 1')]]):format(link),
      ("SELECT * FROM dblink(%s, 'UPDATE sec_row SET v = ''after'' WHERE id = 1 RETURNING 1') AS t(x int)")
        :format(link),
      "SELECT * FROM sec_dblink_view",
      "WITH x AS (SELECT r FROM sec_dblink_view) SELECT * FROM x",
    }
    for _, sql in ipairs(attempts) do
      local ok = pcall(conn.query, conn, sql)
      assert.is_false(ok, sql)
      assert.equal("before", super("SELECT v FROM sec_row WHERE id = 1"), sql)
    end
    -- control: the same UPDATE through dblink as a real write changes the row
    gate.set_mode("free")
    assert(conn:exec(attempts[1]))
    assert.equal("after", super("SELECT v FROM sec_row WHERE id = 1"))
    super("UPDATE sec_row SET v = 'before' WHERE id = 1")
  end)

  it("index maintenance does not run from a read", function()
    for _, sql in ipairs {
      "SELECT brin_summarize_new_values('sec_brin_idx'::regclass)",
      "SELECT brin_summarize_range('sec_brin_idx'::regclass, 0)",
      [[SELECT "brin_summarize_new_values"('sec_brin_idx')]],
      "SELECT gin_clean_pending_list('sec_brin_idx'::regclass)",
    } do
      assert.is_false(pcall(conn.query, conn, sql), sql)
    end
    -- nothing was summarized: the superuser still finds every range to do
    local done = tonumber(super("SELECT brin_summarize_new_values('sec_brin_idx'::regclass)"))
    assert.is_true(done > 10, "ranges left unsummarized: " .. tostring(done))
  end)

  it("other families with effects are refused: advisory locks, set_config, sequences, large objects, notify",
    function()
    super("CREATE SEQUENCE IF NOT EXISTS sec_seq; GRANT ALL ON sec_seq TO rb")
    local before = super("SELECT last_value FROM sec_seq")
    for _, sql in ipairs {
      "SELECT pg_advisory_lock(4242)", "SELECT pg_try_advisory_xact_lock(1)",
      "SELECT set_config('work_mem', '1GB', false)", "SELECT nextval('sec_seq')",
      "SELECT setval('sec_seq', 99)", "SELECT lo_create(0)", "SELECT lo_from_bytea(0, 'x')",
      "SELECT pg_notify('c', 'x')", "SELECT pg_reload_conf()", "SELECT pg_rotate_logfile()",
      "SELECT pg_switch_wal()", "SELECT pg_cancel_backend(1)",
    } do
      assert.is_false(pcall(conn.query, conn, sql), sql)
    end
    assert.equal(before, super("SELECT last_value FROM sec_seq"))
    assert.equal("0", super("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"))
    assert.equal("0", super("SELECT count(*) FROM pg_largeobject_metadata"))
  end)

  it("diagnostics that only read still run: volatile functions on the allow-list", function()
    local r = assert(conn:query(
      "SELECT pid, pg_blocking_pids(pid) AS b, clock_timestamp() AS t FROM pg_stat_activity LIMIT 1"))
    assert.equal(1, r.n)
    assert(conn:query("SELECT pg_relation_size('sec_row') AS s"))
  end)

  it("an investigate-mode exec is refused and nothing reaches the server", function()
    local m = marker("exec")
    assert.has_error(function()
      conn:exec(("UPDATE sec_row SET v = 'after' WHERE id = 1 /* %s */"):format(m))
    end)
    assert.equal(0, log_count(m))
    assert.equal("before", super("SELECT v FROM sec_row WHERE id = 1"))
  end)

  it("a dry run (plan mode) sends no write: only the EXPLAIN that validates it", function()
    gate.set_mode("plan")
    local m = marker("plan")
    local r = assert(conn:exec(("UPDATE sec_row SET v = 'after' WHERE id = 1 /* %s */"):format(m)))
    assert.is_true(r.planned)
    local n = log_count(m)
    assert.is_true(n > 0)
    assert.equal(n, log_count(": EXPLAIN UPDATE sec_row SET v = 'after' WHERE id = 1 /* " .. m))
    local m2 = marker("vacuum")
    assert(conn:exec(("VACUUM sec_row /* %s */"):format(m2)))   -- cannot be simulated: nothing sent
    assert.equal(0, log_count(m2))
    assert.equal("before", super("SELECT v FROM sec_row WHERE id = 1"))
  end)

  it("^C during a long query ends `runbook lua` within a second and cancels the statement", function()
    local m = marker("sleep")
    local c = child.start(RUNBOOK, ([[
      local pg = require "rb.pg"
      local c = assert(pg.connect(os.getenv("RB_TEST_PG_DSN")))
      c:query("SELECT pg_sleep(30) AS %s")
    ]]):format(m))
    wait_until("the query to run", 10, function()
      return super(("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30) AS %s'")
        :format(m)) == "1"
    end)
    local ms = c:interrupt()
    assert.matches("interrupted", c:output(), 1, true)
    c:cleanup()
    assert.is_true(ms < 1000, ("exited %.0f ms after SIGINT"):format(ms))
    -- the server stopped working for it too (PQcancel, then the session closed)
    wait_until("the backend to go", 2, function()
      return super(("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%%AS %s'"):format(m)) == "0"
    end)
  end)
end)
