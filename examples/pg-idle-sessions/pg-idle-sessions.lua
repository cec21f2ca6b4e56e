-- pg-idle-sessions — a team's playbook for PostgreSQL connection saturation:
-- how close the server is to max_connections, and which sessions sit "idle in
-- transaction" holding locks and snapshots; then end those sessions.
--   runbook run examples/pg-idle-sessions/pg-idle-sessions.lua --set dsn=postgresql://...
local rb = require "rb"
local pg = require "rb.pg"

local S = rb.section {
  id = "pg-idle-sessions", title = "PostgreSQL idle-in-transaction sessions",
  symptoms = { "too many clients already", "connection pool timeouts", "vacuum cannot remove dead rows" },
  params = { dsn = "", idle_for = "1 minute", application = "" },
}

local function connect(ctx)
  return assert(pg.connect(ctx.params.dsn ~= "" and ctx.params.dsn or rb.target("postgres")))
end

local IDLE_SQL = [[
SELECT pid, usename, application_name, now() - state_change AS idle, left(query, 80) AS query
  FROM pg_stat_activity
 WHERE state = 'idle in transaction' AND now() - state_change > $1::interval
   AND ($2 = '' OR application_name = $2)
 ORDER BY pid]]

-- the same list in the plan and apply passes while nothing changes in between
local function idle_sessions(ctx, db)
  return assert(db:query(IDLE_SQL, ctx.params.idle_for, ctx.params.application))
end

S:investigate("Connection usage", function(ctx)
  local db <close> = connect(ctx)
  local row = assert(db:query([[SELECT count(*) AS used, current_setting('max_connections')::int AS max
                                  FROM pg_stat_activity WHERE backend_type = 'client backend']]))[1]
  ctx:check { name = "connections used", value = row.used * 100 / row.max, warn = 70, crit = 90, unit = "%" }
end)

S:investigate("Idle in transaction", function(ctx)
  local db <close> = connect(ctx)
  local rows = idle_sessions(ctx, db)
  for _, r in ipairs(rows) do
    ctx:log(("pid %d (%s, %s) idle %s: %s"):format(r.pid, r.usename, r.application_name, tostring(r.idle), r.query))
  end
  ctx:check { name = "sessions idle in transaction for over " .. ctx.params.idle_for, value = #rows, warn = 1, crit = 5 }
end)

S:resolve("End idle-in-transaction sessions", function(ctx)
  local db <close> = connect(ctx)
  for _, r in ipairs(idle_sessions(ctx, db)) do
    assert(db:exec("SELECT pg_terminate_backend($1)", r.pid))
  end
end, { risk = "high", description = "pg_terminate_backend for each session idle in transaction (their transactions roll back)",
  changes = { "client sessions are disconnected" } })

return S
