-- rollback — a platform team's playbook for a deployment regression with
-- Redis pressure: which revision is running and what changed, the pods'
-- restarts and logs, the error rate, Redis memory and evictions now; then
-- roll the deployment back to the previous good revision and watch the
-- error rate.
--   runbook run examples/rollback/rollback --dry-run
--   runbook run examples/rollback/rollback --set deployment=tmi-api --yes
local rb = require "rb"

return rb.book {
  id = "rollback",
  title = "Deployment regression (with Redis pressure)",
  params = {
    deployment = { default = "tmi-api", description = "the deployment that regressed" },
    to_revision = { default = 0, type = "number", description = "revision to roll back to; 0: the previous one" },
    log_lines = { default = 5, type = "number", description = "log lines shown per pod" },
    window = { default = 2, type = "number", description = "seconds over which Redis rates are measured" },
  },
  thresholds = {
    error_rate = { title = "HTTP 5xx per second", warn = 1, crit = 5,
      query = 'sum(rate(http_requests_total{code=~"5.."}[5m]))', sections = { "rollback" } },
  },
  sections = { "rollback" },
}
