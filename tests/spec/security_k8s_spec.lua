-- security: rb.k8s plans exactly the request (issue 10, items 2, 4, 5; issue 11,
-- the tokenFile use-after-free), against the Kubernetes API stand-in. Every
-- case attempts the attack and reads its effect back from the stand-in's
-- request log (RB_TEST_K8S_LOG) and /__lab/state, or from the file system:
--   * a '#' or a second '?' in a caller's path: refused, nothing reaches the server;
--   * every planned write reaches the server with dryRun=All and nothing without it;
--   * request/raw with caller labels: the plan shows the method's verb (a DELETE is
--     a delete), the path and the body sent, and apply of a changed request is refused;
--   * a kubeconfig named by runbook code with an exec plugin: the plugin never starts;
--   * a tokenFile rotated while get_many batches run: every request authenticated.
local util = require "tests.spec.support.util"
local read_file, write_file, sh = util.read_file, util.write_file, util.sh
local k8s = require "rb.k8s"
local gate = require "rb._gate"

local KUBECONFIG = assert(os.getenv("RB_TEST_K8S_KUBECONFIG"), "RB_TEST_K8S_KUBECONFIG (tests/run starts the lab)")
local URL = assert(os.getenv("RB_TEST_K8S_URL"))
local CA = assert(os.getenv("RB_TEST_K8S_CA"))
assert(os.getenv("RB_TEST_K8S_LOG"), "RB_TEST_K8S_LOG")
local TOKEN_FILE = assert(os.getenv("RB_TEST_K8S_TOKEN_FILE"))
local TOKEN = read_file(TOKEN_FILE):gsub("%s+$", "")
local TMP = sh("mktemp -d /tmp/k8s-security.XXXXXX")
local DEPLOY = "/apis/apps/v1/namespaces/tmi/deployments/tmi-api"

local klab = require "tests.spec.support.k8s_lab"
local lab, requests, writes = klab.lab, klab.requests, klab.writes

local function client()
  return assert(k8s.client { kubeconfig = KUBECONFIG, timeout = 10 })
end

local function replicas(c)
  return math.tointeger(assert(c:get("deploy", "tmi-api")).spec.replicas)
end

