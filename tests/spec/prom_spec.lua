-- prom_spec.lua — rb.prom against the real Prometheus 2.42 of the lab
-- (tests/lab/services/prom.sh): a backfilled hour whose answers were computed
-- independently by tests/lab/prom/gen.py, a live scrape target, and stub
-- servers for auth, warnings, garbage, silence and long queries.
local prom = require "rb.prom"
local cjson = require "cjson"
local sys = require "rb._sys"
local gate = require "rb._gate"

local URL = assert(os.getenv("RB_TEST_PROM_URL"), "RB_TEST_PROM_URL unset: run through tests/run")
local STUB = os.getenv("RB_TEST_PROM_STUB_URL")
local f = assert(io.open(assert(os.getenv("RB_TEST_PROM_EXPECTED"))))
local EXP = cjson.decode(f:read("a"))
f:close()

local NAN, INF = 0 / 0, math.huge
local SPECIAL = { NaN = NAN, ["+Inf"] = INF, ["-Inf"] = -INF }
local function expected_number(v) return SPECIAL[v] or v end

-- equal within 1e-9 relative; NaN equals NaN
local function close(got, want)
  if want ~= want then return got ~= got end
  if got == want then return true end
  return math.abs(got - want) <= 1e-9 * math.max(math.abs(got), math.abs(want))
end

