-- rb.k8s against the Kubernetes API stand-in (tests/lab/services/k8s.sh):
-- kubeconfig variants and credentials, errors a user sees, kubectl's reads,
-- the writes in every gate mode (investigate refuses, plan sends only
-- dryRun=All and shows the change, apply sends once), exec over WebSocket.
-- Outcomes are read back from the stand-in's request log and /__lab/state.
local util = require "tests.spec.support.util"
local read_file = util.read_file
local write_file = util.write_file
local sh = util.sh
local k8s = require "rb.k8s"
local gate = require "rb._gate"
local http = require "rb.http"
local sys = require "rb._sys"
local cjson = require "cjson"

local KUBECONFIG = assert(os.getenv("RB_TEST_K8S_KUBECONFIG"), "RB_TEST_K8S_KUBECONFIG (tests/run starts the lab)")
local URL = assert(os.getenv("RB_TEST_K8S_URL"))
local CA = assert(os.getenv("RB_TEST_K8S_CA"))
assert(os.getenv("RB_TEST_K8S_LOG"), "RB_TEST_K8S_LOG")
local TOKEN_FILE = assert(os.getenv("RB_TEST_K8S_TOKEN_FILE"))
local LABK8S = TOKEN_FILE:match("^(.*)/[^/]+$")
local HERE = debug.getinfo(1, "S").source:match("^@(.*)/[^/]+$") or "tests/spec"

if HERE:sub(1, 1) ~= "/" then HERE = sh("pwd") .. "/" .. HERE end
local PLUGIN = HERE .. "/../e2e/k8s/exec-plugin.sh"
local TOKEN = read_file(TOKEN_FILE):gsub("%s+$", "")
local TMP = sh("mktemp -d /tmp/k8s-spec.XXXXXX")

local klab = require "tests.spec.support.k8s_lab"
local lab, requests, writes = klab.lab, klab.requests, klab.writes
local function reset() lab("reset") end
local function state() return cjson.decode(lab("state")).objects end

local function client(ctx)
  return assert(k8s.client { kubeconfig = KUBECONFIG, context = ctx, timeout = 10 })
end

-- A kubeconfig like the lab's with one user definition (YAML lines) and the lab's CA.
local function kubeconfig_with(name, user_yaml, ca)
  local path = TMP .. "/" .. name .. ".kubeconfig"
  write_file(path, ([[
apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: u
  user:
%s
contexts:
- name: c
  context: {cluster: lab, user: u, namespace: tmi}
current-context: c
]]):format(URL, ca or CA, user_yaml))
  return path
end

local function tmi_pods()
  local n = 0
  for k, o in pairs(state()) do
    if k:match("^pods/tmi/") and o.metadata.labels.app == "tmi-api" then n = n + 1 end
  end
  return n
end

