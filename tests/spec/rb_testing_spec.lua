-- rb.testing as a playbook's spec uses it: after testing.run of a section
-- whose resolve step has verify checks (evaluated by the engine with its gate
-- opened for reads for that call only), the spec's own binding calls still
-- reach their servers. They were refused ("no I/O while loading") because the
-- verification left the gate in the mode of a run, not the spec's.
local util = require "tests.spec.support.util"
local testing = require "rb.testing"
local http = require "rb.http"
local sys = require "rb._sys"

local SECTION = [[
local rb = require "rb"
local S = rb.section { id = "fix", title = "Fix", symptoms = { "slow" } }
S:investigate("Look", function(ctx) ctx:note("looked") end)
S:resolve("Scale out", { risk = "low", description = "nothing, verified",
  verify = { { name = "errors", query = "sum(up)", warn = 1, crit = 2 } }, verify_timeout = 1 },
  function(ctx) end)
return S
]]

local TWICE = [[
local rb = require "rb"
local http = require "rb.http"
local S = rb.section { id = "twice", title = "Twice", symptoms = { "slow" }, params = { url = "" } }
local pass = 0
S:resolve("Fix", { risk = "low", description = "nothing" }, function(ctx)
  pass = pass + 1
  ctx:log("looked at the pool")
  ctx:note("a note")
  ctx:check { name = "pool", value = 1, warn = 5, crit = 9 }
  ctx:chart { title = "pool size", points = { { 1, pass }, { 2, pass } } }
  http.post(ctx.params.url, { body = "resize" })   -- a write: the step has an apply pass
end)
return S
]]

describe("rb.testing", function()
  local dir, port, pid, log
  setup(function()
    dir = util.sh("mktemp -d")
    util.write_file(dir .. "/fix.lua", SECTION)
    port, log = util.free_port(), dir .. "/http.log"
    pid = util.sh(("cd %s && timeout 60 python3 -m http.server %s --bind 127.0.0.1 >%s 2>&1 & echo $!"):format(dir, port, log))
    for _ = 1, 100 do
      if util.read_file(log):find("Serving", 1, true) then break end
      sys.sleep_ms(50)
    end
  end)
  teardown(function() os.execute("kill " .. pid .. " 2>/dev/null; rm -rf " .. dir) end)

  it("records a resolve step's logs, notes, checks and charts once over its two passes (plan, apply); a chart holds the apply pass's data", function()
    util.write_file(dir .. "/twice.lua", TWICE)
    local res = assert(testing.run(dir .. "/twice.lua", { yes = true, set = { url = ("http://127.0.0.1:%s/resize"):format(port) } }))
    local st = res.steps["Fix"]
    assert.same({ "looked at the pool" }, st.logs)
    assert.same({ "a note" }, st.notes)
    assert.equal(1, #res.findings)
    assert.equal(1, #st.charts)
    assert.equal(2, st.charts[1].points[1][2], "the apply pass's chart")
    local posts = select(2, util.read_file(log):gsub("POST /resize", ""))
    assert.equal(1, posts, "the write was sent once")
  end)

  for _, mode in ipairs { "dry_run", "yes" } do
    it("leaves the spec's own calls working after a section with verify checks (" .. mode .. ")", function()
      local res = assert(testing.run(dir .. "/fix.lua", { [mode] = true }))
      assert.is_number(res.exit)
      local path = "/after-" .. mode
      local r, err = http.get(("http://127.0.0.1:%s%s"):format(port, path))
      assert.is_nil(err)
      assert.truthy(r)
      local seen = false
      for _ = 1, 40 do
        seen = util.read_file(log):find("GET " .. path, 1, true) ~= nil
        if seen then break end
        sys.sleep_ms(50)
      end
      assert.is_true(seen, "the request reached the server")
    end)
  end
end)