-- pcall(f) must raise an error of this kind whose message holds `want`.
-- (An argument error is a string: kind is then a part of it.)
local function raises(kind, want, f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error: " .. want)
  if type(err) == "string" then
    assert.matches(kind, err, 1, true)
    assert.matches(want, err, 1, true)
  else
    assert.equal(kind, err.kind)
    assert.matches(want, err.message, 1, true)
  end
end

local function kubeconfig_text(user_yaml)
  return ([[
apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster: {server: %s, certificate-authority: %s}
users:
- name: u
  user:
%s
contexts:
- name: c
  context: {cluster: lab, user: u, namespace: tmi}
current-context: c
]]):format(URL, CA, user_yaml)
end

before_each(function()
  gate.set_mode("free")
  gate.reset()
  lab("reset")
end)

after_each(function()
  gate.set_mode("free")
  gate.reset()
end)

describe("security: k8s URLs are parsed, not pasted", function()
  it("a '#' or a second '?' in a caller's path is refused, naming it, and nothing is sent", function()
    local c = client()
    c:resource("pods")                        -- discovery first, so only the attacks remain
    lab("reset")
    local before = lab("state")
    for _, mode in ipairs { "plan", "apply", "free" } do
      gate.set_mode(mode)
      raises("request", "/api/v1/namespaces/tmi/pods/postgres-0#x", c.raw, c, "DELETE",
        "/api/v1/namespaces/tmi/pods/postgres-0#x")
      raises("request", "a second '?'", c.raw, c, "DELETE", "/api/v1/namespaces/tmi/pods/postgres-0?a=1?dryRun=All")
      raises("request", "holds a '?'", c.request, c, "PATCH", DEPLOY .. "?dryRun=All", { body = "{}" })
      raises("request", "a '#'", c.request, c, "PATCH", DEPLOY, { query = "x=1#", body = "{}" })
      raises("request", "'..' segment", c.raw, c, "DELETE", "/api/v1/namespaces/tmi/pods/x/../postgres-0")
      raises("request", "'..' segment", c.proxy_get, c, "pod/tmi-api-0", 8080, "/../../../../secrets")
      raises("request", "control character", c.raw, c, "GET", "/api/v1/namespaces/tmi/pods\r\nX: y")
    end
    assert.same({}, requests())                -- not one request reached the stand-in
    assert.equal(before, lab("state"))
  end)
end)

describe("security: k8s dry runs are really dry", function()
  it("every planned write reaches the server with dryRun=All only, and nothing changes", function()
    local c = client()
    local before = lab("state")
    gate.set_mode("plan")
    local planned = {
      function() return c:scale("tmi-api", 9) end,
      function() return c:patch("deployment", "tmi-api", { metadata = { labels = { x = "y" } } }, { type = "merge" }) end,
      function() return c:set_env("tmi-api", { SNEAKY = "1" }) end,
      function() return c:rollout_restart("tmi-api") end,
      function() return c:delete("pod", "postgres-0") end,
      function() return c:raw("DELETE", "/api/v1/namespaces/tmi/pods/postgres-0") end,
      function() return c:raw("POST", "/api/v1/namespaces/tmi/configmaps", {
        body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"evil"}}', content_type = "application/json" }) end,
      function() return c:request("PATCH", DEPLOY, { query = "fieldManager=x",
        body = '{"spec":{"replicas":0}}', content_type = "application/merge-patch+json" }) end,
    }
    for i, f in ipairs(planned) do assert(f(), "planned write " .. i) end
    assert.equal(#planned, #gate.plan())
    local w = writes()
    assert.equal(#planned, #w)
    for _, r in ipairs(w) do assert.equal("All", r.dryRun, r.method .. " " .. r.path) end
    assert.equal(before, lab("state"))
  end)

  it("a caller's own dryRun parameter cannot turn the dry run into a write", function()
    local c = client()
    local n0 = replicas(c)
    lab("reset")
    gate.set_mode("plan")
    for _, q in ipairs { "dryRun=", "dryRun=None", "dry%52un=x" } do
      raises("request", "dryRun=All is not in the planned request's URL", c.request, c, "PATCH", DEPLOY .. "/scale",
        { query = q, body = '{"spec":{"replicas":0}}', content_type = "application/merge-patch+json" })
    end
    assert.same({}, writes())
    gate.set_mode("free")
    assert.equal(n0, replicas(c))
  end)

  it("exec cannot be simulated: in plan mode nothing at all is sent", function()
    local c = client()
    c:resource("pods")
    lab("reset")
    gate.set_mode("plan")
    assert.same({ planned = true }, assert(c:exec("postgres-0", { "sh", "-c", "touch /tmp/x" })))
    assert.same({}, requests())
    assert.is_false(gate.plan()[1].simulable)
  end)
end)

describe("security: the plan is the request", function()
  it("a caller's simulate text cannot describe what the server made of a dry run", function()
    local c = client()
    gate.reset()
    gate.set_mode("plan")
    assert(c:request("DELETE", "/api/v1/namespaces/tmi/pods/postgres-0", {
      simulate = function() return "accepted: no change (harmless read)" end }))
    local p = gate.plan()
    assert.equal(1, #p)
    assert.equal("delete", p[1].op)
    assert.is_nil((p[1].simulated or ""):find("harmless", 1, true))
    assert.matches("dryRun=All", p[1].simulated or "", 1, true)   -- the engine's own words: what the server answered
    gate.reset()
  end)

  it("request/raw with a DELETE shows as a delete, whatever op or args the caller gives", function()
    local c = client()
    gate.set_mode("plan")
    assert(c:request("DELETE", "/api/v1/namespaces/tmi/pods/postgres-0", {
      op = "get", args = { harmless = true, note = "just reading" }, body = '{"propagationPolicy":"Background"}',
      content_type = "application/json" }))
    c:raw("delete", "/api/v1/namespaces/tmi/pods/tmi-api-0", { op = "get", args = { read = true } })   -- 404: planned all the same
    local p = gate.plan()
    assert.equal(2, #p)
    for i, want in ipairs { "/api/v1/namespaces/tmi/pods/postgres-0", "/api/v1/namespaces/tmi/pods/tmi-api-0" } do
      assert.equal("delete", p[i].op)
      assert.equal(want, p[i].target)
      assert.matches('"method":"DELETE"', p[i].args, 1, true)
      assert.matches('"credential":"token sha256:', p[i].args, 1, true)
      assert.is_nil(p[i].args:find("harmless", 1, true))
      assert.is_nil(p[i].args:find("read", 1, true))
      assert.is_nil(p[i].args:find(TOKEN, 1, true))          -- a fingerprint, never the token
    end
    assert.matches('"body":{"propagationPolicy":"Background"}', p[1].args, 1, true)
    -- what the stand-in saw: two DELETEs, both dry runs
    local w = writes()
    assert.equal(2, #w)
    for _, r in ipairs(w) do assert.equal("DELETE", r.method); assert.equal("All", r.dryRun) end
    -- options are read raw: a metatable cannot hand the gate one body and the transport another
    lab("reset")
    gate.reset()
    local reads = 0
    local tricky = setmetatable({ content_type = "application/merge-patch+json" }, { __index = function(_, k)
      if k == "body" then reads = reads + 1; return reads == 1 and "{}" or '{"spec":{"replicas":0}}' end
    end })
    c:request("PATCH", DEPLOY, tricky)
    assert.equal(0, reads)
    assert.is_nil(gate.plan()[1].args:find("body", 1, true))
    assert.is_nil(writes()[1].body)
    raises("bad argument", "method must be GET", function() return c:request("delete", "/api/v1/namespaces") end)
    raises("bad argument", "a GET carries no body", function() return c:request("GET", "/api/v1/namespaces", { body = "x" }) end)
  end)

  it("apply of a changed request is refused as unplanned, and nothing is sent", function()
    local c = client()
    local n0 = replicas(c)
    local patch = { content_type = "application/merge-patch+json", body = '{"spec":{"replicas":4}}' }
    gate.set_mode("plan")
    assert(c:raw("PATCH", DEPLOY .. "/scale", patch))
    gate.confirm(gate.plan())
    lab("reset")
    gate.set_mode("apply")
    local changed = {
      { "PATCH", DEPLOY .. "/scale", { content_type = patch.content_type, body = '{"spec":{"replicas":40}}' } },
      { "PATCH", DEPLOY .. "/scale?fieldManager=evil", patch },
      { "PUT", DEPLOY .. "/scale", patch },
      { "PATCH", DEPLOY, patch },
      { "PATCH", DEPLOY .. "/scale", { content_type = "application/json-patch+json", body = patch.body } },
    }
    for _, r in ipairs(changed) do
      raises("unplanned", "write not in the approved plan", c.raw, c, r[1], r[2], r[3])
    end
    -- the same request from another credential is another action
    local cert = assert(k8s.client { kubeconfig = KUBECONFIG, context = "lab-cert", timeout = 10 })
    raises("unplanned", "write not in the approved plan", cert.raw, cert, "PATCH", DEPLOY .. "/scale", patch)
    assert.same({}, writes())
    gate.set_mode("free")
    assert.equal(n0, replicas(c))
    -- control: the approved request itself is sent, once
    gate.set_mode("apply")
    assert(c:raw("PATCH", DEPLOY .. "/scale", patch))
    gate.set_mode("free")
    assert.equal(4, replicas(c))
    local w = writes()
    assert.equal(1, #w)
    assert.equal("", w[1].dryRun)
  end)
end)

describe("security: exec plugins only from the operator's kubeconfig", function()
  local marker = TMP .. "/plugin-ran"
  local plugin = TMP .. "/marker-plugin.sh"
  write_file(plugin, ([[#!/bin/sh
touch %s
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%%s"}}\n' "$(cat %s)"
]]):format(marker, TOKEN_FILE))
  sh("chmod +x " .. plugin)
  local user = ("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: %s\n"
    .. "      interactiveMode: Never"):format(plugin)

  it("a kubeconfig path or text named by runbook code: refused, the plugin never starts", function()
    local path = TMP .. "/runbook-written.kubeconfig"
    write_file(path, kubeconfig_text(user))
    for _, mode in ipairs { "investigate", "plan", "apply" } do
      gate.set_mode(mode)
      for _, kc in ipairs { path, kubeconfig_text(user), path .. ":" .. KUBECONFIG } do
        os.remove(marker)
        local c, err = k8s.client { kubeconfig = kc, timeout = 10 }
        assert.is_nil(c)
        assert.equal("config", err.kind)
        assert.matches("named by runbook code", err.message, 1, true)
        assert.matches(plugin, err.message, 1, true)
        assert.equal("", read_file(marker))      -- no marker: nothing ran
      end
    end
    assert.same({}, requests())
  end)

  it("control: the same plugin runs from a `runbook lua` script (no runbook loaded) and from the run's target", function()
    local path = TMP .. "/operator.kubeconfig"
    write_file(path, kubeconfig_text(user))
    os.remove(marker)
    local c = assert(k8s.client { kubeconfig = path, timeout = 10 })
    assert.equal(5, #assert(c:get("pods")))
    assert.is_true(io.open(marker) ~= nil)
    -- the run's target (--kubeconfig): k8s.client names it too
    local rb = require "rb"
    if rb._set_targets then
      rb._set_targets { kubeconfig = path }
      os.remove(marker)
      gate.set_mode("investigate")
      c = assert(k8s.client { kubeconfig = path, timeout = 10 })
      assert.equal(5, #assert(c:get("pods")))
      assert.is_true(io.open(marker) ~= nil)
      rb._set_targets {}
    end
  end)
end)

describe("security: credentials held for a whole batch", function()
  it("get_many while the tokenFile rotates: every request is sent with the token", function()
    local tf = TMP .. "/rotating-token"
    write_file(tf, TOKEN .. "\n")
    local c = assert(k8s.client { kubeconfig = kubeconfig_text("    tokenFile: " .. tf), timeout = 10 })
    -- rotate: the same token, the file rewritten (size and mtime change) as fast as the shell can
    local pid = sh(([[(i=0; while [ $i -lt 4000 ]; do i=$((i+1)); printf '%%s\n%%*s' '%s' $((i %% 7)) '' > %s.t && mv %s.t %s; done) >/dev/null 2>&1 & echo $!]])
      :format(TOKEN, tf, tf, tf))
    local paths = {}
    for i = 1, 24 do paths[i] = (i % 2 == 0) and "/api/v1" or "/apis" end
    lab("reset")
    local n = 0
    for _ = 1, 40 do
      local res, errs = c:get_many(paths)
      assert(res, errs)
      for i = 1, #paths do
        assert(res[i], errs[i])
        assert.equal(200, res[i].status)
      end
      n = n + #paths
    end
    sh("kill " .. pid .. " 2>/dev/null; wait " .. pid .. " 2>/dev/null; true")
    local seen = requests()
    assert.equal(n, #seen)
    for _, r in ipairs(seen) do assert.equal("token:lab-admin", r.user) end
  end)
end)
