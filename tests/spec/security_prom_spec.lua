-- security_prom_spec.lua — rb.prom reaches only the read endpoints of the
-- Prometheus HTTP API (issue 11 item 1). The spec starts its own Prometheus on
-- a free 127.0.0.1 port WITH --web.enable-admin-api and a backfilled series
-- (two samples of rb_canary), tries base URLs that would reach the admin API
-- (a query, a fragment, dot segments, encoded variants, control characters),
-- and after each attempt asserts, by asking Prometheus directly with curl, that
-- the series are still there. The last test deletes them through the admin
-- API itself, proving the check can fail.
local prom = require "rb.prom"
local gate = require "rb._gate"
local cjson = require "cjson"
local util = require "tests.spec.support.util"

local DIR = util.sh("mktemp -d /tmp/rb-sec-prom.XXXXXX")
local T0 = 1699999200      -- a fixed past hour (like tests/lab/prom/gen.py), never the live head
local AT = T0 + 30
local PORT = util.free_port()
local P = "http://127.0.0.1:" .. PORT

local function start_prometheus()
  util.write_file(DIR .. "/fixture.om", table.concat({
    "# TYPE rb_canary gauge",
    ('rb_canary{series="a"} 1 %d'):format(T0), ('rb_canary{series="a"} 1 %d'):format(T0 + 60),
    ('rb_canary{series="b"} 2 %d'):format(T0), ('rb_canary{series="b"} 2 %d'):format(T0 + 60),
    "# EOF", "" }, "\n"))
  util.write_file(DIR .. "/prometheus.yml", "global:\n  scrape_interval: 1m\n")
  assert(os.execute(("promtool tsdb create-blocks-from openmetrics %s/fixture.om %s/data >%s/backfill.log 2>&1")
    :format(DIR, DIR, DIR)), "backfill failed")
  local pid = util.sh(("prometheus --config.file=%s/prometheus.yml --storage.tsdb.path=%s/data "
    .. "--storage.tsdb.retention.time=50y --web.listen-address=127.0.0.1:%s --web.enable-admin-api "
    .. ">%s/prometheus.log 2>&1 & echo $!"):format(DIR, DIR, PORT, DIR))
  for _ = 1, 300 do
    if util.sh(("curl -sf %s/-/ready >/dev/null && echo up"):format(P)) == "up" then return pid end
    os.execute("sleep 0.2")
  end
  error("prometheus did not start: " .. util.read_file(DIR .. "/prometheus.log"):sub(-500))
end

-- How many rb_canary series Prometheus has, asked with curl (not through rb.prom).
local function canaries()
  local body = util.sh(("curl -s '%s/api/v1/query?query=count(rb_canary)&time=%d'"):format(P, AT))
  local doc = cjson.decode(body)
  local r = doc.data.result[1]
  return r and tonumber(r.value[2]) or 0
end

local LONG = "rb_canary" .. string.rep(" ", 1100)   -- long enough to go as a form POST

-- Every call the client exposes; errors are results here, the server state is the verdict.
local function use(c)
  c:query(LONG, { time = AT })
  c:query_range(LONG, { start = T0, stop = T0 + 60, step = 15 })
  c:query_many({ "rb_canary", LONG }, { time = AT })
  c:series("rb_canary", { start = T0, stop = T0 + 60 })
  c:labels()
  c:label_values("series")
  c:alerts(); c:rules(); c:targets(); c:buildinfo()
end

