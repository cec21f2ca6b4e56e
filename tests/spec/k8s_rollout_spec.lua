-- lab: k8s
-- rb.k8s rollout_history, rollout_undo (with the undo-of-undo guard),
-- patch of a subresource and logs over a deployment's pods, against the
-- Kubernetes API stand-in: each write refused in investigate (nothing sent),
-- sent only with dryRun=All in plan (request log, state unchanged), sent once
-- in apply; kubectl (the real one) reads the history and the rolled-back image.
local util = require "tests.spec.support.util"
local sh = util.sh
local k8s = require "rb.k8s"
local gate = require "rb._gate"

local KUBECONFIG = assert(os.getenv("RB_TEST_K8S_KUBECONFIG"), "RB_TEST_K8S_KUBECONFIG (tests/run starts the lab)")
local URL = assert(os.getenv("RB_TEST_K8S_URL"))
assert(os.getenv("RB_TEST_K8S_CA"), "RB_TEST_K8S_CA")
assert(os.getenv("RB_TEST_K8S_LOG"), "RB_TEST_K8S_LOG")
local DEPLOY = "/apis/apps/v1/namespaces/tmi/deployments/tmi-api"

local klab = require "tests.spec.support.k8s_lab"
local lab, writes, kubectl = klab.lab, klab.writes, klab.kubectl
local function client() return assert(k8s.client { kubeconfig = KUBECONFIG, timeout = 10 }) end
local function image(c) return assert(c:get("deploy", "tmi-api")).spec.template.spec.containers[1].image end

-- Revision 2 ships a bad image (with a change-cause), as a deploy would.
local GOOD
local function bad_release(c)
  GOOD = image(c)
  assert(c:patch("deployment", "tmi-api", { metadata = { annotations = { ["kubernetes.io/change-cause"] = "deploy v2-bad" } },
    spec = { template = { spec = { containers = { { name = "tmi-api", image = "tmi-api:v2-bad" } } } } } }))
end

