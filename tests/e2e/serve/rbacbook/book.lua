-- A book for tests/e2e/serve_deploy.sh: rb.k8s calls `runbook rbac` must
-- classify (exec in an investigate step, writes in resolve, a cluster read)
-- and two it cannot name statically.
local rb = require "rb"
return rb.book { id = "rbacbook", title = "RBAC scan test", params = { namespace = "shop" },
  thresholds = {}, sections = { "sec" } }
