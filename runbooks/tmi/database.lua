-- Database Performance Issues: query latency, pool usage, long queries, lock
-- contention and missing indexes; then pool settings, statistics, vacuum and
-- server configuration.
local rb = require "rb"
local tmi = require "tmi"

local S = rb.section {
  id = "database", title = "Database Performance Issues",
  symptoms = { "High database query latency", "Connection pool exhaustion", "Lock contention" },
  params = { long_query_age = "5 minutes", min_seq_scan = 1000, db_max_connections = 50,
    db_max_idle_connections = 10, db_max_lifetime = "30m", shared_buffers = "256MB", work_mem = "8MB" },
}

S:investigate("Database Metrics", function(ctx)
  local res = tmi.prom(ctx).query_many {
    "histogram_quantile(0.95, sum by (le) (rate(db_query_duration_seconds_bucket[5m])))",
    "max(db_connections_active)", "sum(rate(db_slow_queries_total[5m]))",
    "max(db_connections_active / db_connections_max * 100)",
  }
  ctx:check { name = "p95 query duration", value = res[1] and tmi.max_value(res[1]), warn = 0.1, crit = 1, unit = "s" }
  ctx:log(("active connections: %s, slow queries per second: %s"):format(
    tostring(res[2] and tmi.max_value(res[2])), tostring(res[3] and tmi.max_value(res[3]))))
  ctx:check { name = "connection pool usage", value = res[4] and tmi.max_value(res[4]), warn = 70, crit = 85, unit = "%" }
end)

S:investigate("Active queries", function(ctx)
  local db <close> = tmi.pg(ctx)
  local rows = assert(db:activity { older_than = ctx.params.long_query_age })
  for _, r in ipairs(rows) do ctx:log(("  pid %s running %s: %s"):format(r.pid, tostring(r.duration), r.query)) end
  ctx:check { name = "queries running longer than " .. ctx.params.long_query_age, value = #rows, warn = 1, crit = 3 }
end)

S:investigate("Lock analysis", function(ctx)
  local db <close> = tmi.pg(ctx)
  local rows = assert(db:blocking_locks())
  for _, r in ipairs(rows) do
    ctx:log(("  pid %s (%s) blocked by pid %s (%s): %s"):format(r.blocked_pid, r.blocked_user, r.blocking_pid,
      r.blocking_user, r.blocked_statement))
  end
  ctx:check { name = "blocked queries", value = #rows, warn = 1, crit = 1 }
end)

S:investigate("Check for missing indexes", function(ctx)
  local db <close> = tmi.pg(ctx)
  local rows = assert(db:table_scan_stats { min_seq_scan = ctx.params.min_seq_scan })
  for _, r in ipairs(rows) do
    ctx:log(("  %s.%s seq_scan=%s seq_tup_read=%s idx_scan=%s"):format(r.schemaname, r.tablename,
      tostring(r.seq_scan), tostring(r.seq_tup_read), tostring(r.idx_scan)))
  end
  ctx:check { name = "tables with more than " .. ctx.params.min_seq_scan .. " sequential scans", value = #rows,
    warn = 1, crit = 3 }
end)

S:resolve("Connection Pool Optimization", function(ctx)
  tmi.set_env(ctx, { DB_MAX_CONNECTIONS = ctx.params.db_max_connections,
    DB_MAX_IDLE_CONNECTIONS = ctx.params.db_max_idle_connections, DB_MAX_LIFETIME = ctx.params.db_max_lifetime })
end, { risk = "low", description = "set DB_MAX_CONNECTIONS=50, DB_MAX_IDLE_CONNECTIONS=10, DB_MAX_LIFETIME=30m (rolls the pods)",
  changes = { "deployment env" } })

S:resolve("Query Optimization", function(ctx)
  local db <close> = tmi.pg(ctx)
  assert(db:analyze())
  assert(db:vacuum_analyze())
end, { risk = "low", description = "ANALYZE; VACUUM ANALYZE (cannot be simulated: shown as planned)",
  changes = { "planner statistics", "dead tuples reclaimed" } })

S:resolve("Database Configuration", function(ctx)
  local db <close> = tmi.pg(ctx)
  assert(db:alter_system("shared_buffers", ctx.params.shared_buffers))
  assert(db:alter_system("work_mem", ctx.params.work_mem))
  assert(db:reload_conf())
  if ctx.mode == "apply" then
    local s = assert(db:settings("shared_buffers", "work_mem"))
    ctx:log(("work_mem now %s; shared_buffers %s%s"):format(s.work_mem.setting .. (s.work_mem.unit or ""),
      s.shared_buffers.setting, s.shared_buffers.pending_restart and " (takes effect after a restart)" or ""))
  end
end, { risk = "high", description = "ALTER SYSTEM SET shared_buffers = '256MB', work_mem = '8MB'; SELECT pg_reload_conf()",
  changes = { "postgresql.auto.conf", "server configuration reloaded" } })

return S