describe("rb.prom security", function()
  local pid
  setup(function()
    pid = start_prometheus()
    assert.equal(2, canaries())
  end)
  teardown(function()
    if pid then os.execute("kill " .. pid .. " 2>/dev/null; sleep 0.5") end
    os.execute("rm -rf " .. DIR)
  end)
  after_each(function() gate.set_mode("free"); gate.reset() end)

  it("a clean client reads the series (investigate mode: reads are allowed)", function()
    gate.set_mode("investigate")
    local c = prom.client(P)
    assert.equal(2, assert(c:value("count(rb_canary)", { time = AT })))
    assert.equal(2, assert(c:value(LONG:gsub("rb_canary", "count(rb_canary)", 1), { time = AT })))
    assert.equal(2, #assert(c:series("rb_canary", { start = T0, stop = T0 + 60 })))
  end)

  local refused = {
    { "a query with a trailing x=", P .. "/api/v1/admin/tsdb/delete_series?match[]=rb_canary&x=" },
    { "an empty query", P .. "/api/v1/admin/tsdb/delete_series?" },
    { "a query at the root", P .. "/?x=" },
    { "a fragment", P .. "/api/v1/admin/tsdb/delete_series?match%5B%5D=rb_canary#" },
    { "a bare fragment", P .. "/#" },
    { "a dot-dot segment", P .. "/../api/v1/admin/tsdb/delete_series" },
    { "a dot segment", P .. "/./api/v1/admin/tsdb/delete_series" },
    { "a trailing dot-dot", P .. "/api/v1/admin/tsdb/delete_series/x/.." },
    { "an encoded dot-dot", P .. "/%2e%2e/api/v1/admin/tsdb/delete_series" },
    { "an encoded '?'", P .. "/api/v1/admin/tsdb/delete_series%3Fmatch[]=rb_canary%23" },
    { "an encoded '/'", P .. "/x%2f..%2fapi%2fv1%2fadmin%2ftsdb%2fdelete_series" },
    { "a ';' parameter", P .. "/api/v1/admin/tsdb/delete_series;x=1" },
    { "a backslash", P .. "/x\\..\\api/v1/admin/tsdb/delete_series" },
    { "a CR/LF", P .. "/ HTTP/1.1\r\n\r\nPOST /api/v1/admin/tsdb/delete_series?match[]=rb_canary HTTP/1.1\r\nX:" },
  }
  for _, case in ipairs(refused) do
    it("a base URL with " .. case[1] .. " is refused and the series stay", function()
      local ok, err = pcall(function() use(prom.client(case[2])) end)
      assert.equal(2, canaries())
      assert.is_false(ok, "client accepted " .. case[2])
      assert.equal("request", err.kind, tostring(err))
    end)
  end

  it("a plain path prefix that names the admin API only reaches a path Prometheus does not serve", function()
    local c = prom.client(P .. "/api/v1/admin/tsdb/delete_series")
    local r, err = c:query(LONG, { time = AT })
    assert.is_nil(r)
    assert.matches("/api/v1/admin/tsdb/delete_series/api/v1/query", err.message, 1, true)
    use(c)
    assert.equal(2, canaries())
  end)

  it("a label name cannot carry a path", function()
    local c = prom.client(P)
    assert.has_error(function() c:label_values("series/../../admin/tsdb/delete_series") end)
    assert.has_error(function() c:label_values("x?match[]=rb_canary") end)
    assert.equal(2, canaries())
  end)

  it("query parameters are encoded: '&' and '#' in a query stay inside it", function()
    local c = prom.client(P)
    -- in PromQL '#' starts a comment: Prometheus got the whole text as one query
    local r = assert(c:query("rb_canary #&match[]=x&query=up", { time = AT }))
    assert.equal(2, #r)
    assert.equal("rb_canary", r[1].metric.__name__)
    assert.equal(2, canaries())
  end)

  it("userinfo in the base URL is basic auth, not part of the URL shown", function()
    local c = prom.client("http://reader:pw-prom-7788@127.0.0.1:" .. PORT)
    assert.is_nil(tostring(c):find("pw-prom-7788", 1, true))
    assert.equal(2, assert(c:value("count(rb_canary)", { time = AT })))
    local ok, err = pcall(prom.client, { url = "http://reader:pw-prom-7788@127.0.0.1:" .. PORT, bearer = "tok-123456" })
    assert.is_false(ok)
    assert.matches("credentials", tostring(err))
  end)

  it("control characters in credentials are refused before anything is sent", function()
    for _, o in ipairs { { bearer = "tok\r\nX-HTTP-Method-Override: POST" }, { user = "u\n", password = "p" },
                         { user = "u", password = "p\0q" } } do
      o.url = P
      local ok, err = pcall(function() prom.client(o):labels() end)
      assert.is_false(ok)
      assert.equal("request", err.kind)
      assert.matches("control character", err.message, 1, true)
    end
    assert.equal(2, canaries())
  end)

  -- Last: the admin API is on and this check sees a deletion.
  it("the admin API really deletes (so the checks above can fail)", function()
    util.sh(("curl -s -X POST '%s/api/v1/admin/tsdb/delete_series?match[]=rb_canary'"):format(P))
    assert.equal(0, canaries())
  end)
end)
