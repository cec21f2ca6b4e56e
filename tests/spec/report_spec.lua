-- lab: none
-- rb.svg, rb.report and its formats, without a browser or a lab: chart
-- geometry and bounds, JSON shape, number formats, the audit reader, the
-- flame-graph filter and the redactor on the final text.
local svg = require "rb.svg"
local report = require "rb.report"
local rjson = require "rb.report_json"
local fmt = require "rb.report_fmt"
local html = require "rb.report_html"
local raudit = require "rb.report_audit"
local sys = require "rb._sys"
local cjson = require "cjson"

local function saw(n, step, t0)
  local pts = {}
  for i = 1, n do pts[i] = { (t0 or 1700000000) + i * (step or 1), 100 + (i % 10) * 50 } end
  return pts
end

local function attr(text, name) return text:match(name .. '="([^"]*)"') end

local function polyline_points(text)
  local p = text:match('<polyline[^>]- points="([^"]*)"')
  local out = {}
  for x, y in p:gmatch("([%d.%-]+),([%d.%-]+)") do out[#out + 1] = { tonumber(x), tonumber(y) } end
  return out
end

local function tmpname()
  local p = os.tmpname()
  os.remove(p)
  return p
end

describe("rb.svg", function()
  it("draws a short series exactly: one point per sample", function()
    local s = svg.chart { title = "p95", unit = "ms", warn = 300, crit = 500, series = { { name = "p95", points = saw(60, 15) } } }
    assert.are.equal(60, #polyline_points(s))
    assert.are.equal("60", attr(s, "data%-points"))
  end)

  it("puts threshold lines where the value axis says", function()
    local s = svg.chart { title = "p95", warn = 300, crit = 500, series = { { name = "p95", points = saw(60, 15) } } }
    local lo, hi = tonumber(attr(s, "data%-lo")), tonumber(attr(s, "data%-hi"))
    local top, bottom = tonumber(attr(s, "data%-top")), tonumber(attr(s, "data%-bottom"))
    for name, v in pairs { warn = 300, crit = 500 } do
      local y = tonumber(s:match('class="threshold ' .. name .. '" data%-value="' .. v .. '"[^>]- y1="([%d.]+)"'))
      assert.is_not_nil(y, name)
      assert.is_true(math.abs(y - (top + (hi - v) / (hi - lo) * (bottom - top))) < 0.06, name)
    end
    -- the highest sample (550) is the highest point drawn
    local min_y = math.huge
    for _, p in ipairs(polyline_points(s)) do min_y = math.min(min_y, p[2]) end
    assert.is_true(math.abs(min_y - (top + (hi - 550) / (hi - lo) * (bottom - top))) < 0.06)
  end)

  it("keeps a crit line in range when only crit is given", function()
    local s = svg.chart { title = "x", crit = 2000, series = { { name = "a", points = saw(10) } } }
    assert.is_true(tonumber(attr(s, "data%-hi")) >= 2000)
    assert.truthy(s:find('class="threshold crit"', 1, true))
    assert.falsy(s:find('class="threshold warn"', 1, true))
  end)

  it("downsamples 100k samples to 2 per pixel column, keeping the spikes, within bounds", function()
    local pts = saw(100000, 1)
    pts[54321][2] = 99999          -- one spike
    pts[76543][2] = -5             -- one dip
    local t0 = os.clock()
    local s = svg.chart { title = "big", series = { { name = "rps", points = pts } } }
    local secs = os.clock() - t0
    local drawn = polyline_points(s)
    assert.is_true(#drawn <= svg.MAX_POINTS, #drawn .. " points drawn")
    assert.are.equal("100000", attr(s, "data%-total"))
    assert.is_true(#s < 40 * 1024, #s .. " bytes")
    assert.is_true(secs < 2, secs .. " s")
    local hi, lo = tonumber(attr(s, "data%-hi")), tonumber(attr(s, "data%-lo"))
    assert.is_true(hi >= 99999 and lo <= -5)
    local top, bottom = tonumber(attr(s, "data%-top")), tonumber(attr(s, "data%-bottom"))
    local ys = {}
    for _, p in ipairs(drawn) do ys[#ys + 1] = p[2] end
    assert.is_true(math.abs(math.min(table.unpack(ys)) - (top + (hi - 99999) / (hi - lo) * (bottom - top))) < 0.06)
    assert.is_true(math.abs(math.max(table.unpack(ys)) - (top + (hi + 5) / (hi - lo) * (bottom - top))) < 0.06)
  end)

  it("takes Prometheus' string values, drops NaN and unsorted input is sorted", function()
    local s = svg.chart { title = "x", points = { { 3, "2.5" }, { 1, "1" }, { 2, "NaN" }, { 4, 0 / 0 }, { 5, "x" } } }
    assert.are.equal(2, #polyline_points(s))
    local p = polyline_points(s)
    assert.is_true(p[1][1] < p[2][1])
  end)

  it("escapes titles, series names and units", function()
    local s = svg.chart { title = "<script>alert(1)</script>", unit = '"><img', series = { { name = "<b>", points = saw(3) } } }
    assert.falsy(s:find("<script>", 1, true))
    assert.falsy(s:find('"><img', 1, true))
    assert.truthy(s:find("&lt;script&gt;", 1, true))
  end)

  it("says no data for an empty chart and still draws its thresholds", function()
    local s = svg.chart { title = "empty", warn = 1, series = {} }
    assert.truthy(s:find(">no data<", 1, true))
    assert.truthy(s:find('class="threshold warn"', 1, true))
  end)

  it("draws a fix marker inside the time range only", function()
    local c = { title = "x", series = { { name = "a", points = saw(10, 10, 1000) } } }
    assert.truthy(svg.chart(c, { markers = { { t = 1050, label = "fix applied" } } }):find('class="marker"', 1, true))
    assert.falsy(svg.chart(c, { markers = { { t = 5000 } } }):find('class="marker"', 1, true))
  end)

  it("text sparklines say min and max", function()
    local line, lo, hi = svg.spark(saw(100), 20)
    assert.are.equal(20, utf8.len(line))
    assert.are.equal(100, lo)
    assert.are.equal(550, hi)
  end)
end)

describe("rb.report_json", function()
  it("writes empty lists as [], marked objects as {}, sorted keys", function()
    assert.are.equal('{"a":[],"b":{},"c":[1,2]}', rjson.encode { c = { 1, 2 }, a = {}, b = rjson.object {} })
  end)
  it("writes NaN and infinities as null and keeps floats exact", function()
    assert.are.equal("[null,null,0.1,450.123456,3]", rjson.encode { 0 / 0, math.huge, 0.1, 450.123456, 3 })
  end)
  it("writes valid UTF-8 and escapes </ for HTML", function()
    local text = rjson.encode { "bad\xff\xfe é", "</script>", "\1" }
    assert.is_not_nil(utf8.len(text))
    assert.are.equal('["bad\u{FFFD}\u{FFFD} é","<\\/script>","\\u0001"]', text)
    assert.are.same({ "bad\u{FFFD}\u{FFFD} é", "</script>", "\1" }, cjson.decode(text))
  end)
end)

describe("rb.report_fmt", function()
  it("formats numbers with units and sensible precision, never nan", function()
    assert.are.equal("0.114 %", fmt.num(0.11371237458194, "%"))
    assert.are.equal("450 ms", fmt.num(450.123456, "ms"))
    assert.are.equal("12.5 s", fmt.num(12.5, "s"))
    assert.are.equal("1,234,567", fmt.num(1234567))
    assert.are.equal("1.5 GiB", fmt.num(1.5 * 1024 ^ 3, "bytes"))
    assert.are.equal("n/a", fmt.num(0 / 0, "ms"))
    assert.are.equal("n/a", fmt.num(nil))
    assert.are.equal("yes", fmt.num(true))
  end)
  it("formats durations and reads RFC 3339 times", function()
    assert.are.equal("850 ms", fmt.duration(850))
    assert.are.equal("12.3 s", fmt.duration(12345))
    assert.are.equal("4 min 05 s", fmt.duration(245000))
    assert.are.equal(1700000003.25, fmt.epoch("2023-11-14T22:13:23.250Z"))
    assert.are.equal(1700000003, fmt.epoch("2023-11-15T00:13:23+02:00"))
    assert.are.equal("2023-11-14 22:13:23.250Z", fmt.time(1700000003.25))
  end)
end)

-- a run object as the runner leaves it
local function fake_run(over)
  local run = {
    id = "0123456789abcdef", name = "book/demo", section = { title = "Demo" }, user = "ops", host = "box",
    dry_run = false, params = { n = 1 }, exit = 0, audit_path = "/nonexistent/audit.jsonl",
    started = 1700000000.5, ended = 1700000010.25, findings = {}, steps = {},
  }
  local f = { name = "p95", value = 450.5, level = "warning", warn = 300, crit = 500, unit = "ms", step = "Look" }
  run.findings[1] = f
  run.steps[1] = { title = "Look", kind = "investigate", ok = true, ms = 120, started = 1700000001,
    findings = { f }, notes = { "n" }, logs = {},
    charts = { { title = "p95", unit = "ms", warn = 300, crit = 500, series = { { name = "p95", points = saw(5000) } } } } }
  run.steps[2] = { title = "Fix", kind = "resolve", risk = "low", ok = true, ms = 30, started = 1700000005,
    findings = {}, notes = {}, logs = {}, applied = true, answer = "yes (--yes)",
    plan = { { binding = "pg", op = "exec", target = "postgres://db/app", args = '["ALTER SYSTEM SET work_mem = \'64MB\'"]',
      simulable = true, simulated = "work_mem: 4MB -> 64MB" },
      { binding = "k8s", op = "patch", target = "/apis/apps/v1/namespaces/tmi/deployments/api",
        args = '{"body":{"spec":{"replicas":5}}}', simulable = true, simulated = "-spec.replicas: 3\n+spec.replicas: 5" } },
    verify = { ok = true, before = { { name = "p95", value = 4800, level = "critical", threshold = { unit = "ms" } } },
      after = { { name = "p95", value = 120, level = "good", threshold = { unit = "ms" } } } } }
  for k, v in pairs(over or {}) do run[k] = v end
  return run
end

describe("rb.report", function()
  it("builds a document with structured plan args and bounded series", function()
    local d = report.doc(fake_run())
    assert.are.same({ "ALTER SYSTEM SET work_mem = '64MB'" }, d.steps[2].plan[1].args)
    assert.are.equal(5, d.steps[2].plan[2].args.body.spec.replicas)
    local s = d.steps[1].charts[1].series[1]
    assert.are.equal(5000, s.total)
    assert.is_true(#s.points <= report.MAX_DOC_POINTS)
    local back = cjson.decode(report.json(fake_run()))
    assert.are.equal("table", type(back.steps[1].logs))
    assert.truthy(report.json(fake_run()):find('"logs":[]', 1, true))
  end)

  it("chooses the format by the extension and refuses others", function()
    assert.are.equal("html", report.format_of("x/r.HTML"))
    assert.are.equal("md", report.format_of("r.md"))
    local f, err = report.format_of("r.txt")
    assert.is_nil(f)
    assert.truthy(err:find(".md, .json or .html", 1, true))
  end)

  it("renders a saved document the same as the run it came from", function()
    local run = fake_run()
    local d = report.load(report.json(run))
    local a = report.render(report.doc(run), "html", { audit = false }):gsub("generated [^<]*", "")
    local b = report.render(d, "html", { audit = false }):gsub("generated [^<]*", "")
    assert.are.equal(a, b)
  end)

  it("HTML: the plan's SQL, diff, approval, verification and a fix marker; nothing external", function()
    local page = report.render(report.doc(fake_run()), "html", { audit = false })
    assert.truthy(page:find("ALTER SYSTEM SET work_mem &#61; &#39;64MB&#39;", 1, true))
    assert.truthy(page:find('<span class="add">+spec.replicas&#58; 5</span>', 1, true))
    assert.truthy(page:find("yes (--yes) by ops", 1, true))
    assert.truthy(page:find("the fix holds", 1, true))
    assert.truthy(page:find('Content-Security-Policy" content="default-src \'none\'', 1, true))
    assert.falsy(page:find("<link", 1, true))
    assert.falsy(page:find("%ssrc="))
    for url in page:gmatch('href="([^"]*)"') do assert.truthy(url:match("^#") or url:match("^file://"), url) end
    for url in page:gmatch("https?://[^\"'<%s]+") do
      assert.truthy(url == "http://www.w3.org/2000/svg" or url:match("^http://127%.0%.0%.1"), url)
    end
  end)

  it("a registered secret appears in no format", function()
    local canary = "canary-" .. sys.run_id()
    sys.add_secret(canary)
    local run = fake_run()
    run.steps[1].notes = { "token " .. canary }
    run.steps[1].logs = { "log " .. canary }
    run.steps[1].findings[1].detail = canary
    run.steps[1].charts[1].title = "chart " .. canary
    run.steps[2].plan[1].args = cjson.encode { "SELECT '" .. canary .. "'" }
    for _, format in ipairs { "html", "md", "json" } do
      local text = report.render(report.doc(run), format, { audit = false })
      assert.falsy(text:find(canary, 1, true), format)
      assert.truthy(text:find("[REDACTED]", 1, true), format)
    end
  end)

  it("a report of 500 steps stays under 1.5 MB and renders in under 2 s", function()
    local run = fake_run()
    for i = 3, 502 do
      local f = { name = "c" .. i, value = i, level = "good", warn = 1000, crit = 2000, step = "s" .. i }
      run.steps[i] = { title = "s" .. i, kind = "investigate", ok = true, ms = 5, started = 1700000002 + i / 100,
        findings = { f }, notes = { "note " .. i }, logs = { "log line " .. i } }
      run.findings[#run.findings + 1] = f
    end
    local t0 = os.clock()
    local page = report.render(report.doc(run), "html", { audit = false })
    local secs = os.clock() - t0
    assert.is_true(#page < 1.5 * 1024 * 1024, #page .. " bytes")
    assert.is_true(secs < 2, secs .. " s")
    local _, n = page:gsub('<section class="step', "")
    assert.are.equal(502, n)
  end)
end)

describe("the redactor over a finished page", function()
  it("finds nothing left to redact and cannot eat markup", function()
    sys.add_secret("s3cr3t-" .. sys.run_id())
    local run = fake_run()
    local tricky = { "api_token: abcdefghijkl", "Authorization: Bearer abcdefghijklmnop", "password=hunter22xyz",
      "postgres://ops:pw123456@db:5432/app", '{"token":"abcdefghijkl"}', "a::b", "" }
    run.params = { api_token = "", base = "http://127.0.0.1:1", n = 1 }
    run.steps[1].notes = tricky
    run.steps[1].logs = tricky
    run.steps[1].findings[1].detail = tricky[2]
    run.steps[1].charts[1].title = tricky[1]
    run.steps[2].plan[2].simulated = table.concat(tricky, "\n")
    local raw = require("rb.report_html").render(report.doc(run), { audit = false })
    assert.are.equal(raw, sys.redact(raw))
    local _, opens = raw:gsub("<li[ >]", "")
    local _, closes = raw:gsub("</li>", "")
    assert.are.equal(opens, closes)
    for _, t in ipairs { "abcdefghijkl", "abcdefghijklmnop", "hunter22xyz", "pw123456" } do
      assert.falsy(raw:find(t, 1, true), t)
    end
  end)
end)

describe("rb.report_html.inline_svg", function()
  it("inlines the engine's flame graph and refuses active content", function()
    local ok = '<?xml version="1.0" standalone="no"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10"><g><title>main</title><rect/></g></svg>'
    assert.truthy(html.inline_svg(ok):find("^<svg"))
    for _, bad in ipairs { '<svg><script>alert(1)</script></svg>', '<svg onload="x()"></svg>',
      '<svg><a href="http://x">x</a></svg>', '<svg><foreignObject/></svg>', '<svg><use xlink:href="#a"/></svg>',
      '<svg style="background:url(http://x)"></svg>', "<html></html>" } do
      assert.is_nil(html.inline_svg(bad), bad)
    end
  end)
end)

describe("rb.report_audit", function()
  it("finds a run by prefix, reads its events and rebuilds a document from them alone", function()
    local path = tmpname()
    local audit = require "rb.audit"
    local base = { run = "feedc0de00000001", user = "ops", host = "box", section = "book/demo", dry_run = false }
    local log = audit.open(path, base)
    log:event("run_start", { mode = "full", params = { n = 1 } })
    log:event("step_start", { mode = "investigate" }, "Look")
    log:event("finding", { finding = { name = "p95", value = 450, level = "warning", warn = 300, crit = 500 } }, "Look")
    log:event("step_end", { ok = true, ms = 12 }, "Look")
    log:event("step_start", { mode = "resolve" }, "Fix")
    log:event("plan", { actions = { { binding = "http", op = "post", target = "http://127.0.0.1:1/x" } } }, "Fix")
    log:event("confirm", { answer = "yes" }, "Fix")
    log:event("step_end", { ok = true, ms = 3, applied = true }, "Fix")
    log:event("run_end", { ok = true, exit = 0 })
    local other = audit.open(path, { run = "feedc0de00000002", user = "x", host = "y", section = "s", dry_run = true })
    other:event("run_start", { mode = "full" })
    assert.are.equal("feedc0de00000001", raudit.find(path, "feedc0de00000001"))
    local id, err = raudit.find(path, "feedc0de")
    assert.is_nil(id)
    assert.truthy(err:find("matches 2 runs", 1, true))
    local info = assert(raudit.events(path, "feedc0de00000001"))
    assert.are.equal(9, #info.events)
    assert.are.equal(info.events[1].hash, info.first)
    assert.are.equal(info.events[9].hash, info.last)
    local d = raudit.doc(info)
    assert.are.equal("warning", d.findings[1].level)
    assert.are.equal("resolve", d.steps[2].kind)
    assert.are.equal("http://127.0.0.1:1/x", d.steps[2].plan[1].target)
    assert.are.equal("yes", d.steps[2].answer)
    assert.are.equal(0, d.exit)
    local page = report.render(d, "html", { audit = info })
    assert.truthy(page:find(info.last, 1, true))
    assert.truthy(page:find("rebuilt from the audit log alone", 1, true))
    assert.are.equal(2, #raudit.runs(path))
    assert.are.equal(0, #raudit.runs(path, os.time() + 3600))
    os.remove(path)
  end)
end)
