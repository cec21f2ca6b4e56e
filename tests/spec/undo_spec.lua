-- lab: none
-- rb.undo and the before-state helpers of rb.k8s, without servers: which
-- writes of a run count as applied, what is recorded of an object before a
-- patch, the patch that puts it back, what cannot be inverted and why, and
-- that the section written for the inverse is valid Lua. The servers' side
-- (nothing sent when refused, values restored) is tests/e2e/undo.sh.
local k8s = require "rb.k8s"
local undo = require "rb.undo"
local cjson = require "cjson"
local null = cjson.null

local function deployment()
  return { spec = { replicas = 3, template = { spec = { containers = {
    { name = "app", image = "img:1", env = { { name = "LOG_LEVEL", value = "info" }, { name = "OLD", value = "x" } },
      resources = { limits = { cpu = "500m" } } },
    { name = "side", image = "side:1" },
  } } } } }
end

local function containers(list) return { spec = { template = { spec = { containers = list } } } } end

describe("k8s.fields", function()
  it("records the value of each field a strategic patch sets, and what was absent", function()
    local patch = containers { { name = "app", env = {
      { name = "LOG_LEVEL", value = "debug" }, { name = "NEW", value = "1" }, { name = "OLD", ["$patch"] = "delete" } } } }
    local f = k8s.fields(deployment(), patch)
    assert.same({
      { path = { "spec", "template", "spec", "containers", { name = "app" }, "env", { name = "LOG_LEVEL" }, "value" }, value = "info" },
      { path = { "spec", "template", "spec", "containers", { name = "app" }, "env", { name = "NEW" } }, absent = true },
      { path = { "spec", "template", "spec", "containers", { name = "app" }, "env", { name = "OLD" } },
        value = { name = "OLD", value = "x" } },
    }, f)
  end)

  it("records a container the patch adds as absent, and a new map field as absent", function()
    local f = k8s.fields(deployment(), containers { { name = "extra", image = "e:1" },
      { name = "app", resources = { requests = { cpu = "1" } } } })
    assert.same({ "spec.template.spec.containers[extra]", "spec.template.spec.containers[app].resources.requests" },
      { k8s.path_text(f[1].path), k8s.path_text(f[2].path) })
    assert.is_true(f[1].absent and f[2].absent)
  end)

  it("takes a list of a merge patch as one field", function()
    local f = k8s.fields(deployment(), containers { { name = "app" } }, { type = "merge" })
    assert.equals(1, #f)
    assert.equals(2, #f[1].value)
  end)

  it("refuses a JSON patch type by name", function()
    assert.has_error(function() k8s.fields({}, {}, { type = "json" }) end,
      "bad argument #3 to 'fields' (type must be strategic or merge)")
  end)
end)

describe("k8s.restore_patch", function()
  it("puts values back, deletes what was absent, re-adds what was removed", function()
    local patch = containers { { name = "app", image = "img:2", env = {
      { name = "LOG_LEVEL", value = "debug" }, { name = "NEW", value = "1" }, { name = "OLD", ["$patch"] = "delete" } } } }
    local back = k8s.restore_patch(k8s.fields(deployment(), patch))
    assert.same(containers { { name = "app", image = "img:1", env = {
      { name = "LOG_LEVEL", value = "info" }, { name = "NEW", ["$patch"] = "delete" }, { name = "OLD", value = "x" } } } }, back)
  end)

  it("sets a map field that was absent to null", function()
    local back = k8s.restore_patch { { path = { "spec", "paused" }, absent = true } }
    assert.equals(null, back.spec.paused)
  end)

  it("refuses a field with neither value nor absent", function()
    assert.has_error(function() k8s.restore_patch { { path = { "spec" } } } end,
      "bad argument #1 to 'restore_patch' (field 1 has neither value nor absent)")
  end)
end)

describe("k8s.at", function()
  it("follows map keys and named items, from text or a list", function()
    assert.equals("info", k8s.at(deployment(), "spec.template.spec.containers[app].env[LOG_LEVEL].value"))
    assert.equals("side:1", k8s.at(deployment(), { "spec", "template", "spec", "containers", { name = "side" }, "image" }))
    assert.is_nil(k8s.at(deployment(), "spec.template.spec.containers[none].image"))
  end)

  it("treats an item a patch deletes, and null, as absent", function()
    local p = containers { { name = "app", env = { { name = "OLD", ["$patch"] = "delete" } }, image = null } }
    assert.is_nil(k8s.at(p, "spec.template.spec.containers[app].env[OLD]"))
    assert.is_nil(k8s.at(p, "spec.template.spec.containers[app].image"))
  end)
end)

-- An applied-writes table as rb.undo.applied returns it.
local function run_of(writes) return { start = { section = "book/fix" }, writes = writes } end
local function write(binding, op, args, before, step)
  return { step = step or "s", action = { binding = binding, op = op, target = "t", args = args }, before = before }
end
local SCALE = write("k8s", "patch", { server = "https://127.0.0.1:1", body = { spec = { replicas = 5 } } },
  { binding = "k8s", resource = "deployments.apps", name = "api", namespace = "tmi", subresource = "scale",
    type = "merge", fields = { { path = { "spec", "replicas" }, value = 3 } } }, "scale")

describe("rb.undo.plan", function()
  it("inverts newest first and lists what cannot be inverted, with the reason", function()
    local p = undo.plan(run_of {
      SCALE,
      write("k8s", "delete", {}, nil, "delete pod"),
      write("http", "post", {}, nil, "post"),
      write("pg", "exec", { "VACUUM ANALYZE" }, nil, "vacuum"),
      write("pg", "exec", { "SELECT pg_cancel_backend(42)" }, nil, "cancel"),
      write("redis", "CONFIG SET", { "maxmemory-policy", "allkeys-lru" },
        { binding = "redis", parameter = "maxmemory-policy", value = "noeviction" }, "redis"),
    })
    assert.same({ "CONFIG SET maxmemory-policy back to noeviction", "Scale deployments.apps/api back to 3" },
      { p.inverses[1].title, p.inverses[2].title })
    local why = {}
    for _, c in ipairs(p.cannot) do why[c.step] = c.why end
    assert.equals("a deleted object cannot be brought back (its state is gone)", why["delete pod"])
    assert.equals("an HTTP request cannot be taken back", why["post"])
    assert.equals("VACUUM and ANALYZE cannot be inverted", why["vacuum"])
    assert.equals("a cancelled or terminated query cannot be resumed", why["cancel"])
  end)

  it("does not invert a value the audit keeps only as [REDACTED]", function()
    local p = undo.plan(run_of {
      write("redis", "CONFIG SET", { "requirepass", "[REDACTED]" },
        { binding = "redis", parameter = "requirepass", value = "[REDACTED]" }),
      write("redis", "CONFIG SET", { "masterauth", "[REDACTED]" },
        { binding = "redis", parameter = "masterauth", value = "" }),
    })
    assert.equals(0, #p.inverses)
    assert.matches("value before holds a secret", p.cannot[2].why, 1, true)
    assert.matches("value the run set holds a secret", p.cannot[1].why, 1, true)
  end)

  it("takes the binding's own reason (a rollout restart)", function()
    local p = undo.plan(run_of { write("k8s", "patch", {}, { binding = "k8s", cannot = "restarted" }) })
    assert.equals("restarted", p.cannot[1].why)
  end)
end)

describe("rb.undo.source", function()
  it("writes a section that compiles, one step per inverse", function()
    local pgw = write("pg", "exec", { "ALTER SYSTEM SET \"work_mem\" = '64MB'" },
      { binding = "pg", setting = "work_mem", in_auto_conf = false, value = "4MB", to = "64MB", reset = false }, "pg")
    local plan = undo.plan(run_of { SCALE, pgw })
    local text = undo.source("0123456789abcdef", { section = "book/fix" }, plan)
    assert.truthy(load(text, "=undo", "t", {}))
    local n = 0
    for _ in text:gmatch("\nS:resolve%(") do n = n + 1 end
    assert.equals(2, n)
    assert.matches('ALTER SYSTEM RESET work_mem', text, 1, true)
    assert.matches('id = "undo-0123456789abcdef"', text, 1, true)
  end)

  it("patches a subresource other than scale through it", function()
    local st = write("k8s", "patch", { server = "s", body = { status = { phase = "Failed" } } },
      { binding = "k8s", resource = "pods", name = "p", namespace = "tmi", subresource = "status", type = "merge",
        fields = { { path = { "status", "phase" }, value = "Running" } } })
    local text = undo.source("r", {}, undo.plan(run_of { st }))
    assert.matches('{ type = "merge", namespace = "tmi", subresource = "status" }', text, 1, true)
  end)

  it("writes values as Lua that reads back the same", function()
    local v = { "a\n\"b\"", 3, 2.5, true, { path = { "x", { name = "y.z" } }, value = null, ["end"] = 1, ["a b"] = 2 } }
    local back = load("return " .. undo.literal(v), "=lit", "t", { null = null })()
    assert.same(v, back)
  end)
end)

describe("rb.undo.applied", function()
  it("counts a write when its intent is followed by an ok result, in this run only", function()
    local path = os.tmpname()
    local f = assert(io.open(path, "w"))
    local function ev(t) f:write(cjson.encode(t), "\n") end
    ev { event = "run_start", run = "r1", section = "s" }
    ev { event = "intent", run = "r1", step = "a", action = { binding = "k8s", op = "patch" }, before = { x = 1 } }
    ev { event = "result", run = "r1", step = "a", ok = true }
    ev { event = "intent", run = "r2", step = "other", action = { binding = "k8s", op = "patch" } }
    ev { event = "result", run = "r2", step = "other", ok = true }
    ev { event = "intent", run = "r1", step = "b", action = { binding = "redis", op = "DEL" } }
    ev { event = "result", run = "r1", step = "b", ok = false }
    ev { event = "intent", run = "r1", step = "c", action = { binding = "pg", op = "exec" } }
    f:close()
    local a = assert(undo.applied(path, "r1"))
    os.remove(path)
    assert.equals(1, #a.writes)
    assert.same({ "a", { x = 1 } }, { a.writes[1].step, a.writes[1].before })
    assert.equals("s", a.start.section)
  end)

  it("says so when the audit has no such run", function()
    local path = os.tmpname()
    local _, err = undo.applied(path, "nope")
    os.remove(path)
    assert.equals(("no run nope in the audit %s"):format(path), err)
  end)
end)
