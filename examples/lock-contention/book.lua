-- lock-contention — a platform team's playbook for PostgreSQL lock contention:
-- who blocks whom and for how long, the statements on both sides, the
-- transactions left open; then cancel the head blocker's statement and, if it
-- still blocks, end its session, and check that the chain is gone.
--   runbook run examples/lock-contention/lock-contention --dry-run
--   runbook run examples/lock-contention/lock-contention --set dsn=postgresql://...
local rb = require "rb"

return rb.book {
  id = "lock-contention",
  title = "PostgreSQL lock contention",
  params = {
    dsn = { default = "", description = "PostgreSQL DSN; empty: the run's postgres target (--env/--config)" },
    min_wait = { default = 5, type = "number",
      description = "seconds a session must have waited before its head blocker is acted on" },
    long_xact = { default = "5 minutes", description = "a transaction open longer than this is reported" },
    settle = { default = 10, type = "number",
      description = "seconds to wait for a chain to clear after its head blocker was signalled" },
  },
  thresholds = {
    -- postgres_exporter-style gauge (the lab's tmisim exporter serves it for database tmi)
    blocked_sessions = { title = "sessions waiting for a lock", warn = 1, crit = 10,
      query = "max(pg_stat_activity_blocked_sessions)", sections = { "lock-contention" } },
  },
  sections = { "lock-contention" },
}
