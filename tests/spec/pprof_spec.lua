-- pprof_spec.lua — the rb.pprof Lua API: what raises (misuse) and what
-- returns nil, err (bad data, failed fetches), the shapes of results, and
-- fetches against the lab's Go program (tests/lab/services/pprof.sh).
-- Exact agreement with `go tool pprof` is checked in tests/e2e/pprof.sh.
local pprof = require "rb.pprof"

local URL = assert(os.getenv("RB_TEST_PPROF_URL"), "RB_TEST_PPROF_URL unset: run through tests/run")

local DUMP = [[
goroutine 1 [running]:
main.main()
	/app/main.go:10 +0x1d

goroutine 7 [chan receive, 12 minutes]:
main.worker(0xc000012345)
	/app/main.go:20 +0x25
created by main.start in goroutine 1
	/app/main.go:30 +0x5f
]]

local function heap()
  return assert(pprof.fetch(URL, "heap"))
end

describe("rb.pprof.parse", function()
  it("returns nil and a parse error for bytes that are not a profile", function()
    for _, bad in ipairs { "", "garbage", "\31\139\8\0\0\0", ("\255"):rep(40) } do
      local p, err = pprof.parse(bad)
      assert.is_nil(p)
      assert.equal("parse", err.kind)
      assert.truthy(tostring(err):find("pprof: ", 1, true))
    end
  end)

  it("raises on a non-string argument", function()
    assert.has_error(function() pprof.parse({}) end)
  end)

  it("reads a fetched heap profile: sample types, default, info, total", function()
    local p = heap()
    local types = p:sample_types()
    assert.equal(4, #types)
    assert.equal("inuse_space", types[4].type)
    assert.equal("bytes", types[4].unit)
    assert.is_true(types[4].default)
    local info = p:info()
    assert.equal("space", info.period_type)
    assert.truthy(info.samples > 0 and info.functions > 0 and info.bytes > 0)
    assert.equal(p:total(), p:total("inuse_space"))
    assert.truthy(p:total() >= 8 * 1024 * 1024, "allocLarge retains 8 MB")
    assert.matches("rb.pprof.Profile %(inuse_space, %d+ samples%)", tostring(p))
  end)
end)

describe("Profile:top", function()
  it("gives rows with name, flat, cum and percentages, largest first", function()
    local rows = heap():top { n = 3 }
    assert.equal(3, #rows)
    assert.equal("inuse_space", rows.sample_type)
    assert.equal("bytes", rows.unit)
    for i, r in ipairs(rows) do
      assert.equal("string", type(r.name))
      assert.truthy(math.abs(r.flat / rows.total * 100 - r.flat_pct) < 1e-9)
      assert.truthy(math.abs(r.cum / rows.total * 100 - r.cum_pct) < 1e-9)
      if i > 1 then assert.truthy(rows[i - 1].flat >= r.flat) end
    end
    assert.equal("main.allocLarge", rows[1].name)
  end)

  it("orders by cum and honours sample_type", function()
    local rows = heap():top { by = "cum", sample_type = "alloc_space", n = 0 }
    assert.equal("alloc_space", rows.sample_type)
    for i = 2, #rows do assert.truthy(rows[i - 1].cum >= rows[i].cum) end
  end)

  it("raises on misuse", function()
    local p = heap()
    assert.has_error(function() p:top { by = "size" } end)
    assert.has_error(function() p:top { n = -1 } end)
    local ok, err = pcall(p.top, p, { sample_type = "cpu" })
    assert.is_false(ok)
    assert.truthy(err:find("no sample type 'cpu' (the profile has: alloc_objects, alloc_space, inuse_objects, inuse_space)", 1, true))
  end)

  it("raises once the profile is closed; close is idempotent", function()
    local p = heap()
    p:close()
    p:close()
    local ok, err = pcall(p.top, p)
    assert.is_false(ok)
    assert.truthy(err:find("profile is closed", 1, true))
    do local q <close> = heap() end
  end)
end)

describe("Profile:labels", function()
  it("sums CPU samples per string label (pprof.Do in the Go program)", function()
    local http = require "rb.http"
    assert(http.get(URL .. "/burn?seconds=3"))
    local p = assert(pprof.fetch(URL, "profile", { seconds = 2 }))
    local seen = {}
    for _, l in ipairs(p:labels()) do
      if l.key == "phase" then seen[l.value] = l.total end
    end
    assert.truthy(seen.hash and seen.hash > 0, "phase=hash")
    assert.truthy(seen.sort and seen.sort > 0, "phase=sort")
    assert.truthy(seen.hash + seen.sort <= p:total())
  end)

  it("gives numeric labels as integers (heap samples carry bytes=<object size>)", function()
    local rows = heap():labels { sample_type = "inuse_objects" }
    local numeric = 0
    for _, l in ipairs(rows) do
      if l.key == "bytes" then
        assert.equal("integer", math.type(l.value))
        numeric = numeric + 1
      end
    end
    assert.truthy(numeric > 0)
  end)
end)

describe("Profile:diff and :flamegraph", function()
  it("reports per-function change between two profiles", function()
    local a, b = heap(), heap()
    local d = a:diff(b)
    assert.equal("inuse_space", d.sample_type)
    assert.truthy(#d > 0)
    for _, r in ipairs(d) do
      assert.equal(r.after_flat - r.before_flat, r.flat_delta)
      assert.equal(r.after_cum - r.before_cum, r.cum_delta)
    end
    assert.has_error(function() a:diff(b, { sample_type = "cpu" }) end)
  end)

  it("returns the SVG text and writes no file", function()
    local svg = heap():flamegraph { title = "heap" }
    assert.truthy(svg:find("<svg", 1, true) and svg:find("main.allocLarge", 1, true))
    assert.has_error(function() heap():flamegraph("/tmp/x.svg") end)
  end)
end)

describe("rb.pprof.goroutines", function()
  it("groups a debug=2 dump", function()
    local d = assert(pprof.goroutines(DUMP))
    assert.equal(2, d.total)
    assert.equal(2, d.debug)
    local w = d.groups[1].top == "main.worker" and d.groups[1] or d.groups[2]
    assert.same({ 1, "chan receive", "main.worker", "main.start", 12, 7 },
      { w.count, w.state, w.top, w.created_by, w.max_wait_minutes, w.id })
    assert.same({ "main.worker" }, w.stack)
  end)

  it("reads chunks from a function (io.lines(path, n)) like a string", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w")); f:write(DUMP); f:close()
    local d = assert(pprof.goroutines(io.lines(path, 5)))
    os.remove(path)
    assert.equal(2, d.total)
  end)

  it("returns a parse error for text that is not a dump, raises on misuse", function()
    local d, err = pprof.goroutines("<html>nope</html>")
    assert.is_nil(d)
    assert.equal("parse", err.kind)
    assert.has_error(function() pprof.goroutines(42) end)
    assert.has_error(function() pprof.goroutines(function() return {} end) end)
  end)

  it("goroutine_growth lists only the groups that grew", function()
    local after = DUMP .. "\ngoroutine 9 [chan receive]:\nmain.worker(0x1)\n\t/app/main.go:20\n"
                       .. "created by main.start in goroutine 1\n\t/app/main.go:30 +0x5f\n"
    local g = pprof.goroutine_growth(DUMP, after)
    assert.equal(1, #g)
    assert.same({ 1, 2, 1, "main.worker" }, { g[1].before, g[1].after, g[1].delta, g[1].top })
    assert.same({}, { table.unpack(pprof.goroutine_growth(after, DUMP)) })
    assert.has_error(function() pprof.goroutine_growth(DUMP, 42) end)
  end)

  it("goroutine_growth ignores goroutines that only changed state", function()
    local function g(state, fn) return ("goroutine 5 [%s]:\n%s()\n\t/a.go:1\ncreated by net/http.(*connReader).startBackgroundRead\n\t/b.go:2\n\n"):format(state, fn) end
    local before = DUMP .. "\n" .. g("runnable", "net/http.(*connReader).startBackgroundRead.func2")
    local after = DUMP .. "\n" .. g("IO wait", "net/http.(*connReader).backgroundRead")
    assert.same({}, { table.unpack(pprof.goroutine_growth(before, after)) })
    assert.equal(1, #pprof.goroutine_growth(before, after .. g("IO wait", "net/http.(*connReader).backgroundRead")))
  end)
end)

describe("rb.pprof.fetch", function()
  it("returns a goroutine summary for kind goroutine, and the raw text", function()
    local d, body = assert(pprof.fetch(URL, "goroutine"))
    assert.truthy(d.total > 20)
    assert.equal(2, d.debug)
    assert.truthy(body:find("^goroutine %d+"))
    local d1 = assert(pprof.fetch(URL .. "/", "goroutine", { debug = 1 }))
    assert.equal(1, d1.debug)
    assert.equal(d1.header_total, d1.total)
    local labelled
    for _, g in ipairs(d1.groups) do   -- the CPU burners carry labels of their own ({"phase":...})
      if g.labels and g.labels:find('"role"', 1, true) then labelled = g end
    end
    assert.same({ '{"role":"labelled"}', "main.parkChan", 1 }, { labelled.labels, labelled.top, labelled.count })
  end)

  it("returns the bytes alone with raw = true", function()
    local body = assert(pprof.fetch(URL, "allocs", { raw = true }))
    assert.equal("string", type(body))
    assert.truthy(pprof.parse(body))
  end)

  it("returns nil, err for an HTTP error status and for a refused connection", function()
    local p, err = pprof.fetch(URL .. "/nothing-here", "heap")
    assert.is_nil(p)
    assert.equal("http", err.kind)
    assert.equal(404, err.status)
    p, err = pprof.fetch("http://127.0.0.1:1", "heap", { timeout = 2 })
    assert.is_nil(p)
    assert.equal("conn", err.kind)
  end)

  it("raises on misuse", function()
    assert.has_error(function() pprof.fetch(URL, "cpu") end)
    assert.has_error(function() pprof.fetch(42, "heap") end)
    assert.has_error(function() pprof.fetch(URL, "profile", { seconds = 0 }) end)
    assert.has_error(function() pprof.fetch(URL, "heap", "fast") end)
  end)

  it("reaches a pod's pprof port through the Kubernetes API server proxy", function()
    local kubeconfig = os.getenv("RB_TEST_K8S_KUBECONFIG")
    if not kubeconfig then  -- no stand-in API server: then rb.k8s must not be half-used
      if not pcall(require, "rb.k8s") then
        assert.has_error(function() pprof.fetch({ pod = "api-0", namespace = "tmi", port = 6060 }, "heap") end,
          "rb.pprof.fetch: rb.k8s not available: pod targets need the Kubernetes binding")
      end
      return
    end
    local k8s = require "rb.k8s"
    local c = assert(k8s.client { kubeconfig = kubeconfig })
    local pod = assert(c:get("pods", { selector = "app=tmi-api", namespace = "tmi" }))[1].metadata.name
    local target = { pod = pod, namespace = "tmi", port = 6060, client = c }
    local d = assert(pprof.fetch(target, "goroutine"))
    assert.truthy(d.total > 0)
    local p = assert(pprof.fetch(target, "heap"))
    assert.equal("inuse_space", p:top().sample_type)
    local none, err = pprof.fetch({ pod = pod, namespace = "tmi", port = 1, client = c }, "heap")
    assert.is_nil(none)
    assert.equal("http", err.kind)
    assert.equal(503, err.status)
  end)
end)