describe("rb.k8s configuration and credentials", function()
  before_each(reset)

  it("token, client certificate and tokenFile contexts all reach the API", function()
    for _, ctx in ipairs { "lab", "lab-cert", "lab-tokenfile" } do
      local c = client(ctx)
      assert.equal("tmi", c:info().namespace)
      local pods = assert(c:get("pods"))
      assert.equal(5, #pods)
    end
    assert.equal("token", client("lab"):info().auth)
    assert.equal("client-certificate", client("lab-cert"):info().auth)
    assert.equal("tokenFile", client("lab-tokenfile"):info().auth)
    local users = {}
    for _, r in ipairs(requests()) do users[r.user] = true end
    assert.is_true(users["token:lab-admin"])
    assert.is_true(users["cert:lab-admin"])
  end)

  it("re-reads a tokenFile when it changes", function()
    local tf = TMP .. "/token"
    write_file(tf, "wrong-token-123\n")
    local c = assert(k8s.client { kubeconfig = kubeconfig_with("tf", "    tokenFile: " .. tf), timeout = 10 })
    local _, err = c:get("pods")
    assert.equal("k8s", err.kind)
    assert.equal(401, err.status)
    sys.sleep_ms(20)
    write_file(tf, TOKEN .. "\n")
    assert.equal(5, #assert(c:get("pods")))
  end)

  it("exec plugins: v1 and v1beta1, cached until expirationTimestamp", function()
    local count = TMP .. "/plugin-count"
    for _, api in ipairs { "client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1" } do
      os.remove(count)
      local user = ([[
    exec:
      apiVersion: %s
      command: %s
      interactiveMode: Never
      provideClusterInfo: true
      env:
      - {name: LAB_TOKEN_FILE, value: %s}
      - {name: PLUGIN_COUNT_FILE, value: %s}
      - {name: PLUGIN_INFO_FILE, value: %s}]]):format(api, PLUGIN, TOKEN_FILE, count, TMP .. "/info")
      local c = assert(k8s.client { kubeconfig = kubeconfig_with("exec", user), timeout = 10 })
      assert.equal("exec", c:info().auth)
      assert(c:get("pods"))
      assert(c:get("deployments"))
      assert.equal(1, select(2, read_file(count):gsub("run", "")))   -- no expiry: cached
      local info = cjson.decode(read_file(TMP .. "/info"))
      assert.equal(api, info.apiVersion)
      assert.equal("ExecCredential", info.kind)
      assert.equal(URL, info.spec.cluster.server)
    end
    -- an expiry in the past: asked again on every request
    os.remove(count)
    local user = ([[
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: %s
      interactiveMode: Never
      env:
      - {name: LAB_TOKEN_FILE, value: %s}
      - {name: PLUGIN_COUNT_FILE, value: %s}
      - {name: PLUGIN_EXPIRES, value: "2000-01-01T00:00:00Z"}]]):format(PLUGIN, TOKEN_FILE, count)
    local c = assert(k8s.client { kubeconfig = kubeconfig_with("exp", user), timeout = 10 })
    reset()
    assert(c:get("pods"))
    assert(c:get("pods"))
    assert.equal(4, select(2, read_file(count):gsub("run", "")))   -- one run per call (a discovery batch shares one)
  end)

  it("client certificate and CA as inline data", function()
    local b64 = function(path) return sh("base64 -w0 " .. path) end
    local path = TMP .. "/inline.kubeconfig"
    write_file(path, ([[
apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster: {server: %s, certificate-authority-data: %s}
users:
- name: u
  user: {client-certificate-data: %s, client-key-data: %s}
contexts:
- name: c
  context: {cluster: lab, user: u}
current-context: c
]]):format(URL, b64(CA), b64(LABK8S .. "/client.crt"), b64(LABK8S .. "/client.key")))
    local c = assert(k8s.client { kubeconfig = path, namespace = "tmi", timeout = 10 })
    assert.equal("client-certificate", c:info().auth)
    assert.equal(5, #assert(c:get("pods")))
    local r = requests()
    assert.equal("cert:lab-admin", r[#r].user)
  end)

  it("tls-server-name: verified against the name given, not the address", function()
    local function with_name(name)
      local path = TMP .. "/sni-" .. name .. ".kubeconfig"
      write_file(path, read_file(KUBECONFIG):gsub("(certificate%-authority: [^\n]+)", "%1\n    tls-server-name: " .. name, 1))
      return assert(k8s.client { kubeconfig = path, timeout = 10 })
    end
    assert.equal(5, #assert(with_name("kubernetes"):get("pods")))
    local r, err = with_name("not-the-server.example"):get("pods")
    assert.is_nil(r)
    assert.equal("tls", err.kind)
  end)

  it("the namespace option overrides the context's", function()
    local c = assert(k8s.client { kubeconfig = KUBECONFIG, namespace = "default" })
    assert.equal("default", c:info().namespace)
    assert.equal(0, #assert(c:get("pods")))
  end)

  it("an exec plugin may answer with a client certificate", function()
    local user = ([[
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: %s
      interactiveMode: IfAvailable
      env:
      - {name: PLUGIN_CERT_DIR, value: %s}]]):format(PLUGIN, LABK8S)
    local c = assert(k8s.client { kubeconfig = kubeconfig_with("execcert", user), timeout = 10 })
    assert.equal(5, #assert(c:get("pods")))
    local r = requests()
    assert.equal("cert:lab-admin", r[#r].user)
  end)

  it("a plugin that fails or wants a terminal is an auth error", function()
    local function auth_error(name, command, mode, want)
      local user = ("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: %s\n"
        .. "      interactiveMode: %s"):format(command, mode)
      local c = assert(k8s.client { kubeconfig = kubeconfig_with(name, user), timeout = 10 })
      local r, err = c:get("pods")
      assert.is_nil(r)
      assert.equal("auth", err.kind)
      assert.matches(want, err.message, 1, true)
    end
    auth_error("always", PLUGIN, "Always", "interactiveMode Always needs a terminal")
    auth_error("false", "/bin/false", "Never", "exec plugin /bin/false: exit status 1")
    auth_error("missing", "/nonexistent/plugin", "Never", "exec plugin /nonexistent/plugin: No such file or directory")
  end)

  it("a missing context or file is a config error", function()
    local c, err = k8s.client { kubeconfig = KUBECONFIG, context = "nope" }
    assert.is_nil(c)
    assert.equal("config", err.kind)
    assert.matches("nope", err.message)
    c, err = k8s.client { kubeconfig = TMP .. "/missing" }
    assert.is_nil(c)
    assert.equal("config", err.kind)
  end)
end)

describe("rb.k8s errors", function()
  before_each(reset)

  it("a wrong CA is a tls error", function()
    local other = TMP .. "/other-ca.crt"
    sh(("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s/other.key -out %s -days 1 -subj /CN=other 2>/dev/null")
      :format(TMP, other))
    local c = assert(k8s.client { kubeconfig = kubeconfig_with("ca", "    token: " .. TOKEN, other), timeout = 10 })
    local r, err = c:get("pods")
    assert.is_nil(r)
    assert.equal("tls", err.kind)
  end)

  it("a bad token is 401 Unauthorized, and no token is ever shown", function()
    local c = assert(k8s.client { kubeconfig = kubeconfig_with("bad", "    token: not-the-token-xyz"), timeout = 10 })
    local r, err = c:get("pods")
    assert.is_nil(r)
    assert.equal("k8s", err.kind)
    assert.equal(401, err.status)
    assert.equal("Unauthorized", err.reason)
    assert.is_nil(tostring(err):find("not-the-token-xyz", 1, true))
    assert.is_nil(tostring(err):find(TOKEN, 1, true))
  end)

  it("an unknown resource names it; a missing object is NotFound", function()
    local r, err = client():get("frobnicators")
    assert.is_nil(r)
    assert.equal("k8s", err.kind)
    assert.equal([[k8s: the server doesn't have a resource type "frobnicators"]], err.message)
    r, err = client():get("deploy", "nope")
    assert.is_nil(r)
    assert.equal(404, err.status)
    assert.equal("NotFound", err.reason)
    assert.matches('deployments.apps "nope" not found', err.message, 1, true)
  end)

  it("a server that is down or hung fails within the bound", function()
    local port = sh([[python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])']])
    local path = TMP .. "/down.kubeconfig"
    write_file(path, read_file(KUBECONFIG):gsub("https://127%.0%.0%.1:%d+", "https://127.0.0.1:" .. port))
    local c = assert(k8s.client { kubeconfig = path, timeout = 2, connect_timeout = 2 })
    local t0 = sys.clock_ms()
    local r, err = c:get("pods")
    assert.is_nil(r)
    assert.equal("conn", err.kind)
    assert.is_true(sys.clock_ms() - t0 < 3000)
    -- hung before TLS: a listener that accepts and never answers
    local hung = sh([[python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])']])
    local pid = sh(("timeout 20 python3 -c 'import socket, time\ns = socket.socket()\ns.bind((\"127.0.0.1\", %s))\ns.listen(5)\nc = s.accept()\ntime.sleep(30)' >/dev/null 2>&1 & echo $!"):format(hung))
    -- wait until it listens (a loaded machine may take a while to start python)
    sh(("for i in $(seq 100); do ss -ltn | grep -q ':%s ' && break; sleep 0.1; done"):format(hung))
    write_file(path, read_file(KUBECONFIG):gsub("https://127%.0%.0%.1:%d+", "https://127.0.0.1:" .. hung))
    c = assert(k8s.client { kubeconfig = path, timeout = 1, connect_timeout = 1 })
    t0 = sys.clock_ms()
    r, err = c:get("pods")
    sh("kill " .. pid .. " 2>/dev/null")
    assert.is_nil(r)
    assert.equal("timeout", err.kind)
    assert.is_true(sys.clock_ms() - t0 < 3000)
    -- hung after TLS: the stand-in's fault mode holds every API request
    lab("fault?hang=30")
    c = client()
    c = assert(k8s.client { kubeconfig = KUBECONFIG, timeout = 1 })
    t0 = sys.clock_ms()
    r, err = c:get("pods")
    lab("fault")
    assert.is_nil(r)
    assert.equal("timeout", err.kind)
    assert.is_true(sys.clock_ms() - t0 < 3000)
  end)
end)

describe("rb.k8s reads", function()
  local c
  setup(function() reset(); c = client() end)

  it("get: lists, names, short names, selectors, all namespaces", function()
    local pods = assert(c:get("po", { selector = "app=tmi-api" }))
    assert.equal(3, #pods)
    assert.equal("Pod", pods[1].kind)
    assert.equal("v1", pods[1].apiVersion)
    local d = assert(c:get("deploy", "tmi-api"))
    assert.equal(3, d.spec.replicas)
    assert.same(d, assert(c:get("deployment/tmi-api")))
    assert.equal(1, #assert(c:get("netpol")))
    assert.is_true(#assert(c:get("ep")) >= 3)
    assert.equal(2, #assert(c:get("no")))
    assert.equal(1, #assert(c:get("pods", { field_selector = "metadata.name=postgres-0" })))
    assert.equal(0, #assert(c:get("pods", { namespace = "default" })))
    assert.is_true(#assert(c:get("pods", { all_namespaces = true })) >= 5)
    assert.equal("apps", c:resource("deploy").group)
    for _, r in ipairs(requests()) do assert.equal("GET", r.method) end
  end)

  it("table: kubectl get's columns and ages", function()
    local pods = assert(c:get("pods", { field_selector = "metadata.name=postgres-0" }))
    pods[1].metadata.creationTimestamp = "2026-01-01T00:00:00Z"
    local t0 = 1767225600   -- 2026-01-01T00:00:00Z
    assert.equal("NAME         READY   STATUS    RESTARTS   AGE\npostgres-0   1/1     Running   0          135m\n",
      k8s.table(pods, { now = t0 + 8100 }))
    local head = k8s.table(assert(c:get("deploy"))):match("^[^\n]+")
    assert.equal("NAME      READY   UP-TO-DATE   AVAILABLE   AGE", head)
    for secs, want in pairs { [59] = "59s", [119] = "119s", [310] = "5m10s", [600] = "10m", [26400] = "7h20m",
                              [172799] = "47h", [190000] = "2d4h", [691200] = "8d", [70000000] = "2y80d" } do
      assert.equal(want, k8s.age(secs))
    end
  end)

  it("describe: the object and its events", function()
    local d = assert(c:describe("pod", "postgres-0"))
    assert.equal("postgres-0", d.object.metadata.name)
    assert.is_true(#d.events >= 1)
    assert.matches("Name:         postgres-0", d.text, 1, true)
    assert.matches("Limits:", d.text, 1, true)
    assert.matches("Events:", d.text, 1, true)
  end)

  it("top pods and nodes: quantities as cores and bytes", function()
    local rows = assert(c:top_pods())
    assert.equal(5, #rows)
    local api
    for _, r in ipairs(rows) do if r.name:match("^tmi%-api") then api = r end end
    assert.near(0.251043213, api.cpu, 1e-9)
    assert.equal(318012 * 1024, api.memory)
    local nodes = assert(c:top_nodes())
    assert.equal("lab-node-1", nodes[1].name)
    assert.equal(4 * 2^30, nodes[1].memory)
    assert.is_number(nodes[1].cpu_percent)
    assert.equal(0.25, k8s.quantity("250m"))
    assert.equal(2^30, k8s.quantity("1Gi"))
    assert.is_nil(k8s.quantity("lots"))
  end)

  it("logs with tail and since", function()
    local text = assert(c:logs("postgres-0", { tail = 3, since = "1h" }))
    assert.equal(3, select(2, text:gsub("\n", "")))
    local r = requests()
    assert.matches("tailLines=3", r[#r].query, 1, true)
    assert.matches("sinceSeconds=3600", r[#r].query, 1, true)
  end)

  it("proxy_get reaches a pod's port through the API server", function()
    local addr = TMP .. "/echo.addr"
    local pid = sh(("%s -echo %s >/dev/null 2>&1 & echo $!"):format(os.getenv("RB_TEST_K8S_BIN"), addr))
    for _ = 1, 100 do if read_file(addr) ~= "" then break end sys.sleep_ms(50) end
    local map = { pods = { ["tmi-api"] = { ["9999"] = "http://" .. read_file(addr):gsub("%s+$", "") } } }
    assert.equal(200, assert(http.post(URL .. "/__lab/proxy", { ca_file = CA, json = map })).status)
    local pod = assert(c:get("pods", { selector = "app=tmi-api" }))[1].metadata.name
    local r = assert(c:proxy_get("pod/" .. pod, 9999, "/debug/pprof/heap?debug=1"))
    assert.equal(200, r.status)
    local seen = cjson.decode(r.body)
    assert.equal("/debug/pprof/heap", seen.path)
    assert.matches("debug=1", seen.query or seen.rawQuery or r.body, 1, true)
    -- rb.pprof's target form
    r = assert(c:proxy_get({ pod = pod, namespace = "tmi", port = 9999 }, "/x"))
    assert.equal(200, r.status)
    -- an unmapped port: the API server's 503, as a result
    r = assert(c:proxy_get("pod/" .. pod, 1, "/"))
    assert.equal(503, r.status)
    sh("kill " .. pid)
  end)

  it("rb.pprof.fetch reaches a pod's pprof port through proxy_get", function()
    if not (os.getenv("RB_TEST_TMISIM_PPROF_URL") or os.getenv("RB_TEST_PPROF_URL")) then
      pending("no pprof target in the lab")
      return
    end
    local pprof, rb = require "rb.pprof", require "rb"
    local pod = assert(c:get("pods", { selector = "app=tmi-api" }))[1].metadata.name
    rb._set_targets { kubeconfig = KUBECONFIG }    -- pprof uses the run's client, as in a run
    local dump, err = pprof.fetch({ pod = pod, namespace = "tmi", port = 6060 }, "goroutine", { timeout = 10 })
    rb._set_targets {}
    assert(dump, err)
    assert.is_true(#dump.groups > 0)
    local r = requests()
    assert.equal("/api/v1/namespaces/tmi/pods/" .. pod .. ":6060/proxy/debug/pprof/goroutine", r[#r].path)
  end)

  it("rollout_status reports a finished rollout", function()
    local r = assert(c:rollout_status("deployment/tmi-api", { timeout = 10 }))
    assert.is_true(r.done)
    assert.equal('deployment "tmi-api" successfully rolled out', r.message)
  end)
end)

describe("rb.k8s writes in each mode", function()
  local c
  before_each(function() reset(); c = client(); gate.reset() end)
  after_each(function() gate.set_mode("free"); gate.reset() end)

  local function all_writes(fn)
    fn("scale", function() return c:scale("tmi-api", 5) end)
    fn("set_env", function() return c:set_env("tmi-api", { "LOG_LEVEL=debug", "FEATURE_X=on" }) end)
    fn("set_resources", function() return c:set_resources("tmi-api", { limits = { cpu = "2", memory = "1Gi" } }) end)
    fn("rollout_restart", function() return c:rollout_restart("tmi-api") end)
    fn("patch", function() return c:patch("deployment", "tmi-api", { metadata = { labels = { tier = "api" } } }, { type = "merge" }) end)
    fn("delete", function() return c:delete("pod", "postgres-0") end)
  end

  it("investigate refuses every write before sending it", function()
    gate.set_mode("investigate")
    assert(c:get("pods"))
    all_writes(function(name, f)
      local ok, err = pcall(f)
      assert.is_false(ok, name)
      assert.equal("refused", err.kind)
      assert.matches("write refused in investigate: k8s.", err.message, 1, true)
    end)
    local ok, err = pcall(c.exec, c, "postgres-0", { "true" })
    assert.is_false(ok)
    assert.equal("refused", err.kind)
    assert.same({}, writes())
  end)

  it("plan sends only dryRun=All and shows what the server made of it", function()
    local before = lab("state")
    gate.set_mode("plan")
    all_writes(function(name, f)
      local r = assert(f())
      assert.is_true(r.planned, name)
    end)
    assert.same({ planned = true }, assert(c:exec("postgres-0", { "true" })))
    local w = writes()
    assert.equal(6, #w)
    for _, r in ipairs(w) do assert.equal("All", r.dryRun) end
    assert.equal(before, lab("state"))
    local p = gate.plan()
    assert.equal(7, #p)
    assert.equal("patch", p[1].op)
    assert.equal("/apis/apps/v1/namespaces/tmi/deployments/tmi-api/scale", p[1].target)
    assert.matches("spec.replicas: 3 -> 5", p[1].simulated, 1, true)
    assert.matches("env[FEATURE_X]: added", p[2].simulated, 1, true)
    assert.matches("limits.cpu: 1 -> 2", p[3].simulated, 1, true)
    assert.matches("restartedAt", p[4].simulated, 1, true)
    assert.matches("labels.tier: added api", p[5].simulated, 1, true)
    assert.equal("delete", p[6].op)
    assert.is_true(p[6].simulable)
    assert.equal('server (dryRun=All): delete pods "postgres-0" accepted', p[6].simulated)
    assert.equal("exec", p[7].op)
    assert.is_false(p[7].simulable)
  end)

  it("a write the server refuses shows so in the plan", function()
    gate.set_mode("plan")
    local r, err = c:patch("deployment", "tmi-api", { spec = { replicas = -1 } }, { type = "merge" })
    assert.is_nil(r)
    assert.equal(422, err.status)
    assert.equal("Invalid", err.reason)
    assert.matches("refused by the server", gate.plan()[1].simulated, 1, true)
  end)

  it("apply sends each approved write once, the rollout restart included", function()
    gate.set_mode("plan")
    all_writes(function(_, f) assert(f()) end)
    gate.confirm(gate.plan())
    gate.set_mode("apply")
    sys.sleep_ms(1100)    -- the restartedAt clock moves on: still the approved write
    all_writes(function(name, f) assert(f(), name) end)
    assert.equal(0, gate.approved_left())
    local ok, err = pcall(c.scale, c, "tmi-api", 7)
    assert.is_false(ok)
    assert.equal("unplanned", err.kind)
    gate.set_mode("free")
    local sent = {}
    for _, r in ipairs(writes()) do if r.dryRun ~= "All" then sent[#sent + 1] = r end end
    assert.equal(6, #sent)
    assert.equal(5, tmi_pods())
    local d = assert(c:get("deploy", "tmi-api"))
    assert.equal("api", d.metadata.labels.tier)
    assert.equal("2", d.spec.template.spec.containers[1].resources.limits.cpu)
  end)
end)

describe("rb.k8s apply", function()
  local c
  before_each(function() reset(); c = client() end)

  it("creates what is missing and merge-patches what exists, as kubectl apply -f", function()
    local doc = [[
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: spec-cm}
  data: {mode: one}
- apiVersion: batch/v1
  kind: Job
  metadata: {name: spec-job}
  spec:
    template:
      spec:
        restartPolicy: Never
        containers: [{name: c, image: busybox}]
]]
    local r = assert(c:apply(doc, { namespace = "tmi" }))
    assert.same({ "created", "created" }, { r[1].action, r[2].action })
    assert.equal("jobs.batch", r[2].kind)
    assert.equal("one", assert(c:get("configmap", "spec-cm")).data.mode)
    r = assert(c:apply(doc:gsub("mode: one", "mode: two"), { namespace = "tmi" }))
    assert.equal("configured", r[1].action)
    assert.equal("two", assert(c:get("configmap", "spec-cm")).data.mode)
  end)

  it("is a write: refused in investigate, dry-run in plan, sent once in apply", function()
    local cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: spec-cm, namespace: tmi}\ndata: {a: '1'}\n"
    gate.reset()
    gate.set_mode("investigate")
    local ok, err = pcall(c.apply, c, cm)
    assert.is_false(ok)
    assert.equal("refused", err.kind)
    gate.set_mode("plan")
    assert.is_true(assert(c:apply(cm))[1].object.planned)
    local p = gate.plan()
    assert.equal(1, #p)
    assert.equal("create", p[1].op)
    assert.matches('create configmaps "spec-cm" accepted', p[1].simulated, 1, true)
    assert.is_nil((c:get("configmap", "spec-cm")))
    gate.confirm()
    gate.set_mode("apply")
    assert.equal("created", assert(c:apply(cm))[1].action)
    gate.set_mode("free")
    gate.reset()
    assert.equal("1", assert(c:get("configmap", "spec-cm")).data.a)
  end)

  it("says what is wrong with a manifest", function()
    local r, err = c:apply("a: [1,")
    assert.is_nil(r)
    assert.equal("parse", err.kind)
    assert.has_error(function() c:apply({ kind = "ConfigMap" }) end)
  end)
end)

describe("rb.k8s exec", function()
  local c
  setup(function() reset(); c = client() end)

  it("returns stdout, stderr and the exit code", function()
    local r = assert(c:exec("postgres-0", { "sh", "-c", "echo out; echo err >&2; exit 3" }))
    assert.equal("out\n", r.stdout)
    assert.equal("err\n", r.stderr)
    assert.equal(3, r.exit_code)
    assert.equal("v5.channel.k8s.io", r.protocol)
    r = assert(c:exec("postgres-0", { "cat" }, { stdin = "from stdin\n" }))
    assert.equal("from stdin\n", r.stdout)
    assert.equal(0, r.exit_code)
  end)

  it("falls back to v4.channel.k8s.io when the server has no v5", function()
    lab("fault?ws=v4")
    local r, err = c:exec("postgres-0", { "sh", "-c", "echo out; echo err >&2; exit 2" })
    lab("fault")
    assert(r, err)
    assert.equal("v4.channel.k8s.io", r.protocol)
    assert.equal("out\n", r.stdout)
    assert.equal("err\n", r.stderr)
    assert.equal(2, r.exit_code)
  end)

  it("a missing pod is NotFound", function()
    local r, err = c:exec("nope", { "true" })
    assert.is_nil(r)
    assert.equal(404, err.status)
    assert.equal("NotFound", err.reason)
  end)
end)

teardown(function() sh("rm -rf " .. TMP) end)
