-- security: rb.redis reads only read (issue 11, item 1; issue 10, item 4).
-- Every case attempts the call as an investigate step could and asserts on the
-- server: SLOWLOG length, INFO commandstats (how many times each command
-- ran), the key space, CLIENT LIST. Controls show the same checks see a real
-- write, so none of these tests can pass vacuously.
local redis = require "rb.redis"
local gate = require "rb._gate"
local sys = require "rb._sys"
local child = require "tests.spec.support.child"

local URL = os.getenv("RB_TEST_REDIS_URL")
local RUNBOOK = os.getenv("RUNBOOK") or "build/runbook"

if not URL then
  describe("security: rb.redis", function()
    pending("RB_TEST_REDIS_URL is unset: start the lab (tests/run does) to run these specs")
  end)
  return
end

local UNIQ = ("%d-%d"):format(sys.getpid(), os.time())
local function key(name) return "rbsec:" .. UNIQ .. ":" .. name end

local function wait_until(what, seconds, fn)
  local deadline = sys.clock_ms() + seconds * 1000
  while sys.clock_ms() < deadline do
    local v = fn()
    if v then return v end
    sys.sleep_ms(20)
  end
  error("timed out waiting for " .. what)
end

describe("security: rb.redis", function()
  local admin, conn   -- admin: the test's own view (free mode); conn: the runbook's

  local function calls(cmd)       -- how many times the server ran cmd (INFO commandstats)
    local info = assert(admin:info("commandstats"))
    local s = info["cmdstat_" .. cmd]
    return s and s.calls or 0
  end

  local function slowlog_len() return assert(admin:call("SLOWLOG", "LEN")) end

  before_each(function()
    gate.reset()
    gate.set_mode("free")
    admin = assert(redis.connect(URL))
    conn = assert(redis.connect(URL))
    for _ = 1, 30 do assert(admin:call("PING")) end   -- every command is slow-logged in the lab
  end)
  after_each(function()
    gate.set_mode("free")
    gate.reset()
    conn:close()
    admin:close()
  end)

  it("scripts are writes, _RO forms included: the slowlog survives EVAL_RO 'SLOWLOG RESET'", function()
    local sha = assert(admin:call("SCRIPT", "LOAD", 'return redis.call("SLOWLOG", "RESET")'))
    local before = slowlog_len()
    assert.is_true(before >= 30)
    local evals = { eval = calls("eval"), eval_ro = calls("eval_ro"), evalsha_ro = calls("evalsha_ro"),
                    fcall_ro = calls("fcall_ro"), slowlog = calls("slowlog|reset") }
    gate.set_mode("investigate")
    for _, cmd in ipairs {
      { "EVAL_RO", 'return redis.call("SLOWLOG", "RESET")', 0 },
      { "eval_ro", 'return redis.call("slowlog", "reset")', 0 },
      { "EVALSHA_RO", sha, 0 },
      { "EVAL", 'return redis.call("SLOWLOG", "RESET")', 0 },
      { "FCALL_RO", "nosuchfn", 0 },
      { "SCRIPT", "FLUSH" },
      { "FUNCTION", "FLUSH" },
      { "SLOWLOG", "RESET" },
      { "slowlog", "reset" },
    } do
      local ok, err = pcall(conn.call, conn, table.unpack(cmd))
      assert.is_false(ok, cmd[1])
      assert.matches("write refused in investigate", tostring(err), 1, true)
    end
    -- same for a pipeline: refused before anything is sent
    assert.is_false(pcall(conn.pipeline, conn, { { "PING" }, { "EVAL_RO", "return 1", 0 } }))
    gate.set_mode("free")
    assert.is_true(slowlog_len() >= before)
    assert.equal(evals.eval, calls("eval"))
    assert.equal(evals.eval_ro, calls("eval_ro"))
    assert.equal(evals.evalsha_ro, calls("evalsha_ro"))
    assert.equal(evals.fcall_ro, calls("fcall_ro"))
    assert.equal(evals.slowlog, calls("slowlog|reset"))
    assert.is_true(assert(admin:call("SCRIPT", "EXISTS", sha))[1] == 1, "SCRIPT FLUSH did not run")
    -- control: the same script as a real call does erase the slowlog
    assert(conn:call("EVAL", 'return redis.call("SLOWLOG", "RESET")', 0))
    assert.is_true(slowlog_len() < 5)
  end)

  it("administrative sub-commands that change server state are writes", function()
    local name_before = assert(admin:call("CONFIG", "GET", "slowlog-max-len"))[2]
    local latency = calls("latency|reset")
    local purge = calls("memory|purge")
    local kills = calls("client|kill")
    assert(admin:call("SET", key("canary"), "1"))
    gate.set_mode("investigate")
    for _, cmd in ipairs {
      { "LATENCY", "RESET" }, { "MEMORY", "PURGE" }, { "CLIENT", "KILL", "TYPE", "normal" },
      { "CLIENT", "PAUSE", "10" }, { "CLIENT", "UNPAUSE" }, { "CLIENT", "NO-EVICT", "on" },
      { "CLIENT", "SETNAME", "x" }, { "CONFIG", "SET", "slowlog-max-len", "1" },
      { "CONFIG", "RESETSTAT" }, { "CONFIG", "REWRITE" }, { "DEBUG", "SLEEP", "0" },
      { "ACL", "SETUSER", "evil", "on" }, { "ACL", "DELUSER", "rb" }, { "ACL", "LOG", "RESET" },
      { "MODULE", "LOAD", "/nonexistent.so" }, { "FAILOVER" }, { "SHUTDOWN", "NOSAVE" },
      { "FLUSHALL" }, { "SWAPDB", "0", "1" },
    } do
      local ok, err = pcall(conn.call, conn, table.unpack(cmd))
      assert.is_false(ok, table.concat(cmd, " "))
      assert.matches("refused", tostring(err), 1, true)
    end
    gate.set_mode("free")
    assert.equal(latency, calls("latency|reset"))
    assert.equal(purge, calls("memory|purge"))
    assert.equal(kills, calls("client|kill"))
    assert.equal(name_before, assert(admin:call("CONFIG", "GET", "slowlog-max-len"))[2])
    assert.same({ ok = "PONG" }, assert(admin:call("PING")))     -- still up: no SHUTDOWN
    assert.equal(1, assert(admin:call("EXISTS", key("canary"))))  -- no FLUSHALL, no SWAPDB
    assert(admin:call("DEL", key("canary")))
  end)

  it("reads still work in investigate: GET, INFO, SLOWLOG GET, CONFIG GET, ACL LOG, pipelines", function()
    gate.set_mode("investigate")
    assert.is_false(conn:call("GET", key("absent")))
    assert(conn:info("server"))
    assert(conn:call("SLOWLOG", "GET", 1))
    assert(conn:call("CONFIG", "GET", "maxmemory"))
    assert(conn:call("ACL", "LOG", 1))
    local r = assert(conn:pipeline { { "PING" }, { "DBSIZE" } })
    assert.same({ ok = "PONG" }, r[1])
  end)

  it("an investigate-mode write is refused and never reaches the server", function()
    local sets = calls("set")
    gate.set_mode("investigate")
    assert.has_error(function() conn:call("SET", key("w"), "x") end)
    assert.has_error(function() conn:pipeline { { "GET", key("w") }, { "SET", key("w"), "x" } } end)
    gate.set_mode("free")
    assert.equal(sets, calls("set"))
    assert.equal(0, assert(admin:call("EXISTS", key("w"))))
    -- control: a real SET is counted
    assert(conn:call("SET", key("w"), "x"))
    assert.equal(sets + 1, calls("set"))
    assert(admin:call("DEL", key("w")))
  end)

  it("a dry run (plan mode) sends nothing: the write is planned, not counted by the server", function()
    local sets, evals = calls("set"), calls("eval")
    gate.set_mode("plan")
    assert.same({ planned = true }, assert(conn:call("SET", key("p"), "x")))
    assert.same({ planned = true }, assert(conn:call("EVAL", "return 1", 0)))
    local r = assert(conn:pipeline { { "SET", key("p"), "y" }, { "GET", key("p") } })
    assert.same({ planned = true }, r[1])
    assert.is_false(r[2])                 -- the read went through and found nothing
    gate.set_mode("free")
    assert.equal(sets, calls("set"))
    assert.equal(evals, calls("eval"))
    assert.equal(0, assert(admin:call("EXISTS", key("p"))))
  end)

  it("^C during BLPOP on an empty list ends `runbook lua` within a second", function()
    local list = key("empty")
    local c = child.start(RUNBOOK, ([[
      local redis = require "rb.redis"
      local c = assert(redis.connect(os.getenv("RB_TEST_REDIS_URL")))
      assert(c:call("CLIENT", "LIST"))     -- a read first: connected
      c:call("BLPOP", %q, 0)
    ]]):format(list))
    local function blocked()
      local clients = assert(admin:call("CLIENT", "LIST"))
      return clients:find("cmd=blpop", 1, true) ~= nil
    end
    wait_until("the child to block in BLPOP", 10, blocked)
    local ms = c:interrupt()
    local out = c:output()
    c:cleanup()
    assert.matches("interrupted", out, 1, true)
    assert.is_true(ms < 1000, ("exited %.0f ms after SIGINT"):format(ms))
    wait_until("the server to drop the blocked client", 2, function() return not blocked() end)
  end)
end)
