-- rb.redis against real Redis 7 servers: the lab's (tests/lab/services/redis.sh,
-- with AUTH, shared with the TMI simulator's cache in db 0) and a private one
-- this spec starts for exact counts and for being killed.
local util = require "tests.spec.support.util"
local read_file = util.read_file
local sh = util.sh
local free_port = util.free_port
local redis = require "rb.redis"
local gate = require "rb._gate"
local sys = require "rb._sys"    -- clock_ms, sleep_ms, getpid (engine-private, like rb._gate)

local URL = assert(os.getenv("RB_TEST_REDIS_URL"), "RB_TEST_REDIS_URL (tests/run starts the lab)")
local PORT = assert(os.getenv("RB_TEST_REDIS_PORT"))
local PASSWORD = assert(os.getenv("RB_TEST_REDIS_PASSWORD"))
local SOCKET = assert(os.getenv("RB_TEST_REDIS_SOCKET"))
local USER_URL = assert(os.getenv("RB_TEST_REDIS_USER_URL"))
local TMP = os.getenv("RB_LAB_DIR") or "/tmp"

-- The lab URL on another database: the simulator lives in db 0.
local function url_db(db) return (URL:gsub("/%d+$", "/" .. db)) end
local UNIQ = ("%d-%d"):format(sys.getpid(), os.time())
local function key(name) return "rbspec:" .. UNIQ .. ":" .. name end

local function wait_until(what, seconds, fn)
  local deadline = sys.clock_ms() + seconds * 1000
  while sys.clock_ms() < deadline do
    if fn() then return end
    sys.sleep_ms(20)
  end
  error("timed out waiting for " .. what)
end

local count = util.count

-- A MONITOR of the lab server in the background (redis-cli, bounded by
-- timeout): what reached the server, read from its file.
local function monitor()
  local m = { file = os.tmpname() }
  m.pid = sh(("REDISCLI_AUTH=%s timeout 300 redis-cli -h 127.0.0.1 -p %s monitor >%s 2>&1 & echo $!")
    :format(PASSWORD, PORT, m.file))
  local probe = assert(redis.connect(url_db(9)))
  -- sync(): a marker through another connection; once MONITOR shows it,
  -- everything sent before it has been shown too.
  function m.sync()
    local marker = "rbspec-sync-" .. UNIQ .. "-" .. sys.clock_ms()
    wait_until("MONITOR output", 10, function()
      assert(probe:call("ECHO", marker))     -- again each time: MONITOR may not be attached yet
      return read_file(m.file):find(marker, 1, true)
    end)
    return read_file(m.file)
  end
  function m.stop()
    probe:close()
    os.execute("kill " .. m.pid .. " 2>/dev/null")
    os.remove(m.file)
  end
  m.sync()
  return m
end

-- A private redis-server (no password) in a temporary directory, bounded by
-- timeout(1) so that it ends even if this spec dies before its teardown.
local function private_server()
  local s = { port = free_port(), dir = sh("mktemp -d " .. TMP .. "/rbspec-redis.XXXXXX") }
  s.pidfile = s.dir .. "/redis.pid"
  os.execute(("timeout 600 redis-server --port %s --bind 127.0.0.1 --save '' --appendonly no "
    .. "--daemonize no --pidfile %s --dir %s --logfile %s/redis.log >/dev/null 2>&1 &")
    :format(s.port, s.pidfile, s.dir, s.dir))
  s.url = "redis://127.0.0.1:" .. s.port .. "/0"
  wait_until("private redis", 10, function()
    local c = redis.connect(s.url)
    if c then c:close() return true end
  end)
  wait_until("its pid file", 10, function() return read_file(s.pidfile) ~= "" end)
  s.pid = sh("cat " .. s.pidfile)
  function s.stop()
    os.execute("kill -9 " .. s.pid .. " 2>/dev/null")
    os.execute("rm -rf " .. s.dir)
  end
  return s
end

