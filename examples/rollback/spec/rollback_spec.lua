-- lab: k8s redis prom
-- The rollback playbook against the lab: the Kubernetes API stand-in
-- (a bad release is shipped first, as revision 2) and the lab's Redis.
-- investigate names the bad revision; --dry-run sends only dryRun=All (the
-- stand-in's request log); --yes rolls back once (the real kubectl reads the
-- image back); a second run's undo is refused by the undo-of-undo guard.
--   RUNBOOK_CONFIG=/tmp/runbook-lab/config.yaml runbook lua /usr/bin/busted examples/rollback/spec
local testing = require "rb.testing"
local k8s = require "rb.k8s"
local http = require "rb.http"
local cjson = require "cjson"

local SECTION = "examples/rollback/rollback.lua"
local KUBECONFIG, LOG = os.getenv("RB_TEST_K8S_KUBECONFIG"), os.getenv("RB_TEST_K8S_LOG")

if not KUBECONFIG or not LOG then
  describe("rollback playbook", function() pending("needs the lab's Kubernetes stand-in (make lab; its env files)") end)
  return
end

local function lab(what)
  local r = assert(http.get(os.getenv("RB_TEST_K8S_URL") .. "/__lab/" .. what, { ca_file = os.getenv("RB_TEST_K8S_CA"), timeout = 10 }))
  return r.body
end
local function writes()
  local out = {}
  for line in io.lines(LOG) do
    local r = cjson.decode(line)
    if r.method ~= "GET" then out[#out + 1] = r end
  end
  return out
end
local function kubectl(args)
  local p = io.popen("HOME=/tmp timeout 30 kubectl --kubeconfig " .. KUBECONFIG .. " -n tmi " .. args .. " 2>&1")
  local out = p:read("a")
  p:close()
  return out
end

-- Under the repository's harness there is no config file: name the lab's
-- targets the way `make lab`'s config.yaml does (a team runs the spec with
-- RUNBOOK_CONFIG=/tmp/runbook-lab/config.yaml instead).
if not os.getenv("RUNBOOK_CONFIG") then
  require("rb")._set_targets { kubeconfig = KUBECONFIG, kube_context = "lab", namespace = "tmi",
    redis = os.getenv("RB_TEST_REDIS_URL"), prometheus = os.getenv("RB_TEST_TMIPROM_URL") }
end

local c = assert(k8s.client { kubeconfig = KUBECONFIG })
local GOOD

local function ship_bad_release()
  lab("reset")
  GOOD = c:get("deploy", "tmi-api").spec.template.spec.containers[1].image
  assert(c:patch("deployment", "tmi-api", { metadata = { annotations = { ["kubernetes.io/change-cause"] = "deploy v2-bad" } },
    spec = { template = { spec = { containers = { { name = "tmi-api", image = "tmi-api:v2-bad" } } } } } }))
end

describe("rollback playbook", function()
  before_each(ship_bad_release)

  it("investigate names the bad revision and reads every pod's log", function()
    local res = assert(testing.run(SECTION, { investigate_only = true, set = { window = 1 } }))
    assert.matches("revision 2 (running): tmi-api=tmi-api:v2-bad (deploy v2-bad)", res.output, 1, true)
    assert.matches("revision 1: tmi-api=" .. GOOD, res.output, 1, true)
    assert.matches("[pod/tmi-api-", res.output, 1, true)
    assert.equal("good", testing.level(res, "a previous revision to roll back to"))
    assert.is_not_nil(testing.level(res, "Redis evictions per second"))
  end)

  it("--dry-run sends only dryRun=All and plans the image change", function()
    local n, before = #writes(), lab("state")
    local res = assert(testing.run(SECTION, { dry_run = true, set = { window = 1 } }))
    local w = writes()
    assert.equal(n + 1, #w)
    assert.equal("All", w[#w].dryRun)
    assert.equal(before, lab("state"))
    assert.matches("tmi-api:v2-bad -> " .. GOOD, res.output, 1, true)
  end)

  it("--yes rolls back once; the next run's undo is refused by the guard", function()
    local n = #writes()
    local res = assert(testing.run(SECTION, { yes = true, set = { window = 1 } }))
    assert.equal(0, res.exit)
    local sent = 0
    for i = n + 1, #writes() do if writes()[i].dryRun ~= "All" then sent = sent + 1 end end
    assert.equal(1, sent)
    assert.equal(GOOD, kubectl("get deploy tmi-api -o jsonpath={.spec.template.spec.containers[0].image}"))
    n = #writes()
    res = assert(testing.run(SECTION, { yes = true, set = { window = 1 } }))
    assert.not_equal(0, res.exit)
    assert.matches("revision 2 is the release the rollback to revision 3 left; undoing the undo would ship it again",
      res.output, 1, true)
    assert.equal(n, #writes())
    assert.equal(GOOD, kubectl("get deploy tmi-api -o jsonpath={.spec.template.spec.containers[0].image}"))
  end)
end)
