-- rb.pg against the lab's PostgreSQL 15 (tests/lab/services/pg.sh): typed rows,
-- the NULL rule, parameters, the one-statement and read-only rules, exec in
-- every gate mode (checked in the server's statement log), the seed helpers on
-- situations the test creates, and faults (refused port, silent listener,
-- backend killed mid-query).
local pg = require "rb.pg"
local gate = require "rb._gate"

local DSN, SUPER, LOG = os.getenv("RB_TEST_PG_DSN"), os.getenv("RB_TEST_PG_SUPERDSN"),
  os.getenv("RB_TEST_PG_LOG")
local RUNBOOK = os.getenv("RUNBOOK") or "build/runbook"

if not DSN then
  describe("rb.pg", function()
    pending("RB_TEST_PG_DSN is unset: start the lab (tests/run does) to run these specs")
  end)
  return
end

local PASSWORD = DSN:match("^postgresql://[^:]+:([^@]+)@")

local function sh(cmd) return os.execute(cmd) end
local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- A marker unique to this run, so log assertions see only this test's statements.
local seq = 0
local function marker(tag)
  seq = seq + 1
  return ("rbspec_%s_%d_%d"):format(tag, os.time(), seq)
end

local function log_lines(needle)
  local f, out = assert(io.open(LOG)), {}
  for line in f:lines() do
    if line:find(needle, 1, true) then out[#out + 1] = line end
  end
  f:close()
  return out
end

local function log_count(needle) return #log_lines(needle) end

local function super_exec(sql)
  gate.set_mode("free")
  local c = assert(pg.connect(SUPER))
  local r, err = c:exec(sql)
  c:close()
  return r, err
end

-- Ends the test's background sessions (those running a statement with marker m).
local function kill_marked(m)
  super_exec(("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%%%s%%' "
    .. "AND pid <> pg_backend_pid()"):format(m))
end

-- Runs psql in the background for at most `secs` seconds.
local function psql_bg(dsn, sql, secs)
  sh(("timeout %d psql -X -q %s -c %s >/dev/null 2>&1 &"):format(secs, q(dsn), q(sql)))
end

local sys = require "rb._sys"
local function sleep(s) sys.sleep_ms(s * 1000) end
local function monotonic() return sys.clock_ms() / 1000 end

describe("rb.pg", function()
  local conn

  before_each(function()
    gate.reset()
    gate.set_mode("free")
    conn = assert(pg.connect(DSN))
  end)
  after_each(function()
    gate.set_mode("free")
    gate.reset()
    conn:close()
  end)

  describe("query", function()
    it("returns rows keyed by column name with typed values and column metadata", function()
      local res = assert(conn:query([[
        SELECT 1::int2 AS i2, 2::int4 AS i4, 9007199254740993::int8 AS i8, 1.5::float4 AS f4,
               2.25::float8 AS f8, 3.125::numeric AS num, true AS yes, false AS no,
               'text'::text AS t, '2024-01-02 03:04:05+00'::timestamptz AS ts,
               'NaN'::float8 AS nan, '{"a":1}'::jsonb AS j]]))
      assert.equal(1, res.n)
      local r = res[1]
      assert.equal(math.tointeger(1), r.i2); assert.equal("integer", math.type(r.i2))
      assert.equal("integer", math.type(r.i4))
      assert.equal(9007199254740993, r.i8); assert.equal("integer", math.type(r.i8))
      assert.equal(1.5, r.f4); assert.equal(2.25, r.f8)
      assert.equal(3.125, r.num); assert.equal("float", math.type(r.num))
      assert.is_true(r.yes); assert.is_false(r.no)
      assert.equal("text", r.t)
      assert.equal("string", type(r.ts)); assert.truthy(r.ts:match("^2024%-01%-02 03:04:05"))
      assert.is_true(r.nan ~= r.nan)
      assert.equal('{"a": 1}', r.j)
      assert.same({ name = "i8", type = "int8", oid = 20 }, res.columns[3])
      assert.same({ name = "ts", type = "timestamptz", oid = 1184 }, res.columns[10])
      assert.equal("SELECT", res.command)
    end)

    it("gives each result its own shape when queries alternate", function()
      for _ = 1, 2 do
        local a = assert(conn:query("SELECT 1::int8 AS x, 'a' AS y"))
        local b = assert(conn:query("SELECT 1.5::float8 AS x"))
        local c = assert(conn:query("SELECT '1'::text AS x, 'a' AS y"))
        assert.same({ "int8", "text" }, { a.columns[1].type, a.columns[2].type })
        assert.equal(1, #b.columns); assert.equal("float8", b.columns[1].type)
        assert.equal("text", c.columns[1].type)
        assert.equal("integer", math.type(a[1].x)); assert.equal(1.5, b[1].x); assert.equal("1", c[1].x)
      end
    end)

    it("gives NULL as pg.null, which cjson encodes as null", function()
      local res = assert(conn:query("SELECT NULL::int AS n, 1 AS one"))
      assert.equal(pg.null, res[1].n)
      assert.is_true(pg.isnull(res[1].n))
      assert.is_false(pg.isnull(res[1].one))
      assert.equal(require("cjson").null, pg.null)
      assert.equal('{"n":null}', require("cjson").encode({ n = res[1].n }))
    end)

    it("returns an empty result with n = 0 and the columns", function()
      local res = assert(conn:query("SELECT 1 AS a WHERE false"))
      assert.equal(0, res.n)
      assert.equal(0, #res)
      assert.equal("a", res.columns[1].name)
    end)

    it("binds $n parameters: strings, integers, floats, booleans, nil and pg.null", function()
      local res = assert(conn:query("SELECT $1::text AS s, $2::int8 AS i, $3::float8 AS f, $4::bool AS b, "
        .. "$5::text IS NULL AS n5, $6::int IS NULL AS n6", "it's", 42, 0.5, true, nil, pg.null))
      assert.same({ s = "it's", i = 42, f = 0.5, b = true, n5 = true, n6 = true }, res[1])
      local inj = "x'; DROP TABLE nothing; --"
      assert.equal(inj, assert(conn:query("SELECT $1::text AS v", inj))[1].v)
    end)

    it("takes a call table with per-call options", function()
      local res = assert(conn:query { "SELECT $1::int + $2::int AS sum", 2, 3, timeout = 5 })
      assert.equal(5, res[1].sum)
    end)

    it("raises on misuse: missing parameters, bad parameter types, NUL bytes", function()
      assert.has_error(function() conn:query("SELECT $2::int", 1) end,
        "query: the SQL uses $2 but 1 parameter(s) were given")
      assert.has_error(function() conn:query("SELECT $1::text", {}) end)
      assert.has_error(function() conn:query("SELECT 1\0") end)
    end)

    it("runs exactly one statement", function()
      local m = marker("two")
      assert.has_error(function() conn:query("SELECT 1 AS " .. m .. "; SELECT 2") end,
        "query: exactly one SQL statement, got 2 (run them one call each)")
      assert.equal(0, log_count(m))
      assert(conn:query("SELECT ';' AS semi -- ; not a statement"))
    end)

    it("runs inside BEGIN READ ONLY ... ROLLBACK: UPDATE fails with 25006", function()
      assert(conn:exec("CREATE TABLE IF NOT EXISTS spec_ro (id int PRIMARY KEY, v text)"))
      assert(conn:exec("INSERT INTO spec_ro VALUES (1, 'before') ON CONFLICT (id) DO UPDATE SET v = 'before'"))
      local res, err = conn:query("UPDATE spec_ro SET v = 'after' WHERE id = 1")
      assert.is_nil(res)
      assert.equal("sql", err.kind)
      assert.equal("25006", err.sqlstate)
      assert.equal("cannot execute UPDATE in a read-only transaction", err.message)
      assert.is_false(err.retryable)
      assert.equal("before", assert(conn:query("SELECT v FROM spec_ro WHERE id = 1"))[1].v)
      for _, sql in ipairs { "SELECT * FROM spec_ro FOR UPDATE", "INSERT INTO spec_ro VALUES (9, 'x')",
        "WITH d AS (DELETE FROM spec_ro RETURNING id) SELECT * FROM d" } do
        local _, e = conn:query(sql)
        assert.equal("25006", e and e.sqlstate, sql)
      end
      -- the connection is usable after the error
      assert.equal(1, assert(conn:query("SELECT 1 AS one"))[1].one)
    end)

    it("is one statement in the read session; BEGIN READ ONLY ... ROLLBACK with a per-call timeout", function()
      assert(conn:query("SELECT 1 AS warm"))   -- the server check has learnt the volatile functions
      local begins = log_count("execute <unnamed>: BEGIN READ ONLY")
      local m = marker("fast")
      assert(conn:query("SELECT 1 AS " .. m))
      assert.equal(1, log_count(": SELECT 1 AS " .. m))
      -- a new statement text is first EXPLAINed (VERBOSE) in its own read-only transaction
      assert.equal(begins + 1, log_count("execute <unnamed>: BEGIN READ ONLY"))
      local m2 = marker("wrapped")
      assert(conn:query { "SELECT 1 AS " .. m2, timeout = 5 })
      assert.equal(begins + 3, log_count("execute <unnamed>: BEGIN READ ONLY"))
      local lines = log_lines("execute <unnamed>: ")
      local tail = {}
      for i = #lines - 3, #lines do tail[#tail + 1] = lines[i]:match("execute <unnamed>: (.*)$") end
      assert.same({ "BEGIN READ ONLY", "SET LOCAL statement_timeout = 5000", "SELECT 1 AS " .. m2, "ROLLBACK" }, tail)
    end)

    it("stays read-only after an exec turned the session default off", function()
      assert(conn:exec("SET default_transaction_read_only = off"))
      local _, err = conn:query("UPDATE spec_ro SET v = 'after' WHERE id = 1")
      assert.equal("25006", err.sqlstate)
      assert.equal("on", assert(conn:query("SHOW default_transaction_read_only"))[1].default_transaction_read_only)
    end)

    it("refuses side-effecting functions before sending", function()
      local m = marker("term")
      for _, sql in ipairs {
        "SELECT pg_terminate_backend(pg_backend_pid()) AS " .. m,
        "SELECT \"pg_terminate_backend\"(pg_backend_pid()) AS " .. m,
        "SELECT pg_catalog.pg_cancel_backend (1) AS " .. m,
        "SELECT set_config('statement_timeout', '0', false) AS " .. m,
        "SELECT query_to_xml('SELECT pg_reload_conf()', true, true, '') AS " .. m,
      } do
        local ok, err = pcall(conn.query, conn, sql)
        assert.is_false(ok, sql)
        assert.matches("has side effects even in a read%-only transaction", err)
      end
      assert.equal(0, log_count(m))
      -- text that merely mentions one is fine
      assert(conn:query("SELECT 'pg_terminate_backend(1)' AS s /* pg_cancel_backend(1) */"))
    end)

    it("refuses statements that are not queries (SET, DO, COMMIT, COPY)", function()
      for _, sql in ipairs { "SET statement_timeout = 0", "DO $$ BEGIN END $$", "COMMIT",
        "COPY spec_ro TO STDOUT" } do
        assert.has_error(function() conn:query(sql) end)
      end
    end)

    it("reports SQL errors with sqlstate, detail, hint and retryable", function()
      local res, err = conn:query("SELECT * FROM no_such_table")
      assert.is_nil(res)
      assert.equal("sql", err.kind)
      assert.equal("42P01", err.sqlstate)
      assert.equal('relation "no_such_table" does not exist', err.message)
      assert.equal('sql error: relation "no_such_table" does not exist', tostring(err))
      local _, e2 = conn:query("SELECT 'x'::int")
      assert.equal("22P02", e2.sqlstate)
      local _, e3 = conn:query("SELECT * FROM spec_ro WHERE nope = 1")
      assert.equal("42703", e3.sqlstate)
      assert.is_string(e3.hint or "no hint")
    end)

    it("enforces the statement timeout: kind timeout, retryable, connection still usable", function()
      local t0 = monotonic()
      local res, err = conn:query { "SELECT pg_sleep(5)", timeout = 0.3 }
      assert.is_nil(res)
      assert.equal("timeout", err.kind)
      assert.equal("57014", err.sqlstate)
      assert.is_true(err.retryable)
      assert.is_true(monotonic() - t0 < 3)
      assert.equal(1, assert(conn:query("SELECT 1 AS one"))[1].one)
    end)
  end)

  describe("exec", function()
    local function reset_table()
      assert(conn:exec("CREATE TABLE IF NOT EXISTS spec_ex (id int PRIMARY KEY, v text)"))
      assert(conn:exec("DELETE FROM spec_ex"))
      assert(conn:exec("INSERT INTO spec_ex VALUES (1, 'one'), (2, 'two')"))
    end
    local function v1() return assert(conn:query("SELECT v FROM spec_ex WHERE id = 1"))[1].v end

    it("executes in free mode and returns command and rows_affected", function()
      reset_table()
      local r = assert(conn:exec("UPDATE spec_ex SET v = $1 WHERE id >= $2", "x", 1))
      assert.equal("UPDATE", r.command)
      assert.equal(2, r.rows_affected)
      local ins = assert(conn:exec("INSERT INTO spec_ex VALUES (3, 'three') RETURNING id, v"))
      assert.equal("INSERT", ins.command)
      assert.same({ id = 3, v = "three" }, ins[1])
    end)

    it("keeps server notices in res.notices", function()
      reset_table()
      local r = assert(conn:exec("CREATE TABLE IF NOT EXISTS spec_ex (id int PRIMARY KEY, v text)"))
      assert.same({ 'NOTICE: relation "spec_ex" already exists, skipping' }, r.notices)
      assert.is_nil(assert(conn:query("SELECT 1")).notices)
    end)

    it("runs outside a transaction block, so VACUUM works", function()
      reset_table()
      local r = assert(conn:exec("VACUUM ANALYZE spec_ex"))
      assert.equal("VACUUM", r.command)
    end)

    it("raises in investigate before anything is sent", function()
      reset_table()
      local m = marker("inv")
      gate.set_mode("investigate")
      local ok, err = pcall(conn.exec, conn, "UPDATE spec_ex SET v = '" .. m .. "' WHERE id = 1")
      assert.is_false(ok)
      assert.matches("write refused in investigate: pg.exec", tostring(err))
      gate.set_mode("free")
      assert.equal(0, log_count(m))
      assert.equal("one", v1())
    end)

    it("in plan mode validates DML with EXPLAIN and never executes it", function()
      reset_table()
      local m = marker("plan")
      gate.set_mode("plan")
      local r = assert(conn:exec("UPDATE spec_ex SET v = $1 WHERE id = $2", m, 1))
      assert.same({ planned = true, command = "UPDATE" }, r)
      local plan = gate.plan()
      assert.equal(1, #plan)
      assert.equal("pg", plan[1].binding)
      assert.equal("exec", plan[1].op)
      assert.matches("^127%.0%.0%.1:%d+/rbtest$", plan[1].target)
      assert.is_true(plan[1].simulable)
      assert.matches("Update on spec_ex", plan[1].simulated)
      gate.set_mode("free")
      assert.equal("one", v1())
      -- the statement log shows it only as EXPLAIN's parameter
      local lines = log_lines("EXPLAIN UPDATE spec_ex SET v = $1 WHERE id = $2")
      assert.is_true(#lines >= 1)
      for _, line in ipairs(log_lines("execute <unnamed>: UPDATE spec_ex SET v = $1 WHERE id = $2")) do
        assert.is_nil(line) -- an UPDATE was executed: it must not be
      end
      assert.equal(0, #log_lines("execute <unnamed>: UPDATE spec_ex SET v = '" .. m))
    end)

    it("in plan mode reports an invalid statement as an error", function()
      gate.set_mode("plan")
      local r, err = conn:exec("UPDATE spec_ex SET nope = 1")
      assert.is_nil(r)
      assert.equal("42703", err.sqlstate)
    end)

    it("in plan mode labels what cannot be simulated and sends nothing", function()
      local m = marker("vac")
      gate.set_mode("plan")
      assert.same({ planned = true, command = "VACUUM" }, assert(conn:exec("VACUUM spec_ex /* " .. m .. " */")))
      assert.same({ planned = true, command = "SELECT" }, assert(conn:exec("SELECT pg_reload_conf() AS " .. m)))
      local plan = gate.plan()
      assert.equal(2, #plan)
      assert.is_false(plan[1].simulable)
      assert.is_false(plan[2].simulable)
      assert.equal(0, log_count(m))
    end)

    it("in apply mode executes the confirmed statement exactly once", function()
      reset_table()
      local m = marker("apply")
      local sql = "UPDATE spec_ex SET v = '" .. m .. "' WHERE id = 1"
      gate.set_mode("plan")
      assert(conn:exec(sql))
      gate.confirm(gate.plan())
      gate.set_mode("apply")
      local r = assert(conn:exec(sql))
      assert.equal(1, r.rows_affected)
      gate.set_mode("free")
      assert.equal(m, v1())
      assert.equal(1, #log_lines("execute <unnamed>: " .. sql))
    end)

    it("in apply mode refuses a statement that was not confirmed", function()
      reset_table()
      local m = marker("unplanned")
      gate.set_mode("plan")
      assert(conn:exec("UPDATE spec_ex SET v = 'planned' WHERE id = 1"))
      gate.confirm(gate.plan())
      gate.set_mode("apply")
      assert.has_error(function() conn:exec("UPDATE spec_ex SET v = '" .. m .. "' WHERE id = 1") end)
      gate.set_mode("free")
      assert.equal(0, log_count(m))
    end)
  end)

  describe("connection", function()
    it("accepts a table of libpq parameters", function()
      local port = DSN:match(":(%d+)/")
      local c = assert(pg.connect { host = "127.0.0.1", port = tonumber(port), dbname = "rbtest",
        user = "rb", password = PASSWORD, statement_timeout = 10 })
      assert.equal("127.0.0.1:" .. port .. "/rbtest", c:target())
      assert.equal("10s", assert(c:query("SHOW statement_timeout"))[1].statement_timeout)
      c:close()
    end)

    it("sets statement_timeout to 30 s by default", function()
      assert.equal("30s", assert(conn:query("SHOW statement_timeout"))[1].statement_timeout)
    end)

    local function child(env, code)
      local script = os.tmpname()
      local f = assert(io.open(script, "w"))
      f:write(code)
      f:close()
      local p = io.popen(("env -u DATABASE_URL %s %s lua %s 2>&1"):format(env, q(RUNBOOK), q(script)))
      local out = p:read("a")
      p:close()
      os.remove(script)
      return out
    end
    local SHOW = [[local c = assert(require("rb.pg").connect())
      io.write(c:target(), " ", c:query("SELECT current_user AS u")[1].u)]]

    it("honours libpq's PG* environment when no DSN is given", function()
      local port = DSN:match(":(%d+)/")
      local out = child(("PGHOST=127.0.0.1 PGPORT=%s PGUSER=rb PGDATABASE=rbtest PGPASSWORD=%s")
        :format(port, q(PASSWORD)), SHOW)
      assert.equal("127.0.0.1:" .. port .. "/rbtest rb", out)
    end)

    it("uses DATABASE_URL (the run's postgres target) when no DSN is given", function()
      local port = DSN:match(":(%d+)/")
      assert.equal("127.0.0.1:" .. port .. "/rbtest rb", child("DATABASE_URL=" .. q(DSN), SHOW))
    end)

    it("closes idempotently; a closed connection raises; <close> closes", function()
      local c = assert(pg.connect(DSN))
      c:close()
      c:close()
      assert.matches("closed", tostring(c))
      assert.has_error(function() c:query("SELECT 1") end, "attempt to use a closed connection")
      local held
      do
        local c2 <close> = assert(pg.connect(DSN))
        held = c2
        assert(c2:query("SELECT 1"))
      end
      assert.matches("closed", tostring(held))
    end)

    it("never shows the password, from a URI or a key/value DSN", function()
      local bad = DSN:gsub(":[^:@]+@", ":wrong" .. PASSWORD .. "@")
      local c, err = pg.connect(bad)
      assert.is_nil(c)
      assert.equal("conn", err.kind)
      assert.matches("password authentication failed", err.message)
      assert.is_nil(tostring(err):find(PASSWORD, 1, true))
      local port = DSN:match(":(%d+)/")
      local kv = ("host=127.0.0.1 port=%s dbname=nosuchdb user=rb password=kv%s"):format(port, PASSWORD)
      local c2, err2 = pg.connect(kv)
      assert.is_nil(c2)
      assert.is_nil(tostring(err2):find(PASSWORD, 1, true))
      assert.is_nil(tostring(err2):find("kv" .. PASSWORD, 1, true))
    end)
  end)

  describe("faults", function()
    it("a refused port is a conn error", function()
      local p = io.popen([[python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])']])
      local port = p:read("l")
      p:close()
      local t0 = monotonic()
      local c, err = pg.connect(("postgresql://rb:x@127.0.0.1:%s/rbtest"):format(port))
      assert.is_nil(c)
      assert.equal("conn", err.kind)
      assert.matches("refused", err.message)
      assert.is_true(monotonic() - t0 < 2)
    end)

    it("a listener that never answers is a timeout within the bound", function()
      local portfile = os.tmpname()
      sh(("timeout 10 python3 -c 'import socket,time\ns=socket.socket(); s.bind((\"127.0.0.1\",0)); s.listen(5)\n"
        .. "open(%q,\"w\").write(str(s.getsockname()[1]))\nc=[]\nwhile True: c.append(s.accept())' &"):format(portfile))
      local port
      for _ = 1, 50 do
        local f = io.open(portfile)
        port = f and f:read("l")
        if f then f:close() end
        if port and port ~= "" then break end
        sleep(0.1)
      end
      os.remove(portfile)
      assert.truthy(port and port ~= "")
      local t0 = monotonic()
      local c, err = pg.connect(("postgresql://rb:x@127.0.0.1:%s/rbtest"):format(port), { connect_timeout = 1 })
      local took = monotonic() - t0
      assert.is_nil(c)
      assert.equal("timeout", err.kind)
      assert.is_true(took >= 0.9 and took < 3, "took " .. took)
    end)

    it("a backend killed mid-query is a conn error, and the connection stays dead", function()
      local m = marker("kill")
      -- a background killer terminates the backend as soon as the query runs (bounded: 40 tries)
      local kill = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query LIKE '%%%s%%' "
        .. "AND pid <> pg_backend_pid()"):format(m .. "_q")
      sh(("for i in $(seq 40); do sleep 0.2; n=$(timeout 5 psql -X -q -t -A %s -c %s); "
        .. "[ \"$n\" = 1 ] && break; done >/dev/null 2>&1 &"):format(q(SUPER), q(kill)))
      local t0 = monotonic()
      local res, err = conn:query("SELECT pg_sleep(8) AS " .. m .. "_q")
      assert.is_nil(res)
      assert.equal("conn", err.kind)
      assert.equal("57P01", err.sqlstate)
      assert.is_true(err.retryable)
      assert.is_true(monotonic() - t0 < 7.5)
      local r2, err2 = conn:query("SELECT 1")
      assert.is_nil(r2)
      assert.equal("conn", err2.kind)
      local r3, err3 = conn:analyze("spec_ro")   -- escaping needs the connection too
      assert.is_nil(r3)
      assert.equal("conn", err3.kind)
    end)
  end)

  describe("helpers", function()
    it("activity finds a long-running query", function()
      local m = marker("act")
      psql_bg(DSN, "SELECT pg_sleep(8) AS " .. m, 10)
      local found
      for _ = 1, 40 do   -- psql may take a while to start on a busy machine
        sleep(0.2)
        for _, r in ipairs(assert(conn:activity { older_than = "1 second" })) do
          if r.query:find(m, 1, true) then found = r end
        end
        if found then break end
      end
      assert.truthy(found, "the pg_sleep query is listed")
      assert.is_true(found.duration_s >= 1)
      assert.equal("active", found.state)
      assert.equal("string", type(found.duration))
      kill_marked(m)
    end)

    it("blocking_locks finds who blocks whom", function()
      local m = marker("lock")
      assert(conn:exec("CREATE TABLE IF NOT EXISTS spec_lock (id int)"))
      psql_bg(DSN, "BEGIN; LOCK TABLE spec_lock IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(8) AS "
        .. m .. "_holder; COMMIT", 10)
      sleep(0.5)
      psql_bg(DSN, "SELECT count(*) AS " .. m .. "_waiter FROM spec_lock", 10)
      local found
      for _ = 1, 35 do
        sleep(0.2)
        for _, chain in ipairs(assert(conn:blocking_locks())) do
          for _, b in ipairs(chain.blocked) do
            if b.query:find(m .. "_waiter", 1, true) then found = { chain = chain, blocked = b } end
          end
        end
        if found then break end
      end
      assert.truthy(found, "the waiting SELECT is listed")
      assert.matches(m .. "_holder", found.chain.query)
      assert.equal("rb", found.blocked.user)
      assert.equal("integer", math.type(found.chain.pid))
      kill_marked(m)
    end)

    it("table_scan_stats finds a table with many sequential scans", function()
      assert(conn:exec("DROP TABLE IF EXISTS spec_scans"))
      assert(conn:exec("CREATE TABLE spec_scans (id int)"))
      assert(conn:exec("INSERT INTO spec_scans SELECT generate_series(1, 10)"))
      for _ = 1, 1010 do assert(conn:query("SELECT count(*) FROM spec_scans")) end
      assert(conn:query("SELECT pg_stat_force_next_flush()"))
      local found
      for _ = 1, 30 do
        for _, r in ipairs(assert(conn:table_scan_stats { min_seq_scan = 1000 })) do
          if r.tablename == "spec_scans" then found = r end
        end
        if found then break end
        sleep(0.2)
      end
      assert.truthy(found, "spec_scans is listed")
      assert.is_true(found.seq_scan > 1000)
      assert.equal("public", found.schemaname)
      local none = assert(conn:table_scan_stats { min_seq_scan = 1000000 })
      assert.equal(0, none.n)
    end)

    it("column_stats lists analyzed columns of a schema", function()
      assert(conn:exec("DROP TABLE IF EXISTS spec_cols"))
      assert(conn:exec("CREATE TABLE spec_cols (a int, b text)"))
      assert(conn:exec("INSERT INTO spec_cols SELECT g, 'x' || (g % 7) FROM generate_series(1, 500) g"))
      assert(conn:analyze("spec_cols"))
      local cols = {}
      for _, r in ipairs(assert(conn:column_stats { schema = "public" })) do
        if r.tablename == "spec_cols" then cols[r.attname] = r end
      end
      assert.truthy(cols.a and cols.b)
      assert.equal(7, cols.b.n_distinct)
      assert.equal(0, assert(conn:column_stats { schema = "no_such_schema" }).n)
    end)

    it("helpers raise on bad options", function()
      assert.has_error(function() conn:activity { older_than = 5 } end,
        "bad argument #1 to 'activity' (older_than must be an interval string)")
      assert.has_error(function() conn:table_scan_stats { min_seq_scan = "many" } end,
        "bad argument #1 to 'table_scan_stats' (min_seq_scan must be an integer)")
      assert.has_error(function() conn:column_stats("public") end,
        "bad argument #1 to 'column_stats' (table expected)")
    end)

    it("settings reads by name", function()
      local s = assert(conn:settings("work_mem", "shared_buffers"))
      assert.equal("kB", s.work_mem.unit)
      assert.is_string(s.shared_buffers.value)
      assert.is_nil(s.max_connections)
    end)

    it("alter_system + reload_conf change a setting; values are quoted, names checked", function()
      assert(conn:alter_system("work_mem", "8MB"))
      assert(conn:reload_conf())
      local v
      for _ = 1, 30 do
        local c = assert(pg.connect(DSN))
        v = assert(c:settings("work_mem")).work_mem.value
        c:close()
        if v == "8MB" then break end
        sleep(0.1)
      end
      assert.equal("8MB", v)
      local r, err = conn:alter_system("work_mem", "8MB'; DROP TABLE spec_cols; --")
      assert.is_nil(r)
      assert.equal("22023", err.sqlstate)
      assert(conn:query("SELECT count(*) FROM spec_cols"))
      assert.has_error(function() conn:alter_system("work_mem = 1; DROP TABLE spec_cols", "1") end)
      assert(conn:alter_system("work_mem", nil))
      assert(conn:reload_conf())
    end)

    it("write helpers are gated: planned, labelled, and sent nothing in plan mode", function()
      local m = marker("helpers")
      gate.set_mode("plan")
      assert.is_true(assert(conn:analyze()).planned)
      assert.is_true(assert(conn:vacuum_analyze("public.spec_cols")).planned)
      assert.is_true(assert(conn:alter_system("work_mem", m)).planned)
      assert.is_true(assert(conn:reload_conf()).planned)
      local plan = gate.plan()
      assert.equal(4, #plan)
      for _, a in ipairs(plan) do assert.is_false(a.simulable) end
      assert.matches('VACUUM ANALYZE \\"public\\".\\"spec_cols\\"', plan[2].args, 1, true)
      assert.equal(0, log_count(m))
      gate.set_mode("investigate")
      assert.has_error(function() conn:reload_conf() end)
    end)
  end)
end)
