local rb = require "rb"
local k8s = require "rb.k8s"
local S = rb.section { id = "sec", title = "Scan me", symptoms = { "test" } }
local KIND = "configmaps"
S:investigate("Reads", function(ctx)
  k8s.get("statefulsets", "db", { namespace = ctx.params.namespace })
  k8s.top_nodes {}
  k8s.exec("db-0", { "pg_isready" }, { namespace = ctx.params.namespace })
  k8s.get(KIND, nil, {})                       -- kind in a variable
  k8s.raw("GET", "/apis/custom.example/v1/things")
  -- k8s.delete("secrets", "x")  (a comment: not a call)
end)
S:resolve("Writes", function(ctx)
  k8s.patch("deployments.apps", "web", { spec = { paused = false } })
  k8s.scale("web", 3)
end)
return S