local function labels_key(m)
  local ks = {}
  for k, v in pairs(m) do ks[#ks + 1] = k .. "=" .. v end
  table.sort(ks)
  return table.concat(ks, ",")
end

local function assert_vector(res, want, name)
  assert.equal("vector", res.type)
  local got = {}
  for _, s in ipairs(res) do got[labels_key(s.metric)] = s.value end
  assert.equal(#want, #res, name .. ": series count")
  for _, w in ipairs(want) do
    local k, v = labels_key(w.metric), expected_number(w.value)
    assert(got[k] ~= nil, name .. ": missing series {" .. k .. "}")
    assert(close(got[k], v), ("%s {%s}: got %.17g, want %.17g"):format(name, k, got[k], v))
  end
end

local function array(t) return table.move(t, 1, #t, 1, {}) end

local c = prom.client { url = URL, timeout = 10 }

describe("rb.prom on the backfilled hour (answers from gen.py)", function()
  for _, case in ipairs(EXP.instant) do
    it(case.name .. ": " .. case.query, function()
      local res = assert(c:query(case.query, { time = case.time }))
      assert_vector(res, case.result, case.name)
    end)
  end

  for _, case in ipairs(EXP.range) do
    it("query_range " .. case.query, function()
      local res = assert(c:query_range(case.query, { start = case.start, stop = case.stop, step = case.step }))
      assert.equal("matrix", res.type)
      assert.equal(1, #res)
      local got = res[1].values
      assert.equal(#case.values, #got)
      for i, p in ipairs(case.values) do
        assert.equal(p[1], got[i][1])
        assert(close(got[i][2], p[2]), ("point %d: got %.17g, want %.17g"):format(i, got[i][2], p[2]))
      end
    end)
  end

  it("value() returns the one number of a query", function()
    for _, case in ipairs(EXP.value) do
      local v = assert(c:value(case.query, { time = case.time }))
      assert(close(v, case.value), ("%s: got %.17g want %.17g"):format(case.query, v, case.value))
    end
  end)

  it("value() says whether the vector was empty or held several series", function()
    local v, err = c:value("go_goroutines", { time = EXP.eval_time })
    assert.is_nil(v)
    assert.equal("several", err.kind)
    assert.equal(2, err.count)
    v, err = c:value('go_goroutines{instance="nowhere"}', { time = EXP.eval_time })
    assert.is_nil(v)
    assert.equal("empty", err.kind)
    assert.matches("no series", tostring(err))
  end)

  it("topk returns the busiest endpoints", function()
    local res = assert(c:query("topk(3, sum by (endpoint) (rate(http_requests_total[5m])))", { time = EXP.eval_time }))
    table.sort(res, function(a, b) return a.value > b.value end)
    local order = {}
    for i, s in ipairs(res) do order[i] = s.metric.endpoint end
    assert.same(EXP.topk_order, order)
  end)

  it("NaN and ±Inf become Lua numbers", function()
    local res = assert(c:query('histogram_quantile(0.95, sum by (endpoint, le) (rate(http_request_duration_seconds_bucket[5m])))',
                               { time = EXP.eval_time }))
    local nan
    for _, s in ipairs(res) do if s.metric.endpoint == EXP.nan_endpoint then nan = s.value end end
    assert.is_number(nan)
    assert.is_true(nan ~= nan)
    assert.equal(INF, c:value("scalar(vector(1)) / 0"))
    assert.equal(-INF, c:value("-1 / 0"))
    local r = assert(c:query("vector(1) / 0"))
    assert.equal(INF, r[1].value)
  end)

  it("series, labels and label_values", function()
    local s = assert(c:series(EXP.series_users.match))
    assert.equal(EXP.series_users.count, #s)
    assert.equal("/api/users", s[1].endpoint)
    local names = {}
    for _, n in ipairs(assert(c:labels())) do names[n] = true end
    for _, n in ipairs { "__name__", "endpoint", "instance", "job", "le", "status" } do
      assert.is_true(names[n], n)
    end
    local eps = assert(c:label_values("endpoint", { match = "http_requests_total" }))
    assert.same(EXP.endpoints, array(eps))
    assert.same({}, eps.warnings)
    assert.same(EXP.instances, array(assert(c:label_values("instance", { match = "go_goroutines" }))))
  end)

  it("a range result renders as a sparkline, gaps as spaces", function()
    local q = 'go_goroutines{instance="%s"}'
    local r = assert(c:query_range(q:format(EXP.instances[2]), { start = EXP.start, stop = EXP["end"], step = 60 }))
    local line = prom.sparkline(r, { width = 100 })
    assert.equal(61, utf8.len(line))
    assert.equal(60, utf8.len(prom.sparkline(r)))   -- default width
    assert.equal("▁", line:sub(1, 3))   -- api-1 leaks goroutines: the line climbs
    assert.equal("█", line:sub(-3))
    assert.equal(20, utf8.len(prom.sparkline(r, { width = 20 })))
    local gappy = assert(c:query_range(("%s < 200 or %s > 400"):format(q:format(EXP.instances[2]), q:format(EXP.instances[2])),
                                       { start = EXP.start, stop = EXP["end"], step = 60 }))
    line = prom.sparkline(gappy, { width = 100 })
    assert.equal(61, utf8.len(line))
    assert.matches("^[▁▂▃]+ + [▄▅▆▇█]+$", line)
  end)
end)

describe("rb.prom quoting", function()
  local t = EXP.eval_time

  it("a quoted parameter cannot inject PromQL", function()
    local evil = 'x"} or vector(1) or go_goroutines{instance="'
    local res = assert(c:query("go_goroutines{instance=" .. prom.quote(evil) .. "}", { time = t }))
    assert.equal(0, #res)
    res = assert(c:query("go_goroutines{instance=" .. prom.quote(EXP.instances[1]) .. "}", { time = t }))
    assert.equal(1, #res)
  end)

  it("any string survives the trip through a PromQL literal", function()
    for _, s in ipairs { 'a"b', "back\\slash", "new\nline\ttab", "caf\u{e9} \u{2603}", "\\\"", "" } do
      local res = assert(c:query('label_replace(vector(1), "v", ' .. prom.quote(s) .. ', "", "")'))
      if s == "" then assert.is_nil(res[1].metric.v) else assert.equal(s, res[1].metric.v) end
    end
  end)

  it("quote_regex matches the value literally", function()
    local count = function(re)
      return #assert(c:query("http_requests_total{endpoint=~" .. re .. "}", { time = t }))
    end
    assert.equal(EXP.series_users.count, count(prom.quote_regex("/api/users")))
    assert.equal(EXP.series_users.count, count(prom.quote("/api/user.")))   -- unescaped: '.' matches 's'
    assert.equal(0, count(prom.quote_regex("/api/user.")))
  end)
end)

describe("rb.prom errors", function()
  it("bad PromQL is a prom error of type bad_data", function()
    -- the seed writes `... by (endpoint)` after a function call, which PromQL rejects
    local res, err = c:query("rate(http_requests_total[5m]) by (endpoint)")
    assert.is_nil(res)
    assert.equal("prom", err.kind)
    assert.equal("bad_data", err.type)
    assert.equal(400, err.status)
    assert.matches("parse error", err.message)
  end)

  it("a server-side timeout is a prom error of type timeout", function()
    local _, err = c:query("sum(rate(http_requests_total[1h]))", { time = EXP.eval_time, timeout = 1e-6 })
    assert.equal("prom", err.kind)
    assert.equal("timeout", err.type)
  end)

  it("a server that is down is a conn error", function()
    local _, err = prom.client(os.getenv("RB_TEST_PROM_CLOSED_URL")):query("up")
    assert.equal("conn", err.kind)
  end)

  it("a listener that never answers is a timeout within the bound", function()
    local t0 = sys.clock_ms()
    local _, err = prom.client { url = os.getenv("RB_TEST_PROM_SILENT_URL"), timeout = 1 }:query("up")
    local ms = sys.clock_ms() - t0
    assert.equal("timeout", err.kind)
    assert.is_true(ms >= 900 and ms < 2500, "took " .. ms .. " ms")
  end)

  it("a body that is not JSON is a parse error", function()
    local _, err = prom.client(STUB .. "/garbage"):query("up")
    assert.equal("parse", err.kind)
    assert.matches("not JSON", err.message)
  end)

  it("JSON that is not the documented shape is a parse error", function()
    for _, path in ipairs { "/nodata", "/shape" } do
      local res, err = prom.client(STUB .. path):query("up")
      assert.is_nil(res)
      assert.equal("parse", err.kind, path)
    end
  end)

  it("an API error status maps its errorType", function()
    local _, err = prom.client(STUB .. "/status/503"):query("up")
    assert.equal("prom", err.kind)
    assert.equal("unavailable", err.type)
    assert.equal(503, err.status)
  end)

  it("misuse raises", function()
    assert.has_error(function() c:query(42) end)
    assert.has_error(function() c.query("up") end)
    assert.has_error(function() prom.client { url = "ftp://x" } end)
    assert.has_error(function() c:label_values('x"}') end)
    assert.has_error(function() prom.sparkline("x") end)
  end)
end)

describe("rb.prom requests", function()
  it("sends bearer and basic credentials and returns warnings", function()
    local res = assert(prom.client { url = STUB .. "/auth", bearer = "rb-lab-token-5f3a" }:query("up"))
    assert.equal("bearer", res[1].metric.auth)
    assert.same({ "stub warning: results may be incomplete" }, res.warnings)
    res = assert(prom.client { url = STUB .. "/auth", user = "lab", password = "rb-lab-pass-9c1e" }:query("up"))
    assert.equal("basic", res[1].metric.auth)
    local _, err = prom.client(STUB .. "/auth"):query("up")
    assert.equal("http", err.kind)
    assert.equal(401, err.status)
  end)

  it("keeps credentials out of error messages", function()
    local token = "rb-lab-token-5f3a"
    local _, err = prom.client { url = os.getenv("RB_TEST_PROM_CLOSED_URL") .. "/" .. token, bearer = token }:query("up")
    assert.is_nil(tostring(err):find(token, 1, true))
    assert.matches("REDACTED", tostring(err))
  end)

  it("sends a long query as a form POST, a short one as GET", function()
    local echo = prom.client(STUB .. "/echo")
    local long = "sum(up) + " .. ("0 * vector(1) + "):rep(80) .. "0"
    local res = assert(echo:query(long))
    assert.equal("POST", res[1].metric.method)
    assert.equal("application/x-www-form-urlencoded", res[1].metric.content_type)
    assert.equal(#long, res[1].value)
    res = assert(echo:query("up"))
    assert.equal("GET", res[1].metric.method)
    -- and the real server answers it, as a read, in investigate mode
    gate.set_mode("investigate")
    local ok, v, err = pcall(c.value, c, (long:gsub("^sum%(up%)", "sum(go_goroutines)")), { time = EXP.eval_time })
    gate.set_mode("free")
    assert(ok, v)
    assert.is_nil(err)
    local want = 0
    for _, case in ipairs(EXP.instant) do
      if case.query == "go_goroutines" then for _, s in ipairs(case.result) do want = want + s.value end end
    end
    assert.equal(want, v)
  end)

  it("query_many returns results in order; a failing query spoils nothing", function()
    local t = EXP.eval_time
    local res, errs = c:query_many({
      EXP.value[1].query,
      "rate(http_requests_total[5m]) by (endpoint)",
      { "sum(rate(http_requests_total[1h]))", timeout = 1e-6 },
      { 'go_goroutines{instance="api-1:8080"}', start = EXP.start + 600, stop = EXP["end"], step = 60 },
      "go_goroutines",
    }, { time = t })
    assert.equal(5, res.n)
    assert.is_true(close(res[1][1].value, EXP.value[1].value))
    assert.is_nil(res[2])
    assert.equal("bad_data", errs[2].type)
    assert.is_nil(res[3])
    assert.equal("timeout", errs[3].type)
    assert.equal("matrix", res[4].type)
    assert.equal(#EXP.range[1].values, #res[4][1].values)
    assert.equal(2, #res[5])
    assert.is_nil(errs[1] or errs[4] or errs[5])
  end)

  it("query_many runs its queries concurrently", function()
    local slow = prom.client(STUB .. "/slow")      -- each answer takes 1.5 s
    local t0 = sys.clock_ms()
    local res, errs = slow:query_many { "a", "b", "c", "d" }
    local ms = sys.clock_ms() - t0
    for i = 1, 4 do assert.is_nil(errs[i]) assert.equal(1, res[i][1].value) end
    assert.is_true(ms < 3000, "4 slow queries took " .. ms .. " ms")
  end)

  it("a slow query times out alone", function()
    local slow = prom.client { url = STUB .. "/slow", timeout = 1 }
    local res, errs = slow:query_many { "a", "b" }
    assert.equal("timeout", errs[1].kind)
    assert.equal("timeout", errs[2].kind)
    assert.is_nil(res[1])
  end)

  it("module functions use PROMETHEUS_URL when no target is set", function()
    if os.getenv("PROMETHEUS_URL") == nil then
      require("rb")._set_targets { prometheus = URL }
    end
    local v = assert(prom.value("sum(go_goroutines)", { time = EXP.eval_time }))
    assert.is_true(v > 0)
    require("rb")._set_targets {}
  end)
end)

describe("rb.prom live scrape", function()
  local function wait_for(what, fn)
    local deadline = sys.clock_ms() + 20000
    while sys.clock_ms() < deadline do
      local v = fn()
      if v then return v end
      sys.sleep_ms(250)
    end
    error("gave up waiting for " .. what)
  end

  it("scrapes the lab target until up == 1", function()
    local v = wait_for("up == 1", function() return c:value('up{job="rb-lab-target"}') == 1 end)
    assert.is_true(v)
    local a = assert(c:value("rb_lab_ticks_total"))
    wait_for("the counter to move", function() return (c:value("rb_lab_ticks_total") or 0) > a end)
  end)

  it("targets, rules and alerts", function()
    local t = assert(c:targets())
    assert.equal("up", t.activeTargets[1].health)
    local groups = assert(c:rules())
    assert.equal("rb-lab", groups[1].name)
    assert.equal(2, #groups[1].rules)
    local alerts = wait_for("RbLabTargetUp", function()
      local a = c:alerts()
      return a and #a > 0 and a
    end)
    assert.equal("RbLabTargetUp", alerts[1].labels.alertname)
    assert.equal(1, alerts[1].value)
  end)
end)
