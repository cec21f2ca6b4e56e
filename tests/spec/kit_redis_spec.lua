-- rb.redis's playbook kit against the lab's Redis 7: rates over a window
-- (INFO stats sampled exactly twice, traffic made during the window),
-- bigkeys/memkeys (SCAN sampling, never KEYS, bounded in keys), LATENCY
-- LATEST/HISTORY parsed and LATENCY RESET as a write (refused in
-- investigate, not sent in plan mode, sent once when applied: the server's
-- commandstats, as MONITOR hides administrative commands), the
-- shared timeout rule and the no-argument connect rule.
local util = require "tests.spec.support.util"
local redis = require "rb.redis"
local gate = require "rb._gate"
local sys = require "rb._sys"

local URL = os.getenv("RB_TEST_REDIS_URL")
if not URL then
  describe("rb.redis kit", function() pending("RB_TEST_REDIS_URL unset: start the lab") end)
  return
end
local PORT, PASSWORD = os.getenv("RB_TEST_REDIS_PORT"), os.getenv("RB_TEST_REDIS_PASSWORD")
local RUNBOOK = os.getenv("RUNBOOK") or "build/runbook"
local DB = 14
local UNIQ = ("kit:%d:%d"):format(sys.getpid(), os.time())
local function key(name) return UNIQ .. ":" .. name end
local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local count = util.count

-- MONITOR in the background; sync() returns what reached the server so far.
local function monitor(probe)
  local m = { file = os.tmpname() }
  m.pid = util.sh(("REDISCLI_AUTH=%s timeout 120 redis-cli -h 127.0.0.1 -p %s monitor >%s 2>&1 & echo $!")
    :format(PASSWORD, PORT, m.file))
  function m.sync()
    local marker = UNIQ .. ":sync:" .. sys.clock_ms()
    for _ = 1, 500 do
      assert(probe:call("ECHO", marker))
      local text = util.read_file(m.file)
      if text:find(marker, 1, true) then return text end
      sys.sleep_ms(20)
    end
    error("MONITOR shows nothing")
  end
  function m.stop() os.execute("kill " .. m.pid .. " 2>/dev/null"); os.remove(m.file) end
  m.sync()
  return m
end