-- A python3 listener on 127.0.0.1 that never answers: listen(backlog), then
-- body (python, with s the socket); bounded to 30 s. Returns port, stop().
local function listener(backlog, body)
  local portfile = os.tmpname()
  local pid = sh(([[timeout 30 python3 -c '
import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(%d)
open("%s", "w").write(str(s.getsockname()[1]))
%s
' >/dev/null 2>&1 & echo $!]]):format(backlog, portfile, body))
  wait_until("listener", 10, function() return read_file(portfile) ~= "" end)
  local port = read_file(portfile)
  return port, function()
    os.execute("kill " .. pid .. " 2>/dev/null")
    os.remove(portfile)
  end
end

local function elapsed_since(t0) return (sys.clock_ms() - t0) / 1000 end

describe("rb.redis replies", function()
  local c
  setup(function()
    c = assert(redis.connect(url_db(9)))
    assert(c:call("FLUSHDB"))
  end)
  teardown(function() c:close() end)

  it("types status, bulk, integer, nil, array and error replies", function()
    assert.same({ ok = "OK" }, c:call("SET", key("s"), "v"))
    assert.same({ ok = "PONG" }, c:call("PING"))
    assert.equal("v", c:call("GET", key("s")))
    assert.equal(false, c:call("GET", key("missing")))
    assert.equal(1, c:call("INCR", key("n")))
    assert.equal("integer", math.type(c:call("INCRBY", key("n"), 41)))
    assert.equal(3, c:call("RPUSH", key("l"), "a", 2, "c"))
    assert.same({ "a", "2", "c" }, c:call("LRANGE", key("l"), 0, -1))
    assert.same({ "v", false }, c:call("MGET", key("s"), key("missing")))
    local v, err = c:call("LPUSH", key("s"), "x")
    assert.is_nil(v)
    assert.equal("redis", err.kind)
    assert.equal("WRONGTYPE", err.code)
    assert.matches("^redis error: WRONGTYPE", tostring(err))
  end)

  it("is binary safe: NUL bytes and every byte value round-trip", function()
    local all = {}
    for i = 0, 255 do all[#all + 1] = string.char(i) end
    local k, val = key("bin\0key"), table.concat(all) .. "\0tail"
    assert.same({ ok = "OK" }, c:call("SET", k, val))
    local got = c:call("GET", k)
    assert.equal(#val, #got)
    assert.equal(val, got)
    assert.equal(#val, c:call("STRLEN", k))
    assert.equal(0, c:call("EXISTS", key("bin")))
  end)

  it("pipelines: one reply per command, errors in place", function()
    local r = assert(c:pipeline {
      { "SET", key("p"), "1" }, { "GET", key("p") }, { "INCR", key("s") }, { "INCR", key("p") },
    })
    assert.equal(4, #r)
    assert.same({ ok = "OK" }, r[1])
    assert.equal("1", r[2])
    assert.equal("redis", r[3].kind)
    assert.matches("not an integer", r[3].message)
    assert.equal(2, r[4])
    assert.same({}, c:pipeline {})
  end)

  it("raises on misuse", function()
    assert.has_error(function() c:call() end)
    assert.has_error(function() c:call("SET", key("x"), {}) end)
    assert.has_error(function() c:pipeline { "GET" } end)
    assert.has_error(function() c:pipeline { { "GET", true } } end)
    assert.has_error(function() c:call("SUBSCRIBE", "chan") end)
    assert.has_error(function() c:call("select", 1) end)
    assert.has_error(function() c:call("MONITOR") end)
    assert.is_string(c:call("CLIENT", "GETNAME") or "")     -- CLIENT and its subcommands learned
    assert.has_error(function() c:call("CLIENT", "REPLY", "OFF") end)
    assert.same({ ok = "PONG" }, c:call("PING"))
    assert.has_error(function() redis.connect("rediss://127.0.0.1:" .. PORT) end, nil)
    local ok, msg = pcall(redis.connect, "rediss://127.0.0.1:" .. PORT)
    assert.is_false(ok)
    assert.matches("TLS", msg)
    assert.has_error(function() redis.connect("redis://127.0.0.1:notaport") end)
    assert.has_error(function() redis.connect(URL, { timeout = -1 }) end)
  end)

  it("closes idempotently, and with <close>", function()
    local c2 = assert(redis.connect(url_db(9)))
    c2:close()
    c2:close()
    assert.matches("closed", tostring(c2))
    assert.has_error(function() c2:call("PING") end, "attempt to use a closed redis connection")
    local kept
    do
      local c3 <close> = assert(redis.connect(url_db(9)))
      kept = c3
      assert.same({ ok = "PONG" }, c3:call("PING"))
    end
    assert.matches("closed", tostring(kept))
  end)
end)

describe("rb.redis connections", function()
  it("selects the URL's database", function()
    local c9, c0 = assert(redis.connect(url_db(9))), assert(redis.connect(url_db(0)))
    assert(c9:call("SET", key("db"), "nine"))
    assert.equal("nine", c9:call("GET", key("db")))
    assert.equal(false, c0:call("GET", key("db")))
    assert.equal("127.0.0.1:" .. PORT .. "/9", c9:target())
    c9:close(); c0:close()
  end)

  it("connects over the unix socket with AUTH and ?db=", function()
    local c = assert(redis.connect("unix://:" .. PASSWORD .. "@" .. SOCKET .. "?db=9"))
    assert.equal("nine", c:call("GET", key("db")))
    assert.equal("unix://" .. SOCKET .. "?db=9", c:target())
    c:close()
    c = assert(redis.connect("redis+unix://:" .. PASSWORD .. "@" .. SOCKET))
    assert.same({ ok = "PONG" }, c:call("PING"))
    c:close()
  end)

  it("takes the password from the password option", function()
    local bare = URL:gsub("//:[^@]*@", "//")
    assert.is_nil(bare:find(PASSWORD, 1, true))
    local c = assert(redis.connect(bare, { password = PASSWORD }))
    assert.same({ ok = "PONG" }, c:call("PING"))
    c:close()
    assert.has_error(function() redis.connect(bare, { password = {} }) end)
  end)

  it("authenticates an ACL user with user:password", function()
    local c = assert(redis.connect(USER_URL))
    assert.equal("rb", c:call("ACL", "WHOAMI"))
    c:close()
  end)

  it("reports a failed AUTH clearly, without the password", function()
    local wrong = "wrong-" .. UNIQ
    local c, err = redis.connect(("redis://:%s@127.0.0.1:%s/0"):format(wrong, PORT))
    assert.is_nil(c)
    assert.equal("auth", err.kind)
    assert.matches("AUTH failed", err.message)
    assert.matches("WRONGPASS", err.message)
    assert.is_nil(err.message:find(wrong, 1, true))
    c, err = redis.connect(("redis://127.0.0.1:%s/0"):format(PORT))
    assert.truthy(c)   -- no password: connects, then the server says NOAUTH
    local v, err2 = c:call("GET", "x")
    assert.is_nil(v)
    assert.equal("auth", err2.kind)
    assert.matches("NOAUTH", err2.message)
    c:close()
  end)

  it("never shows the password in errors, targets or names", function()
    local c = assert(redis.connect(url_db(9)))
    assert.is_nil(tostring(c):find(PASSWORD, 1, true))
    local v, err = c:call("NOSUCHCOMMAND", PASSWORD)    -- the server echoes arguments
    assert.is_nil(v)
    assert.is_nil(err.message:find(PASSWORD, 1, true))
    assert.matches("[REDACTED]", err.message, 1, true)
    local refused = free_port()
    local _, err2 = redis.connect(("redis://:%s@127.0.0.1:%s/0"):format(PASSWORD, refused))
    assert.equal("conn", err2.kind)
    assert.is_nil(tostring(err2):find(PASSWORD, 1, true))
    c:close()
  end)
end)

describe("rb.redis effects and modes", function()
  local c, mon
  setup(function()
    c = assert(redis.connect(url_db(9)))
    mon = monitor()
  end)
  teardown(function()
    gate.set_mode("free")
    gate.reset()
    mon.stop()
    c:close()
  end)
  after_each(function()
    gate.set_mode("free")
    gate.reset()
  end)

  -- CONFIG SET calls so far (INFO commandstats): MONITOR hides admin commands.
  local function config_sets(conn)
    local stat = conn:info("commandstats")["cmdstat_config|set"]
    return stat and stat.calls or 0
  end

  local function refused(...)
    local ok, err = pcall(c.call, c, ...)
    assert.is_false(ok)
    assert.equal("refused", err.kind)
    assert.matches("write refused in investigate", err.message)
    return err
  end

  it("investigate runs reads and refuses writes before sending them", function()
    assert(c:call("SET", key("inv"), "before"))
    local policy = c:config_get("maxmemory-policy")["maxmemory-policy"]
    local sets = config_sets(c)
    gate.set_mode("investigate")
    assert.equal("before", c:call("GET", key("inv")))
    assert.is_table(c:config_get("maxmemory"))
    assert.is_table(c:info("server"))
    assert.is_table(c:slowlog(1))
    assert.is_number(c:call("DBSIZE"))
    local err = refused("SET", key("inv"), "investigate-" .. UNIQ)
    assert.matches("redis.SET", err.message)
    err = refused("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
    assert.matches("CONFIG SET", err.message)
    refused("FLUSHALL")
    refused("flushdb")
    refused("KEYS", "*")                                  -- @dangerous: use conn:scan
    refused("PUBLISH", "chan-" .. UNIQ, "m")
    refused("EVAL", "return 1", 0)
    refused("SCRIPT", "FLUSH")
    refused("CONFIG", "RESETSTAT")
    refused("SLOWLOG", "RESET")
    refused("NOSUCHCOMMAND" .. UNIQ)                      -- unknown: fail closed
    assert.has_error(function() c:config_set("maxmemory-policy", "allkeys-lru") end)
    local ok, e2 = pcall(c.pipeline, c, { { "GET", key("inv") }, { "SET", key("inv"), "pipe-" .. UNIQ } })
    assert.is_false(ok)
    assert.equal("refused", e2.kind)
    gate.set_mode("free")
    assert.equal("before", c:call("GET", key("inv")))
    assert.equal(policy, c:config_get("maxmemory-policy")["maxmemory-policy"])
    local seen = mon.sync()
    assert.is_nil(seen:find("investigate-" .. UNIQ, 1, true))
    assert.is_nil(seen:find("pipe-" .. UNIQ, 1, true))
    assert.is_nil(seen:find('] "FLUSHALL"', 1, true))   -- not "COMMAND" "INFO" "FLUSHALL"
    assert.is_nil(seen:find('] "KEYS"', 1, true))
    assert.is_nil(seen:find('"chan-' .. UNIQ, 1, true))
    assert.equal(sets, config_sets(c))
  end)

  it("asks COMMAND INFO once per command and connection", function()
    local fresh = assert(redis.connect(url_db(9)))
    local addr = assert(fresh:call("CLIENT", "INFO"):match("addr=(%S+)"))
    for _ = 1, 3 do fresh:call("HLEN", key("h")) end
    for _ = 1, 3 do fresh:call("CONFIG", "GET", "maxmemory") end
    fresh:close()
    local mine = {}
    for line in mon.sync():gmatch("[^\n]+") do
      if line:find("[9 " .. addr .. "]", 1, true) then mine[#mine + 1] = line end
    end
    mine = table.concat(mine, "\n")
    assert.equal(1, count(mine, '"COMMAND" "INFO" "HLEN"'))
    assert.equal(1, count(mine, '"COMMAND" "INFO" "CONFIG"'))
    assert.equal(3, count(mine, '"HLEN" "' .. key("h")))
  end)

  it("falls back to the static table when COMMAND is not allowed", function()
    local user, pw = "nocmd" .. sys.getpid(), "pw-" .. UNIQ
    assert(c:call("ACL", "SETUSER", user, "on", ">" .. pw, "~*", "&*", "+@all", "-command"))
    local nc = assert(redis.connect(("redis://%s:%s@127.0.0.1:%s/9"):format(user, pw, PORT)))
    gate.set_mode("investigate")
    assert.equal("before", nc:call("GET", key("inv")))
    assert.is_table(nc:config_get("maxmemory"))
    local ok, err = pcall(nc.call, nc, "SET", key("inv"), "x")
    assert.is_false(ok); assert.equal("refused", err.kind)
    ok, err = pcall(nc.call, nc, "CONFIG", "SET", "maxmemory", "1")
    assert.is_false(ok); assert.equal("refused", err.kind)
    gate.set_mode("free")
    nc:close()
    assert(c:call("ACL", "DELUSER", user))
  end)

  it("plan records writes unsent and returns {planned = true}", function()
    local policy = c:config_get("maxmemory-policy")["maxmemory-policy"]
    local sets = config_sets(c)
    gate.set_mode("plan")
    assert.same({ planned = true }, c:call("SET", key("plan"), "planned-" .. UNIQ))
    assert.same({ planned = true }, c:config_set("maxmemory-policy", "allkeys-lfu"))
    local r = c:pipeline { { "GET", key("inv") }, { "DEL", key("inv") } }
    assert.equal("before", r[1])
    assert.same({ planned = true }, r[2])
    local p = gate.plan()
    assert.equal(3, #p)
    assert.equal("redis", p[1].binding)
    assert.equal("SET", p[1].op)
    assert.equal(c:target(), p[1].target)
    assert.matches("planned-" .. UNIQ, p[1].args, 1, true)
    assert.is_false(p[1].simulable)
    assert.equal("CONFIG SET", p[2].op)
    assert.matches("allkeys-lfu", p[2].args, 1, true)
    assert.equal("DEL", p[3].op)
    gate.set_mode("free")
    assert.equal(false, c:call("GET", key("plan")))
    assert.equal("before", c:call("GET", key("inv")))
    assert.equal(policy, c:config_get("maxmemory-policy")["maxmemory-policy"])
    assert.equal(sets, config_sets(c))
    assert.is_nil(mon.sync():find("planned-" .. UNIQ, 1, true))
  end)

  it("apply sends each confirmed write exactly once", function()
    local sets = config_sets(c)
    gate.set_mode("plan")
    c:call("SET", key("apply"), "applied-" .. UNIQ)
    c:config_set("slowlog-max-len", 1024)
    gate.confirm(gate.plan())
    gate.set_mode("apply")
    assert.same({ ok = "OK" }, c:call("SET", key("apply"), "applied-" .. UNIQ))
    assert.same({ ok = "OK" }, c:config_set("slowlog-max-len", 1024))
    assert.equal(0, gate.approved_left())
    local ok, err = pcall(c.call, c, "SET", key("apply"), "unplanned")
    assert.is_false(ok)
    assert.equal("unplanned", err.kind)
    gate.set_mode("free")
    assert.equal("applied-" .. UNIQ, c:call("GET", key("apply")))
    local seen = mon.sync()
    assert.equal(1, count(seen, '"SET" "' .. key("apply") .. '" "applied-' .. UNIQ .. '"'))
    assert.equal(sets + 1, config_sets(c))     -- MONITOR never shows admin commands
    assert.equal(0, count(seen, '"unplanned"'))
  end)
end)

describe("rb.redis helpers", function()
  local srv, c
  setup(function()
    srv = private_server()
    c = assert(redis.connect(srv.url))
  end)
  teardown(function()
    c:close()
    srv.stop()
  end)

  it("hit_rate: nodata before lookups, then the exact percentage", function()
    local rate, err = c:hit_rate()
    assert.is_nil(rate)
    assert.equal("nodata", err.kind)
    assert(c:call("SET", "hr", "1"))
    for _ = 1, 3 do c:call("GET", "hr") end
    c:call("GET", "hr-missing")
    local counts
    rate, counts = c:hit_rate()
    assert.equal(75, rate)
    assert.same({ hits = 3, misses = 1 }, counts)
  end)

  it("info: numbers as numbers, keyspace lines as tables", function()
    local all = assert(c:info("everything"))
    assert.equal("7", all.redis_version:sub(1, 1))
    assert.equal("integer", math.type(all.tcp_port))
    assert.equal(tonumber(srv.port), all.tcp_port)
    assert.equal(1, all.db0.keys)
    assert.equal(0, all.db0.expires)
    assert.equal(4, all.cmdstat_get.calls)
    local mem = assert(c:info("memory"))
    assert.is_number(mem.used_memory)
    assert.is_nil(mem.tcp_port)
  end)

  it("slowlog finds the commands this test ran", function()
    assert(c:config_set("slowlog-log-slower-than", 0))
    assert(c:call("SLOWLOG", "RESET"))
    assert(c:call("ECHO", "slow-marker"))
    local log = assert(c:slowlog(10))
    local found
    for _, e in ipairs(log) do
      if e.command[1] == "ECHO" then found = e end
    end
    assert.truthy(found)
    assert.same({ "ECHO", "slow-marker" }, found.command)
    assert.equal("integer", math.type(found.id))
    assert.is_true(found.duration_us >= 0)
    assert.is_true(math.abs(found.time - os.time()) < 60)
    assert.matches("^127%.0%.0%.1:%d+$", found.client)
  end)

  it("config_get and config_set", function()
    assert.same({ ok = "OK" }, c:config_set("maxmemory-policy", "allkeys-lru"))
    assert.equal("allkeys-lru", c:config_get("maxmemory-policy")["maxmemory-policy"])
    local many = c:config_get("maxmemory*")
    assert.truthy(many.maxmemory and many["maxmemory-samples"])
  end)

  it("scans 10,000 keys with SCAN and counts keys without TTL exactly", function()
    assert(c:call("FLUSHDB"))
    for batch = 0, 9 do
      local cmd = { "MSET" }
      for i = batch * 1000, batch * 1000 + 999 do
        cmd[#cmd + 1] = "k:" .. i
        cmd[#cmd + 1] = "v"
      end
      assert(c:call(table.unpack(cmd)))
    end
    local expires = {}
    for i = 0, 9999, 4 do expires[#expires + 1] = { "EXPIRE", "k:" .. i, 3600 } end
    assert.equal(2500, #assert(c:pipeline(expires)))
    assert(c:call("SET", "other", "x"))

    local seen, n = {}, 0
    for k in c:scan { match = "k:*", count = 500 } do
      seen[k] = true
      n = n + 1
    end
    local distinct = 0
    for _ in pairs(seen) do distinct = distinct + 1 end
    assert.equal(10000, distinct)
    assert.equal(10000, n)

    local census = assert(c:ttl_census { match = "k:*", sample = 5 })
    assert.equal(10000, census.scanned)
    assert.equal(7500, census.no_ttl)
    assert.equal(2500, census.with_ttl)
    assert.equal(5, #census.sample)
    for _, k in ipairs(census.sample) do
      assert.not_equal(0, tonumber(k:match("%d+")) % 4)
    end
    local limited = assert(c:ttl_census { match = "k:*", limit = 100, count = 50 })
    assert.is_true(limited.scanned >= 100 and limited.scanned < 10000)

    local typed = 0
    for _ in c:scan { type = "string", match = "other" } do typed = typed + 1 end
    assert.equal(1, typed)
    assert.is_nil(c:info("commandstats").cmdstat_keys)    -- never KEYS
  end)

  it("scan raises a misuse and stops the loop on a server error", function()
    assert.has_error(function() c:scan { count = "many" } end)
    assert.has_error(function()
      for _ in c:scan { count = -5 } do end
    end)
  end)
end)

describe("rb.redis faults", function()
  it("refused port: a conn error", function()
    local c, err = redis.connect("redis://127.0.0.1:" .. free_port() .. "/0")
    assert.is_nil(c)
    assert.equal("conn", err.kind)
    assert.matches("Connection refused", err.message)
  end)

  it("a command past the timeout: timeout error, then the connection works again", function()
    local c = assert(redis.connect(url_db(9), { timeout = 0.3 }))
    assert(c:call("SET", key("after"), "still-here"))
    local t0 = sys.clock_ms()
    local v, err = c:call("BLPOP", key("never"), 5)
    assert.is_nil(v)
    assert.equal("timeout", err.kind)
    assert.matches("reconnects", err.message)
    assert.is_true(elapsed_since(t0) < 2)
    assert.same({ ok = "PONG" }, c:call("PING"))
    assert.equal("still-here", c:call("GET", key("after")))
    assert(c:call("RPUSH", key("never"), "late"))
    assert.equal("still-here", c:call("GET", key("after")))   -- no reply out of step
    c:close()
  end)

  it("a listener that accepts and never answers: timeout within the bound", function()
    local port, stop = listener(8, "conns = []\nwhile True:\n    c, _ = s.accept(); conns.append(c)")
    local t0 = sys.clock_ms()
    local c, err = redis.connect(("redis://:pw@127.0.0.1:%s/0"):format(port), { timeout = 0.5 })
    assert.is_nil(c)
    assert.equal("timeout", err.kind)
    assert.matches("AUTH", err.message)
    assert.is_true(elapsed_since(t0) < 3)
    c = assert(redis.connect(("redis://127.0.0.1:%s/0"):format(port), { timeout = 0.5 }))
    for _ = 1, 2 do                                   -- and again after the reconnect
      t0 = sys.clock_ms()
      local v, e = c:call("PING")
      assert.is_nil(v)
      assert.equal("timeout", e.kind)
      assert.is_true(elapsed_since(t0) < 3)
    end
    c:close()
    stop()
  end)

  it("a listener that never accepts (backlog full): connect timeout within the bound", function()
    local port, stop = listener(0, "time.sleep(30)")
    local url = "redis://127.0.0.1:" .. port .. "/0"
    local held, last = {}, nil
    for i = 1, 4 do                                    -- fill the accept queue
      local c, err = redis.connect(url, { connect_timeout = 0.3 })
      held[i], last = c, err
    end
    local t0 = sys.clock_ms()
    local c, err = redis.connect(url, { connect_timeout = 0.3 })
    assert.is_nil(c)
    assert.equal("timeout", err.kind)
    assert.matches("no connection within 0.3 s", err.message, 1, true)
    assert.is_true(elapsed_since(t0) < 2)
    for _, h in pairs(held) do h:close() end
    assert.is_truthy(last)                             -- the queue did fill up
    stop()
  end)

  it("a connection the server dropped: a conn error, not death by SIGPIPE", function()
    local c = assert(redis.connect(url_db(9)))
    local admin = assert(redis.connect(url_db(9)))
    assert(c:call("SET", key("warm"), "1"))               -- SET learned: no COMMAND INFO first
    assert.equal(1, admin:call("CLIENT", "KILL", "ID", c:call("CLIENT", "ID")))
    sys.sleep_ms(100)
    local big, cmds = string.rep("x", 100000), {}
    for i = 1, 100 do cmds[i] = { "SET", key("big" .. i), big } end
    local r, err = c:pipeline(cmds)                       -- several write(2)s on a reset socket
    assert.is_nil(r)
    assert.equal("conn", err.kind)
    assert.same({ ok = "PONG" }, c:call("PING"))          -- and it reconnects
    c:close(); admin:close()
  end)

  it("the server killed mid-command: a clear error, no hang", function()
    local srv = private_server()
    local c = assert(redis.connect(srv.url))
    os.execute("(sleep 0.5; kill -9 " .. srv.pid .. ") >/dev/null 2>&1 &")
    local t0 = sys.clock_ms()
    local v, err = c:call("BLPOP", "q", 20)
    assert.is_nil(v)
    assert.equal("conn", err.kind)
    assert.is_true(elapsed_since(t0) < 5)
    assert.truthy(err.message:find("closed", 1, true) or err.message:find("reset", 1, true))
    local v2, err2 = c:call("PING")                    -- reconnect fails cleanly
    assert.is_nil(v2)
    assert.equal("conn", err2.kind)
    local r, err3 = c:pipeline { { "PING" } }
    assert.is_nil(r)
    assert.equal("conn", err3.kind)
    c:close()
    srv.stop()
  end)
end)
