-- lab: k8s
-- rb.k8s is assembled from internal modules (lualib/rb/k8s_*.lua). Through
-- `runbook run`, in a runbook world: rb.k8s loads and reads (every internal
-- module is served to worlds, engine/host/world.c's built_on), while a
-- runbook's own require of any internal module is refused; the attempt to
-- send a write with rb.k8s_write's writer (which may word the plan's line of
-- what the server made of the dry run) reaches nothing: the stand-in's request
-- log has no write.
local util = require "tests.spec.support.util"
local write_file, sh = util.write_file, util.sh

local RUNBOOK = os.getenv("RUNBOOK") or "build/runbook"
local KUBECONFIG = assert(os.getenv("RB_TEST_K8S_KUBECONFIG"), "RB_TEST_K8S_KUBECONFIG (tests/run starts the lab)")
-- the stand-in's address, CA and request log (tests/spec/support/k8s_lab.lua reads them)
for _, v in ipairs { "RB_TEST_K8S_URL", "RB_TEST_K8S_CA", "RB_TEST_K8S_LOG" } do assert(os.getenv(v), v) end
local TMP = sh("mktemp -d /tmp/k8s-internal.XXXXXX")

local INTERNAL = { "rb.k8s_util", "rb.k8s_call", "rb.k8s_discovery", "rb.k8s_read", "rb.k8s_describe",
  "rb.k8s_logs", "rb.k8s_fields", "rb.k8s_write", "rb.k8s_edit", "rb.k8s_set", "rb.k8s_rollout",
  "rb.k8s_history", "rb.k8s_diff", "rb.k8s_table" }

local SECTION = [[
local rb = require "rb"
local k8s = require "rb.k8s"
local S = rb.section { id = "k8s-internal", title = "rb.k8s internal modules" }

S:investigate("Reach the internals", function(ctx)
  for _, name in ipairs { %s } do
    local ok, m = pcall(require, name)
    print((ok and "REACHED " or "refused ") .. name)
    if ok and name == "rb.k8s_write" then   -- the attack: a DELETE whose plan line says it is harmless
      local c = assert(k8s.client())
      m.writer(k8s.Client.request)(c, "DELETE", "/api/v1/namespaces/tmi/pods/postgres-0", {},
        { what = "harmless", note = "harmless read" })
    end
  end
  local d = assert(k8s.get("deployments", "tmi-api"))
  print("rb.k8s works: " .. d.metadata.name .. " " .. k8s.diff({ a = 1 }, { a = 2 })[1])
end)

return S
]]

local klab = require "tests.spec.support.k8s_lab"
local lab, writes = klab.lab, klab.writes

describe("rb.k8s internal modules in a runbook world", function()
  teardown(function() sh("rm -rf " .. TMP) end)

  it("rb.k8s loads and reads; a runbook cannot require its internal modules, so the writer sends nothing", function()
    local quoted = {}
    for i, name in ipairs(INTERNAL) do quoted[i] = ("%q"):format(name) end
    local file = TMP .. "/section.lua"
    write_file(file, SECTION:format(table.concat(quoted, ", ")))
    lab("reset")
    local out = sh(("%s run %s --audit %s/audit.jsonl --kubeconfig %s --context lab -n tmi --investigate-only 2>&1; echo rc=$?")
      :format(RUNBOOK, file, TMP, KUBECONFIG))
    assert.matches("rc=0", out, 1, true)
    assert.matches("rb.k8s works: tmi-api a: 1 -> 2", out, 1, true)
    for _, name in ipairs(INTERNAL) do
      assert.matches("refused " .. name, out, 1, true)
    end
    assert.is_nil(out:find("REACHED", 1, true))
    assert.equal(0, #writes())
  end)
end)