-- Only this connection's commands: MONITOR prefixes each with [db addr].
local function in_db(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do
    if line:find("[" .. DB .. " ", 1, true) then out[#out + 1] = line end
  end
  return table.concat(out, "\n")
end

describe("rb.redis kit", function()
  local conn, probe
  setup(function()
    gate.set_mode("free")
    probe = assert(redis.connect((URL:gsub("/%d+$", "/9"))))
  end)
  teardown(function() probe:close() end)
  before_each(function()
    gate.reset()
    gate.set_mode("free")
    conn = assert(redis.connect((URL:gsub("/%d+$", "/" .. DB))))
  end)
  after_each(function()
    gate.set_mode("free")
    gate.reset()
    local keys = {}
    for k in conn:scan { match = UNIQ .. ":*" } do keys[#keys + 1] = k end
    if #keys > 0 then conn:call("DEL", table.unpack(keys)) end
    conn:close()
  end)

  describe("rates", function()
    -- Paced traffic by another client runs before, during and after the
    -- window; MONITOR orders it against the two INFO samples, so the test
    -- knows how many of this test's lookups the server executed between them
    -- (however loaded the machine is) and checks the rates cover them.
    it("measures hits, misses and the hit rate over the window from two INFO samples", function()
      assert(conn:call("SET", key("present"), "x"))
      local m = monitor(probe)
      -- (redis-cli reads a piped stdin whole before sending: -r/-i pace it)
      local cli = ("REDISCLI_AUTH=%s timeout 60 redis-cli -h 127.0.0.1 -p %s -n %d -r 500 -i 0.02 GET %%s >/dev/null 2>&1 &")
        :format(PASSWORD, PORT, DB)
      local gen = util.sh(("(%s %s wait) >/dev/null 2>&1 & echo $!"):format(cli:format(key("present")), cli:format(key("absent"))))
      local t0 = sys.clock_ms()
      while count(in_db(m.sync()), '"GET" "' .. key("absent")) == 0 do
        assert(sys.clock_ms() - t0 < 20000, "the traffic generator never started")
        sys.sleep_ms(50)
      end
      local r = assert(conn:rates { window = 3 })
      local seen = in_db(m.sync())
      os.execute("pkill -P " .. gen .. " 2>/dev/null; kill " .. gen .. " 2>/dev/null")
      m.stop()
      local first = seen:find('"INFO" "stats"', 1, true)
      local second = first and seen:find('"INFO" "stats"', first + 1, true)
      assert.equal(2, count(seen, '"INFO" "stats"'), "INFO sampled exactly twice")
      local between = seen:sub(first, second)
      local hits = count(between, '"GET" "' .. key("present") .. '"')
      local misses = count(between, '"GET" "' .. key("absent") .. '"')
      assert.is_true(hits >= 10 and misses >= 10, ("traffic during the window: %d hits, %d misses"):format(hits, misses))
      assert.is_true(r.window_s >= 2.9 and r.window_s < 5, "window measured by the server's clock: " .. r.window_s)
      -- the server's counters are server-wide: at least this test's lookups
      assert.is_true(r.hits_per_s * r.window_s >= hits - 0.5, ("hits/s %g over %g s covers %d"):format(r.hits_per_s, r.window_s, hits))
      assert.is_true(r.misses_per_s * r.window_s >= misses - 0.5, ("misses/s %g covers %d"):format(r.misses_per_s, misses))
      assert.is_true(r.lookups >= hits + misses)
      assert.is_true(r.hit_rate > 0 and r.hit_rate < 100)
      assert.is_number(r.evictions_per_s)
      assert.is_number(r.expired_per_s)
      assert.is_false(r.reset)
    end)

    it("raises on a bad window or an unknown option", function()
      assert.has_error(function() conn:rates { window = 0 } end, "bad option 'window' to 'rates' (number in [0.1, 300] expected)")
      assert.has_error(function() conn:rates { window = 301 } end)
      assert.has_error(function() conn:rates { windw = 1 } end, "bad option 'windw' to 'rates' (unknown option)")
      -- the position is the caller's, not rb.redis's own
      local _, e = pcall(function() conn:rates { window = 0 } end)
      assert.matches("^tests/spec/kit_redis_spec%.lua:%d+: bad option 'window'", e)
    end)
  end)

  describe("bigkeys / memkeys", function()
    before_each(function()
      for i = 1, 30 do assert(conn:call("SET", key("s" .. i), string.rep("x", i))) end
      assert(conn:call("SET", key("blob"), string.rep("y", 100000)))
      local items = {}
      for i = 1, 500 do items[i] = tostring(i) end
      assert(conn:call("RPUSH", key("list"), table.unpack(items)))
      assert(conn:call("HSET", key("hash"), "a", "1", "b", "2", "c", "3"))
      assert(conn:call("SADD", key("set"), "a", "b"))
    end)

    it("bigkeys ranks by type-specific size with SCAN, never KEYS", function()
      local m = monitor(probe)
      local r = assert(conn:bigkeys { match = UNIQ .. ":*", top = 3 })
      local seen = in_db(m.sync())
      m.stop()
      assert.is_true(r.complete)
      assert.equal(34, r.scanned)
      assert.same({ key = key("blob"), type = "string", size = 100000, unit = "bytes" }, r.top[1])
      assert.equal(3, #r.top)
      assert.same({ key = key("list"), type = "list", size = 500, unit = "items" }, r.by_type.list.biggest)
      assert.equal(3, r.by_type.hash.total)
      assert.equal(31, r.by_type.string.keys)
      assert.equal(0, count(seen, '"KEYS"'))
      assert.is_true(count(seen, '"SCAN"') >= 1)
      assert.equal(1, count(seen, '"LLEN" "' .. key("list")))
    end)

    it("stops after count keys and says so", function()
      local m = monitor(probe)
      local r = assert(conn:bigkeys { match = UNIQ .. ":*", count = 5 })
      local seen = in_db(m.sync())
      m.stop()
      assert.equal(5, r.scanned)
      assert.equal("count", r.stopped)
      assert.is_false(r.complete)
      assert.equal(5, count(seen, '"TYPE" "' .. UNIQ), "only the sampled keys were measured")
    end)

    it("memkeys ranks by MEMORY USAGE", function()
      local r = assert(conn:memkeys { match = UNIQ .. ":*", top = 2, samples = 0 })
      assert.equal(key("blob"), r.top[1].key)
      assert.is_true(r.top[1].size >= 100000)
      assert.equal("bytes", r.top[1].unit)
      assert.equal(key("list"), r.top[2].key)
    end)

    it("raises on bad bounds", function()
      assert.has_error(function() conn:bigkeys { count = 0 } end)
      assert.has_error(function() conn:memkeys { time_limit = -1 } end)
      assert.has_error(function() conn:bigkeys { top = 1.5 } end)
      assert.has_error(function() conn:bigkeys { cuont = 5 } end, "bad option 'cuont' to 'bigkeys' (unknown option)")
    end)
  end)

  describe("latency", function()
    local threshold
    before_each(function()
      threshold = assert(conn:config_get("latency-monitor-threshold"))["latency-monitor-threshold"]
      assert(conn:call("CONFIG", "SET", "latency-monitor-threshold", 1))
      assert(conn:call("LATENCY", "RESET"))
      assert(conn:call("EVAL", "local i = 0 while i < 3000000 do i = i + 1 end return i", 0))
    end)
    after_each(function()
      gate.set_mode("free")
      assert(conn:call("CONFIG", "SET", "latency-monitor-threshold", threshold))
    end)

    it("latency_latest and latency_history parse the events", function()
      local latest = assert(conn:latency_latest())
      local ev
      for _, e in ipairs(latest) do if e.event == "command" then ev = e end end
      assert.truthy(ev, "the slow EVAL is a 'command' event")
      assert.is_true(ev.max_ms >= 1 and ev.latest_ms >= 1)
      assert.is_true(math.abs(ev.time - os.time()) < 60)
      local hist = assert(conn:latency_history("command"))
      assert.is_true(#hist >= 1)
      assert.equal(ev.latest_ms, hist[#hist].ms)
      assert.has_error(function() conn:latency_history() end)
    end)

    -- MONITOR hides administrative commands: the server's own call count says what reached it
    local function resets()
      local stats = assert(conn:info("commandstats"))
      return (stats["cmdstat_latency|reset"] or { calls = 0 }).calls
    end

    it("latency_reset is refused in investigate, not sent in plan mode, sent once when applied", function()
      local before = resets()
      gate.set_mode("investigate")
      local ok, err = pcall(conn.latency_reset, conn, "command")
      assert.is_false(ok)
      assert.matches("write refused in investigate: redis.LATENCY RESET", tostring(err))
      gate.set_mode("plan")
      assert.same({ planned = true }, assert(conn:latency_reset("command")))
      local plan = gate.plan()
      gate.set_mode("free")
      assert.equal(before, resets())
      assert.equal(1, #assert(conn:latency_history("command")), "the event is still there")
      gate.set_mode("plan")
      assert(conn:latency_reset("command"))
      gate.confirm(gate.plan())
      gate.set_mode("apply")
      assert.equal(1, assert(conn:latency_reset("command")))
      gate.set_mode("free")
      assert.equal(1, #plan)
      assert.equal(before + 1, resets())
      assert.equal(0, #assert(conn:latency_history("command")), "the event was reset")
    end)
  end)

  describe("vocabulary", function()
    it("reads timeouts with the one rule", function()
      local ok, err = pcall(redis.connect, URL, { timeout = 0 })
      assert.is_false(ok)
      assert.matches("bad option 'timeout' to 'connect' %(seconds expected", err)
      assert.has_error(function() redis.connect(URL, { connect_timeout = 86401 }) end)
      assert.has_error(function() redis.connect(URL, { connect_timeout = "1" }) end)
    end)

    it("redis.connect() with nothing configured is nil, err{kind = 'config'}", function()
      local script = os.tmpname()
      local f = assert(io.open(script, "w"))
      f:write([[local c, err = require("rb.redis").connect(); io.write(tostring(c), " ", err.kind, " ", tostring(err))]])
      f:close()
      local out = util.sh(("env -u REDIS_URL -u RUNBOOK_CONFIG %s lua %s 2>&1"):format(q(RUNBOOK), q(script)))
      os.remove(script)
      assert.matches("^nil config config error: rb.redis: no Redis server configured", out)
    end)

    it("redis.connect() uses the configured target", function()
      local script = os.tmpname()
      local f = assert(io.open(script, "w"))
      f:write([[local c <close> = assert(require("rb.redis").connect()); io.write(c:target())]])
      f:close()
      local out = util.sh(("env -u RUNBOOK_CONFIG REDIS_URL=%s %s lua %s 2>&1"):format(q(URL), q(RUNBOOK), q(script)))
      os.remove(script)
      assert.equal("127.0.0.1:" .. PORT .. "/0", out)
    end)
  end)
end)