describe("rb.k8s rollout_history", function()
  before_each(function() lab("reset"); gate.set_mode("free"); gate.reset() end)

  it("lists the ReplicaSets' revisions with images and change-cause, as kubectl rollout history", function()
    local c = client()
    bad_release(c)
    local h = assert(c:rollout_history("tmi-api"))
    assert.equal(2, #h)
    assert.same({ 1, 2 }, { h[1].revision, h[2].revision })
    assert.equal(GOOD, h[1].images["tmi-api"])
    assert.equal("tmi-api:v2-bad", h[2].images["tmi-api"])
    assert.equal("deploy v2-bad", h[2].change_cause)
    assert.is_true(h[2].current)
    assert.is_false(h[1].current)
    local out = kubectl("rollout history deployment/tmi-api")
    assert.matches("\n1%s+<none>", out)
    assert.matches("\n2%s+deploy v2%-bad", out)
  end)

  it("a missing deployment is NotFound", function()
    local h, err = client():rollout_history("nope")
    assert.is_nil(h)
    assert.equal("NotFound", err.reason)
  end)
end)

describe("rb.k8s rollout_undo", function()
  local c
  before_each(function() lab("reset"); gate.set_mode("free"); gate.reset(); c = client(); bad_release(c) end)
  after_each(function() gate.set_mode("free"); gate.reset() end)

  it("is refused in investigate before anything is sent", function()
    local n = #writes()
    gate.set_mode("investigate")
    local ok, err = pcall(c.rollout_undo, c, "tmi-api")
    assert.is_false(ok)
    assert.equal("refused", err.kind)
    assert.equal(n, #writes())
    assert.equal("tmi-api:v2-bad", image(c))
  end)

  it("plan sends only dryRun=All and shows the image change from the server's answer", function()
    local n, before = #writes(), lab("state")
    gate.set_mode("plan")
    local r = assert(c:rollout_undo("tmi-api"))
    assert.is_true(r.planned)
    local w = writes()
    assert.equal(n + 1, #w)
    assert.equal("All", w[#w].dryRun)
    assert.equal(DEPLOY, w[#w].path)
    assert.equal(before, lab("state"))
    local p = gate.plan()[1]
    assert.equal("patch", p.op)
    assert.matches("from revision 2 (tmi-api=tmi-api:v2-bad) to revision 1", p.simulated, 1, true)
    assert.matches("containers[tmi-api].image: tmi-api:v2-bad -> " .. GOOD, p.simulated, 1, true)
  end)

  it("apply rolls back once (kubectl sees the good image and revision 3), and undoing the undo is refused", function()
    gate.set_mode("plan")
    assert(c:rollout_undo("tmi-api"))
    gate.confirm(gate.plan())
    gate.set_mode("apply")
    local n = #writes()
    assert(c:rollout_undo("tmi-api"))
    gate.set_mode("free")
    local w = writes()
    assert.equal(n + 1, #w)
    assert.not_equal("All", w[#w].dryRun)
    assert.equal(GOOD, kubectl("get deploy tmi-api -o jsonpath={.spec.template.spec.containers[0].image}"))
    assert.matches("\n3%s", kubectl("rollout history deployment/tmi-api"))
    local h = assert(c:rollout_history("tmi-api"))
    assert.same({ 2, 3 }, { h[1].revision, h[2].revision })
    assert.same({ 1 }, h[2].earlier)
    -- the undo of the undo would re-ship v2-bad: refused in every mode, nothing sent
    n = #writes()
    for _, mode in ipairs { "plan", "free" } do
      gate.set_mode(mode)
      local r, err = c:rollout_undo("tmi-api")
      assert.is_nil(r)
      assert.equal("guard", err.kind)
      assert.equal("UndoOfUndo", err.reason)
      assert.matches("revision 2 is the release the rollback to revision 3 left", err.message, 1, true)
      r, err = c:rollout_undo("tmi-api", { to_revision = 2 })
      assert.equal("UndoOfUndo", err.reason)
    end
    assert.equal(n, #writes())
    assert.equal(GOOD, image(c))
    -- an explicit reship is possible, and the plan says what it does
    gate.set_mode("plan")
    assert(c:rollout_undo("tmi-api", { reship = true }))
    assert.matches("RE-SHIPS revision 2", gate.plan()[#gate.plan()].simulated, 1, true)
  end)

  it("says what is wrong: an unknown revision, a bad to_revision, the current template", function()
    local r, err = c:rollout_undo("tmi-api", { to_revision = 9 })
    assert.is_nil(r)
    assert.matches("unable to find specified revision 9 in history", err.message, 1, true)
    assert.has_error(function() c:rollout_undo("tmi-api", { to_revision = "x" }) end,
      "bad argument #2 to 'rollout_undo' (to_revision must be a positive integer)")
    local s = assert(c:rollout_undo("tmi-api", { to_revision = 2 }))
    assert.is_true(s.skipped)
    assert.matches("current template already matches revision 2", s.message, 1, true)
  end)
end)

describe("rb.k8s patch of a subresource", function()
  before_each(function() lab("reset"); gate.reset() end)
  after_each(function() gate.set_mode("free"); gate.reset() end)

  it("scale: refused in investigate, dry-run in plan, sent once in apply to /scale", function()
    local c = client()
    local body = { spec = { replicas = 4 } }
    gate.set_mode("investigate")
    local n = #writes()
    assert.is_false(pcall(c.patch, c, "deployment", "tmi-api", body, { type = "merge", subresource = "scale" }))
    assert.equal(n, #writes())
    gate.set_mode("plan")
    assert(c:patch("deployment", "tmi-api", body, { type = "merge", subresource = "scale" }))
    local w = writes()
    assert.equal(DEPLOY .. "/scale", w[#w].path)
    assert.equal("All", w[#w].dryRun)
    assert.matches("spec.replicas: 3 -> 4", gate.plan()[1].simulated, 1, true)
    gate.confirm(gate.plan())
    gate.set_mode("apply")
    assert(c:patch("deployment", "tmi-api", body, { type = "merge", subresource = "scale" }))
    gate.set_mode("free")
    w = writes()
    assert.equal(n + 2, #w)
    assert.not_equal("All", w[#w].dryRun)
    assert.equal("4", kubectl("get deploy tmi-api -o jsonpath={.spec.replicas}"))
  end)

  it("status: changes status only; an unknown subresource is refused by name", function()
    local c = client()
    local pod = assert(c:get("pods", { selector = "app=tmi-api" }))[1].metadata.name
    assert(c:patch("pod", pod, { status = { containerStatuses = { { name = "tmi-api", restartCount = 2 } } } },
      { subresource = "status" }))
    assert.equal("2", kubectl("get pod " .. pod .. " -o jsonpath={.status.containerStatuses[0].restartCount}"))
    assert.has_error(function() c:patch("pod", pod, {}, { subresource = "exec" }) end,
      "bad argument #4 to 'patch' (subresource must be scale or status)")
    local r, err = c:patch("configmap", "x", {}, { subresource = "status" })
    assert.is_nil(r)
    assert.matches('has no subresource "status"', err.message, 1, true)
  end)
end)

describe("rb.k8s logs of a deployment or selector", function()
  before_each(function() lab("reset"); gate.set_mode("investigate"); gate.reset() end)
  after_each(function() gate.set_mode("free"); gate.reset() end)

  it("reads every pod, each line prefixed as kubectl --prefix, in investigate", function()
    local c = client()
    local text, info = assert(c:logs { deployment = "tmi-api", tail_lines = 2 })
    assert.equal(3, #info.pods)
    local lines = 0
    for line in text:gmatch("[^\n]+") do
      lines = lines + 1
      assert.matches("^%[pod/tmi%-api%-[%w-]+/tmi%-api%] ", line)
    end
    assert.equal(6, lines)
    local one = info.pods[1].name
    assert.equal(kubectl("logs " .. one .. " --tail=2"):gsub("\n$", ""),
      (text:match("^(.-\n.-)\n"):gsub("%[pod/[^]]+%] ", "")))
    assert.equal(text, (c:logs { selector = "app=tmi-api", tail_lines = 2 }))
  end)

  it("previous = true reads the pods that restarted; none restarted is the server's error", function()
    local c = client()
    local r, err = c:logs { deployment = "tmi-api", previous = true }
    assert.is_nil(r)
    assert.matches("previous terminated container", err.message, 1, true)
    gate.set_mode("free")
    local pods = assert(c:get("pods", { selector = "app=tmi-api" }))
    table.sort(pods, function(a, b) return a.metadata.name < b.metadata.name end)
    assert(c:patch("pod", pods[2].metadata.name, { status = { containerStatuses = { { name = "tmi-api", restartCount = 1 } } } },
      { subresource = "status" }))
    local text, info = assert(c:logs { deployment = "tmi-api", previous = true, tail_lines = 1 })
    assert.equal("[pod/" .. pods[2].metadata.name .. "/tmi-api] ", text:match("^%[.-%] "))
    assert.matches("lab previous log line 20", text, 1, true)
    assert.is_not_nil(info.pods[1].error)
    assert.equal(kubectl("logs " .. pods[2].metadata.name .. " --previous --tail=1"), (text:gsub("^%[.-%] ", ""):gsub("\n$", "")))
  end)

  it("is bounded in bytes per pod and in total", function()
    local c = client()
    local text, info = assert(c:logs { deployment = "tmi-api", limit_bytes = 100, max_bytes = 150 })
    assert.is_true(info.truncated)
    assert.equal(100, info.pods[1].bytes)
    assert.equal(50, info.pods[2].bytes)
    assert.equal(0, info.pods[3].bytes)
    assert.is_true(info.pods[3].truncated)
    assert.is_true(#text < 150 + 3 * 60)
    assert.has_error(function() c:logs { deployment = "tmi-api", selector = "app=x" } end,
      "bad argument #1 to 'logs' (deployment or selector expected (one of them))")
    assert.has_error(function() c:logs { deployment = "tmi-api", tail_lines = -1 } end,
      "bad argument #1 to 'logs' (tail_lines must be an integer >= 0)")
  end)
end)

describe("rb.k8s client vocabulary", function()
  it("client() with nothing configured returns a config error; target() and close()", function()
    local c = client()
    assert.equal(URL .. "?context=lab&namespace=tmi", c:target())
    c:close()
    c:close()
    assert.has_error(function() c:info() end, "attempt to use a closed rb.k8s client")
    do local d <close> = client(); assert(d:info()) end
    assert.has_error(function() k8s.client { kubeconfig = KUBECONFIG, timeout = 0 } end)
    -- no --kubeconfig, no KUBECONFIG, no ~/.kube/config, not in a cluster: nil, err{kind = "config"}
    local dir = sh("mktemp -d /tmp/k8s-rollout.XXXXXX")
    util.write_file(dir .. "/t.lua", [[local c, err = require("rb.k8s").client(); print(c, err.kind, err.message)]])
    local out = sh(("cd %s && env -u KUBECONFIG -u KUBERNETES_SERVICE_HOST HOME=%s RUNBOOK_LUALIB=%s/lualib %s lua t.lua 2>&1")
      :format(dir, dir, sh("pwd"), sh("readlink -f /proc/" .. sh("echo $PPID") .. "/exe")))
    assert.matches("^nil\tconfig\tk8s: not in a cluster", out)
    assert.matches("give %-%-kubeconfig or the config.s kubeconfig, or set KUBECONFIG or ~/.kube/config", out)
    sh("rm -rf " .. dir)
  end)
end)
