-- The fidelity scenario of tests/e2e/k8s.sh, through rb.k8s: the same calls,
-- in the same order, as the kubectl half of the test. Run with
-- `runbook lua scenario.lua OUTDIR`; the cluster comes from KUBECONFIG
-- (context lab, namespace tmi). Writes what the reads returned under OUTDIR.
local k8s = require "rb.k8s"
local cjson = require "cjson"
local out = assert(arg[1], "usage: scenario.lua OUTDIR")

local function save(name, text)
  local f = assert(io.open(out .. "/" .. name, "w"))
  f:write(text)
  f:close()
end

local function tmi_api_pods()
  local names = {}
  for _, p in ipairs(assert(k8s.get("pods", nil, { selector = "app=tmi-api" }))) do names[#names + 1] = p.metadata.name end
  table.sort(names)
  return names
end

save("pods.txt", table.concat(tmi_api_pods(), "\n") .. "\n")
save("get.txt", (k8s.table(assert(k8s.get("pods"))):gsub("%s+%S+\n", "\n")))   -- AGE left out
assert(k8s.scale("tmi-api", 5))
assert(k8s.set_env("tmi-api", { "LOG_LEVEL=debug", "FEATURE_X=on" }))
assert(k8s.set_resources("tmi-api", { limits = { cpu = "2", memory = "1Gi" } }, { container = "tmi-api" }))
assert(k8s.rollout_restart("tmi-api"))
assert(k8s.rollout_status("tmi-api", { timeout = 20, quiet = true }))
assert(k8s.delete("pod", tmi_api_pods()[1]))
assert(k8s.patch("deployment", "tmi-api",
  '{"spec":{"template":{"spec":{"containers":[{"name":"tmi-api","env":[{"name":"SMP","value":"1"}]}]}}}}',
  { type = "strategic" }))
assert(k8s.patch("deployment", "tmi-api", { metadata = { labels = { tier = "api" } } }, { type = "merge" }))
assert(k8s.patch("deployment", "tmi-api", { { op = "replace", path = "/spec/replicas", value = 4 } }, { type = "json" }))
local top = {}
for _, r in ipairs(assert(k8s.top_pods())) do
  top[#top + 1] = ("%s %dm %dMi"):format(r.name, math.ceil(r.cpu * 1000), r.memory // 2^20)
end
save("top.txt", table.concat(top, "\n") .. "\n")
local pod = tmi_api_pods()[1]
local r = assert(k8s.proxy_get("pod/" .. pod, 9999, "/fidelity?x=1"))
local seen = cjson.decode(r.body)
save("proxy.txt", ("%d %s %s\n"):format(r.status, seen.method, seen.path))
local e = assert(k8s.exec("postgres-0", { "sh", "-c", "echo out; echo err >&2" }))
save("exec.txt", e.stdout .. e.stderr)
