-- lab: none
-- rb.serve_alerts (webhook v4 checks, alert -> section mapping, targets),
-- rb.serve_metrics (text exposition) and rb.rbac.scan: the pure parts of
-- `runbook serve` and `runbook rbac`.
local alerts = require "rb.serve_alerts"
local metrics = require "rb.serve_metrics"
local rbac = require "rb.rbac"
local cjson = require "cjson"

local function body(over)
  local d = { version = "4", groupKey = "g", status = "firing", alerts = { {
    status = "firing", labels = { alertname = "HighGoroutineCount", book = "tmi", threshold = "goroutines" },
    annotations = { runbook = "runbook run tmi/goroutine-leaks" }, startsAt = "2026-01-01T00:00:00Z",
    fingerprint = "f1" } } }
  for k, v in pairs(over or {}) do d[k] = v end
  return cjson.encode(d)
end

describe("serve_alerts.parse", function()
  it("reads a version 4 notification", function()
    local p = assert(alerts.parse(body()))
    assert.equal("g", p.group_key)
    assert.equal("f1", p.alerts[1].fingerprint)
    assert.equal("HighGoroutineCount", p.alerts[1].labels.alertname)
  end)
  it("refuses other versions, naming the one sent", function()
    local p, err = alerts.parse(body { version = "3" })
    assert.is_nil(p)
    assert.matches('unsupported webhook version "3"', err, 1, true)
    assert.matches("version %(none%)", select(2, alerts.parse('{"alerts":[]}')))
  end)
  it("refuses invalid JSON, non-objects, deep nesting and bad alerts with the reason", function()
    assert.matches("not valid JSON", select(2, alerts.parse("{")))
    assert.matches("JSON object", select(2, alerts.parse("[1]")))
    assert.matches("not valid JSON", select(2, alerts.parse(("["):rep(100) .. ("]"):rep(100))))
    assert.matches("'alerts' must be an array", select(2, alerts.parse('{"version":"4","alerts":{"a":1}}')))
    local bad = cjson.decode(body()); bad.alerts[1].status = "pending"
    assert.matches("alerts%[1%]%.status", select(2, alerts.parse(cjson.encode(bad))))
    bad = cjson.decode(body()); bad.alerts[1].labels = { x = 1 }
    assert.matches("alerts%[1%]%.labels must map strings to strings", select(2, alerts.parse(cjson.encode(bad))))
  end)
  it("caps the number of alerts in one notification", function()
    local d = cjson.decode(body())
    for i = 2, alerts.MAX_ALERTS + 1 do d.alerts[i] = d.alerts[1] end
    assert.matches("at most 5000", select(2, alerts.parse(cjson.encode(d))))
  end)
  it("gives a stable fingerprint when the sender gives none", function()
    local d = cjson.decode(body()); d.alerts[1].fingerprint = nil
    local a = assert(alerts.parse(cjson.encode(d))).alerts[1]
    assert.equal(alerts.fingerprint(a.labels), a.fingerprint)
  end)
end)

describe("serve_alerts.section", function()
  local a = assert(alerts.parse(body())).alerts[1]
  it("follows export-alerts' runbook annotation", function()
    assert.equal("tmi/goroutine-leaks", alerts.section(a, {}))
  end)
  it("lets the config's mappings win, first match", function()
    local m = { { match = { alertname = "Other" }, section = "x/y" },
                { match = { alertname = "HighGoroutineCount", book = "tmi" }, section = "tmi/high-memory" } }
    assert.equal("tmi/high-memory", alerts.section(a, m))
  end)
  it("explains an alert it cannot map", function()
    local s, why = alerts.section({ labels = {}, annotations = { runbook = "see the wiki" } }, {})
    assert.is_nil(s); assert.matches("does not name a section", why)
    s, why = alerts.section({ labels = { alertname = "X" }, annotations = {} }, {})
    assert.is_nil(s); assert.matches("no mapping", why)
    assert.equal("b/s", alerts.section({ labels = { book = "b", section = "s" }, annotations = {} }, {}))
  end)
  it("makes the target from the configured labels only", function()
    local x = { labels = { namespace = "shop", pod = "p1", cluster = "eu" } }
    assert.equal("namespace=shop,cluster=eu", alerts.target(x, { "namespace", "cluster", "env" }))
    assert.equal("", alerts.target({ labels = { pod = "p1" } }, { "namespace" }))
  end)
  it("checks mappings", function()
    assert.matches("needs a non%-empty 'match'", select(2, alerts.check_mappings { { section = "a/b" } }))
    assert.matches("BOOK/SECTION", select(2, alerts.check_mappings { { match = { a = "b" }, section = "nope" } }))
  end)
end)

describe("serve_metrics", function()
  it("writes counters with escaped labels, gauges and the histogram", function()
    local m = metrics.new()
    m:add("runs_total", { section = 'a"b', outcome = "ok" })
    m:add("runs_total", { section = 'a"b', outcome = "ok" })
    m:set("queue_depth", 3)
    m:observe(2); m:observe(400)
    local t = m:text()
    assert.matches('runbook_runs_total{outcome="ok",section="a\\"b"} 2', t, 1, true)
    assert.matches("runbook_queue_depth 3", t, 1, true)
    assert.matches('runbook_run_duration_seconds_bucket{le="5"} 1', t, 1, true)
    assert.matches('runbook_run_duration_seconds_bucket{le="600"} 2', t, 1, true)
    assert.matches("runbook_run_duration_seconds_count 2", t, 1, true)
    assert.matches("# TYPE runbook_alerts_received_total counter", t, 1, true)
  end)
end)

describe("rbac.scan", function()
  it("finds calls, their literal kind, name or not, and the step they are in", function()
    local src = [[
local S = rb.section {}
local function helper() return k8s.get("deploy", "web") end
S:investigate("a", function() k8s.get("pods", nil, {}) ; k8s.logs(p) end)
-- k8s.delete("secrets", "x")
S:resolve("b", function() k8s.scale("web", 3) ; k8s.exec(p, {"ls"}) end)
]]
    local calls, warns = rbac.scan("f.lua", src)
    local got = {}
    for _, c in ipairs(calls) do got[#got + 1] = ("%s %s %s %s %s"):format(c.line, c.fn, tostring(c.first),
      tostring(c.has_name), tostring(c.step)) end
    assert.same({ "2 get deploy true nil", "3 get pods false investigate", "3 logs nil false investigate",
      "5 scale web true resolve", "5 exec nil false resolve" }, got)
    assert.same({}, warns)
    local r = rbac.rules(calls, {})
    assert.truthy(r.read["apps|deployments"].verbs.get)
    assert.truthy(r.read["|pods"].verbs.list)
    assert.truthy(r.write["apps|deployments/scale"].verbs.patch)
    assert.truthy(r.write["|pods/exec"].verbs.create)
    assert.is_nil(r.read["|pods/exec"])
  end)
end)
