-- Network Latency Issues: reachability, DNS and connect times to the
-- dependencies, the service mesh's view, endpoints and network policies.
-- The seed's ping and nslookup run inside a pod; here the engine measures
-- from where it runs (TCP connect rather than ICMP: that is what the API does).
local rb = require "rb"
local net = require "rb.net"
local k8s = require "rb.k8s"
local tmi = require "tmi"

local S = rb.section {
  id = "network-latency", title = "Network Latency Issues",
  symptoms = { "High network roundtrip times", "Connection timeouts", "Intermittent connectivity issues" },
  params = { postgres_host = "postgres", postgres_port = 5432, redis_host = "redis", redis_port = 6379,
    cluster_domain = "svc.cluster.local", istio_port = 15000 },
}

local function deps(ctx)
  return { { "postgres", ctx.params.postgres_host, ctx.params.postgres_port },
           { "redis", ctx.params.redis_host, ctx.params.redis_port } }
end

S:investigate("Test connectivity", function(ctx)
  for _, d in ipairs(deps(ctx)) do
    local times, failures = {}, 0
    for _ = 1, 5 do                                   -- ping -c 5
      local r, err = net.tcp_connect(d[2], d[3], { timeout = 2 })
      if r then times[#times + 1] = r.ms else failures = failures + 1; ctx:log(("  %s: %s"):format(d[1], tostring(err))) end
    end
    table.sort(times)
    ctx:check { name = d[1] .. " connect time (median of 5)", value = times[math.max(1, (#times + 1) // 2)],
      warn = 10, crit = 100, unit = "ms" }
    ctx:check { name = d[1] .. " failed connects (of 5)", value = failures, warn = 1, crit = 3 }
  end
end)

S:investigate("DNS resolution", function(ctx)
  for _, d in ipairs(deps(ctx)) do
    local r, err = net.resolve(d[2])
    if r then ctx:log(("  %s -> %s (%.1f ms)"):format(d[2], table.concat(r.addresses, ", "), r.ms))
    else ctx:log(("  %s: %s"):format(d[2], tostring(err))) end
    ctx:check { name = "DNS lookup time for " .. d[2], value = r and r.ms, warn = 50, crit = 500, unit = "ms" }
  end
end)

S:investigate("Service Mesh Analysis", function(ctx)
  -- kubectl exec <pod> -c istio-proxy -- curl -s localhost:15000/stats | grep http
  local pod = tmi.api_pods(ctx)[1]
  local resp, err = k8s.proxy_get(pod, ctx.params.istio_port, "/stats", { namespace = ctx.params.namespace })
  if not resp or resp.status ~= 200 then
    ctx:note(("no service mesh proxy answered on port %s (%s)"):format(ctx.params.istio_port,
      resp and ("HTTP " .. resp.status) or tostring(err)))
    return
  end
  local n = 0
  for line in resp.body:gmatch("[^\n]+") do
    if line:find("http", 1, true) then n = n + 1; if n <= 20 then ctx:log("  " .. line) end end
  end
end)

S:investigate("Check service endpoints", function(ctx)
  local eps = assert(k8s.get("endpoints", nil, { namespace = ctx.params.namespace }))
  local empty = 0
  for _, ep in ipairs(eps) do
    local addrs = 0
    for _, s in ipairs(ep.subsets or {}) do addrs = addrs + #(s.addresses or {}) end
    ctx:log(("  %-30s %d ready address(es)"):format(ep.metadata.name, addrs))
    if addrs == 0 then empty = empty + 1 end
  end
  ctx:check { name = "services without ready endpoints", value = empty, warn = 1, crit = 1 }
end)

S:investigate("Verify network policies", function(ctx)
  local pols = assert(k8s.get("networkpolicies", nil, { namespace = ctx.params.namespace }))
  for _, p in ipairs(pols) do
    ctx:log(("  %s: types %s"):format(p.metadata.name,
      table.concat((p.spec or {}).policyTypes or {}, ",")))
  end
  ctx:log(("%d network policies in %s"):format(#pols, ctx.params.namespace))
end)

S:investigate("Test service resolution", function(ctx)
  -- kubectl run test-pod --image=busybox --rm -it -- nslookup tmi-api-service.tmi.svc.cluster.local
  local name = ("%s.%s.%s"):format(ctx.params.api_service, ctx.params.namespace, ctx.params.cluster_domain)
  local r, err = net.resolve(name)
  if r then ctx:log(("  %s -> %s"):format(name, table.concat(r.addresses, ", ")))
  else ctx:log(("  %s: %s (outside the cluster this name does not resolve)"):format(name, tostring(err))) end
  local svc = assert(k8s.get("services", ctx.params.api_service, { namespace = ctx.params.namespace }))
  ctx:log(("  service %s: clusterIP %s"):format(svc.metadata.name, tostring(svc.spec.clusterIP)))
end)

return S
