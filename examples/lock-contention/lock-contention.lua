-- lock-contention — investigate blocking chains and long transactions; resolve
-- by cancelling the head blocker's statement, then terminating its session.
local rb = require "rb"
local pg = require "rb.pg"
local thresholds = require "rb.thresholds"
local chains = require "chains"

local S = rb.section {
  id = "lock-contention", title = "PostgreSQL lock contention",
  symptoms = { "requests hang on UPDATE/ALTER", "lock wait timeouts", "connection pool exhausted by waiting sessions" },
}

local function value(v) if v ~= pg.null then return v end end

local function connect(ctx)
  local dsn = ctx.params.dsn
  return assert(pg.connect(dsn ~= "" and dsn or nil))
end

S:investigate("Blocked sessions over time", function(ctx)
  -- the book's threshold as Prometheus sees it (an exporter beside the database)
  local value, level, err = thresholds.read(ctx, "blocked_sessions")
  if level == "unknown" then
    ctx:note("Prometheus: " .. tostring(err))
  else
    ctx:log(("Prometheus: %s sessions waiting for a lock (%s)"):format(value, level))
  end
end)

S:investigate("Blocking chains", function(ctx)
  local db <close> = connect(ctx)
  local list = assert(db:blocking_locks())
  local blocked, longest = 0, 0
  for _, c in ipairs(list) do
    for _, line in ipairs(chains.describe(c)) do ctx:log(line) end
    blocked = blocked + #c.blocked
    longest = math.max(longest, c.max_wait_s)
  end
  ctx:check { name = "sessions waiting for a lock", threshold = "blocked_sessions", value = blocked }
  ctx:check { name = "longest lock wait", value = longest, warn = ctx.params.min_wait, crit = 30, unit = "s" }
end)

S:investigate("Long transactions", function(ctx)
  local db <close> = connect(ctx)
  local rows = assert(db:query([[
SELECT pid, usename::text AS usename, state, application_name AS app,
       extract(epoch FROM clock_timestamp() - xact_start)::float8 AS xact_s, left(query, 120) AS query
FROM pg_stat_activity
WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() AND clock_timestamp() - xact_start > $1::interval
ORDER BY xact_start]], ctx.params.long_xact))
  for _, r in ipairs(rows) do
    ctx:log(("pid %d (%s, %s, %s) transaction open %.0f s: %s"):format(r.pid, r.usename, r.app, r.state, r.xact_s, r.query))
  end
  ctx:check { name = "transactions open longer than " .. ctx.params.long_xact, value = #rows, warn = 1, crit = 5 }
end)

S:investigate("Waiting locks", function(ctx)
  local db <close> = connect(ctx)
  for _, l in ipairs(assert(db:locks { granted = false, limit = 50 })) do
    -- NULL columns are pg.null (a transactionid lock has no relation)
    ctx:log(("pid %d waits for %s on %s (%s): %s"):format(l.pid, l.mode, value(l.relation) or l.locktype,
      value(l.state) or "?", value(l.query) or ""))
  end
end)

S:resolve("Cancel the head blocker's statement", function(ctx)
  local db <close> = connect(ctx)
  for _, c in ipairs(chains.to_act_on(db, ctx.params.min_wait)) do
    if c.state == "active" then
      local r = assert(db:cancel_backend(c.pid))
      if r.planned then ctx:log(r.why) end
    else
      ctx:log(("pid %d is %s: it runs no statement to cancel"):format(c.pid, c.state))
    end
  end
end, { risk = "medium", description = "pg_cancel_backend for each head blocker that is running a statement",
  changes = { "the head blocker's statement fails with 'canceling statement due to user request'" } })

S:resolve("Terminate the head blocker", function(ctx)
  local db <close> = connect(ctx)
  local heads = chains.to_act_on(db, ctx.params.min_wait)
  for _, c in ipairs(heads) do
    local r = assert(db:terminate_backend(c.pid))
    if r.planned then ctx:log(r.why) end
  end
  if ctx.mode == "apply" and #heads > 0 then
    local left = chains.wait_gone(db, heads, ctx.params.settle)
    ctx:check { name = "chains still blocked by a terminated head", value = left, warn = 1, crit = 1 }
  end
end, { risk = "high", description = "pg_terminate_backend for each head blocker that still blocks (its transaction rolls back)",
  changes = { "the head blocker's session is disconnected and its transaction rolled back",
    "the sessions it blocked proceed" } })

return S
