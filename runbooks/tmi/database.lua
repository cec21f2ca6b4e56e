-- Database Performance Issues: query latency, pool usage, running queries
-- (not idle sessions), lock contention (blocker and blocked with their
-- statements) and missing indexes (the table and the unindexed column it is
-- filtered on); then pool settings, statistics, vacuum and server
-- configuration (privileges checked while planning).
local rb = require "rb"
local tmi = require "tmi"

local S = rb.section {
  id = "database", title = "Database Performance Issues",
  symptoms = { "High database query latency", "Connection pool exhaustion", "Lock contention" },
  params = { long_query_age = "5 minutes", min_seq_scan = 1000, db_max_connections = 50,
    db_max_idle_connections = 10, db_max_lifetime = "30m", shared_buffers = "256MB", work_mem = "8MB" },
}

S:investigate("Database Metrics", function(ctx)
  tmi.indicators(ctx, { "db_query_p95", "db_pool_usage", "db_blocked_sessions", "db_oldest_query" })
  local res = tmi.prom(ctx).query_many { "max(db_connections_active)", "sum(rate(db_slow_queries_total[5m]))" }
  ctx:log(("active connections: %s, slow queries per second: %s"):format(
    tostring(res[1] and tmi.max_value(res[1])), tostring(res[2] and tmi.max_value(res[2]))))
  tmi.log_series(ctx, "connection pool usage per pod (%)",
    tmi.prom(ctx).query("max by (pod) (db_connections_active / db_connections_max * 100)") or {}, "pod", "%.0f")
end)

