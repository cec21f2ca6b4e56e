-- Network Latency Issues: reachability, DNS and connect times to the
-- dependencies, the service mesh's view, endpoints and network policies.
-- The seed's ping and nslookup run inside a pod; here the engine measures
-- from where it runs (TCP connect rather than ICMP: that is what the API
-- does) to the configured targets (the run's postgres and redis, or the
-- *_host/_port params), never to bare in-cluster names.
local rb = require "rb"
local net = require "rb.net"
local k8s = require "rb.k8s"
local tmi = require "tmi"

local S = rb.section {
  id = "network-latency", title = "Network Latency Issues",
  symptoms = { "High network roundtrip times", "Connection timeouts", "Intermittent connectivity issues" },
  -- empty host/port: the configured target's (postgres_url/redis_url params, else the environment's)
  params = { postgres_host = "", postgres_port = "", redis_host = "", redis_port = "",
    cluster_domain = "svc.cluster.local", istio_port = 15000 },
}

-- host and port of a URL (scheme://[user[:pw]@]host[:port]/...) or a libpq key=value DSN
local function host_port(target, default_port)
  if type(target) ~= "string" then return nil end
  local h = target:match("host=([^%s]+)")
  if h then return h, tonumber(target:match("port=(%d+)")) or default_port end
  local rest = target:match("^%a[%w+.-]*://(.*)$")
  if not rest then return nil end
  rest = rest:gsub("/.*$", ""):gsub("^.*@", "")
  local host, port = rest:match("^%[(.-)%]:?(%d*)$")
  if not host then host, port = rest:match("^([^:]*):?(%d*)$") end
  return host, tonumber(port) or default_port
end

-- The dependencies to probe: explicit params win, else the configured targets.
local function deps(ctx)
  local out = {}
  for _, d in ipairs { { "postgres", "postgres_url", 5432 }, { "redis", "redis_url", 6379 } } do
    local name, param, port = d[1], d[2], d[3]
    local url = ctx.params[param] ~= "" and ctx.params[param] or rb.target(name)
    local h, p = host_port(url, port)
    h = ctx.params[name .. "_host"] ~= "" and ctx.params[name .. "_host"] or h
    p = tonumber(ctx.params[name .. "_port"]) or p
    if h and h:sub(1, 1) ~= "/" then out[#out + 1] = { name, h, p }
    else ctx:note(("%s: no TCP address configured (%s): not probed"):format(name, tostring(h or "no target"))) end
  end
  return out
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
    if d[2]:match("^[%d.]+$") or d[2]:find(":", 1, true) then
      ctx:log(("  %s: %s is an address, nothing to resolve"):format(d[1], d[2]))
      goto continue
    end
    local r, err = net.resolve(d[2])
    if r then ctx:log(("  %s -> %s (%.1f ms)"):format(d[2], table.concat(r.addresses, ", "), r.ms))
    else ctx:log(("  %s: %s"):format(d[2], tostring(err))) end
    ctx:check { name = "DNS lookup time for " .. d[2], value = r and r.ms, warn = 50, crit = 500, unit = "ms" }
    ::continue::
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