S:investigate("Active queries", function(ctx)
  -- the seed's pg_stat_activity query, running queries only: an idle session
  -- shows its last statement, which is not running
  local db <close> = tmi.pg(ctx)
  local rows = assert(db:query([[
SELECT pid, state, usename, application_name AS app,
       extract(epoch FROM now() - query_start)::float8 AS age_s, query
FROM pg_stat_activity
WHERE state = 'active' AND pid <> pg_backend_pid() AND now() - query_start > $1::interval
ORDER BY query_start]], ctx.params.long_query_age))
  for _, r in ipairs(rows) do
    ctx:log(("  pid %s  %s  %.0f s  %s (%s): %s"):format(r.pid, r.state, r.age_s or 0, r.usename, r.app, r.query))
  end
  ctx:check { name = "queries running longer than " .. ctx.params.long_query_age, value = #rows, warn = 1, crit = 3 }
end)

S:investigate("Lock analysis", function(ctx)
  -- the seed's lock analysis, with the blocker's state, statement and transaction age
  local db <close> = tmi.pg(ctx)
  local rows = assert(db:query([[
SELECT blocked.pid AS blocked_pid, blocked.usename AS blocked_user, blocked.query AS blocked_statement,
       extract(epoch FROM now() - blocked.query_start)::float8 AS waiting_s,
       blocker.pid AS blocking_pid, blocker.usename AS blocking_user, blocker.state AS blocking_state,
       blocker.query AS blocking_statement, blocker.application_name AS blocking_app,
       extract(epoch FROM now() - blocker.xact_start)::float8 AS blocking_xact_s
FROM pg_stat_activity blocked
JOIN LATERAL unnest(pg_blocking_pids(blocked.pid)) AS b(pid) ON true
JOIN pg_stat_activity blocker ON blocker.pid = b.pid
ORDER BY blocker.pid, blocked.pid]]))
  for _, r in ipairs(rows) do
    ctx:log(("  pid %s (%s) waiting %.0f s: %s"):format(r.blocked_pid, r.blocked_user, r.waiting_s or 0, r.blocked_statement))
    ctx:log(("    blocked by pid %s (%s, %s, %s, transaction open %.0f s): %s"):format(r.blocking_pid, r.blocking_user,
      r.blocking_app, r.blocking_state, r.blocking_xact_s or 0, r.blocking_statement))
  end
  ctx:check { name = "blocked queries", value = #rows, warn = 1, crit = 1 }
end)

-- Columns of a table no index covers, and the ones the sessions' last
-- statements filter on (pg_stat_activity, sampled a few times).
local function unindexed_filters(db, schema, tbl)
  local cols = assert(db:query([[
SELECT a.attname FROM pg_attribute a
WHERE a.attrelid = (quote_ident($1) || '.' || quote_ident($2))::regclass AND a.attnum > 0 AND NOT a.attisdropped
  AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = a.attrelid AND a.attnum = ANY (i.indkey))]], schema, tbl))
  local hits = {}
  for _ = 1, 5 do
    local qs = assert(db:query([[SELECT query FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE '%' || $1 || '%']], tbl))
    for _, q in ipairs(qs) do
      local where = (q.query:lower():match("where(.*)$")) or ""
      for _, c in ipairs(cols) do
        if where:find("%f[%w_]" .. c.attname .. "%f[^%w_]") then hits[c.attname] = true end
      end
    end
    rb.sleep(0.3)
  end
  local out = {}
  for c in pairs(hits) do out[#out + 1] = c end
  table.sort(out)
  return out
end

S:investigate("Check for missing indexes", function(ctx)
  -- rates over the window (Prometheus), not totals since the server started
  local res = assert(tmi.prom(ctx).query("max by (relname) (rate(pg_stat_user_tables_seq_scan_total[5m]))"))
  local db <close> = tmi.pg(ctx)
  local worst = 0
  for _, r in ipairs(res) do
    worst = math.max(worst, r.value)
    if r.value >= ctx.thresholds.db_seq_scans.warn then
      local cols = unindexed_filters(db, "public", r.metric.relname)
      ctx:log(("  %s: %.1f sequential scans/s over %s; filtered on unindexed column(s): %s"):format(r.metric.relname,
        r.value, ctx.params.window, #cols > 0 and table.concat(cols, ", ") or "(none seen)"))
      for _, c in ipairs(cols) do ctx:note(("missing index? CREATE INDEX ON %s (%s)"):format(r.metric.relname, c)) end
    else
      ctx:log(("  %s: %.2f sequential scans/s"):format(r.metric.relname, r.value))
    end
  end
  ctx:check { threshold = "db_seq_scans", name = "sequential scans per second (worst table)", value = #res > 0 and worst or nil }
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

-- The privileges the configuration change needs, checked while planning, so
-- a role that could write ALTER SYSTEM but not reload fails before anything
-- is applied (not half way).
local function config_privileges(ctx, db)
  local r = assert(db:query([[
SELECT current_user AS role, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS super,
       has_function_privilege('pg_reload_conf()', 'EXECUTE') AS reload,
       has_parameter_privilege('shared_buffers', 'ALTER SYSTEM') AS sb,
       has_parameter_privilege('work_mem', 'ALTER SYSTEM') AS wm]]))[1]
  local missing = {}
  local function yes(v) return v == true or v == "t" end
  if not yes(r.super) then
    if not yes(r.sb) then missing[#missing + 1] = "ALTER SYSTEM on shared_buffers" end
    if not yes(r.wm) then missing[#missing + 1] = "ALTER SYSTEM on work_mem" end
    if not yes(r.reload) then missing[#missing + 1] = "EXECUTE on pg_reload_conf()" end
  end
  if #missing > 0 then
    error(("role %s lacks %s: nothing was applied (grant it, or run with a role that has it)"):format(
      r.role, table.concat(missing, ", ")), 0)
  end
  ctx:log(("role %s may ALTER SYSTEM shared_buffers and work_mem and call pg_reload_conf()%s"):format(r.role,
    yes(r.super) and " (superuser)" or ""))
end

S:resolve("Database Configuration", function(ctx)
  local db <close> = tmi.pg(ctx)
  if ctx.mode ~= "apply" then config_privileges(ctx, db) end
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
