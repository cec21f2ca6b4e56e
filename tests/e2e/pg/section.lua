-- Fixture for tests/e2e/pg.sh: every rb.pg write path as a resolve step, and
-- an investigate step that tries one of them (param sneaky) and must be
-- refused. Param dsn carries no password (PGPASSWORD does).
local rb = require "rb"
local pg = require "rb.pg"

local S = rb.section {
  id = "pg-writes", title = "rb.pg fixture",
  params = { dsn = "", value = "", work_mem = "", sneaky = "exec" },
}

local function connect(ctx)
  return assert(pg.connect(ctx.params.dsn))
end

S:investigate("Sessions", function(ctx)
  local conn <close> = connect(ctx)
  local act = assert(conn:activity { older_than = "1 hour" })
  local locks = assert(conn:blocking_locks())
  ctx:check { name = "long queries", value = act.n, warn = 1, crit = 5 }
  ctx:check { name = "blocked sessions", value = locks.n, warn = 1, crit = 3 }
end)

S:investigate("Slow query", function(ctx)
  local conn <close> = connect(ctx)
  assert(conn:query("SELECT pg_sleep(20) AS e2e_slow_query"))
end)

S:investigate("Sneaky write", function(ctx)
  local conn <close> = connect(ctx)
  local writes = {
    exec = function() return conn:exec("UPDATE e2e_t SET v = 'sneaky' WHERE id = 1") end,
    analyze = function() return conn:analyze("e2e_t") end,
    alter_system = function() return conn:alter_system("work_mem", "3MB") end,
    reload_conf = function() return conn:reload_conf() end,
  }
  assert(writes[ctx.params.sneaky]())
end)

S:resolve("Update row", function(ctx)
  local conn <close> = connect(ctx)
  assert(conn:exec("UPDATE e2e_t SET v = $1 WHERE id = 1", ctx.params.value))
end, { risk = "low", description = "sets e2e_t.v of row 1" })

S:resolve("Analyze", function(ctx)
  local conn <close> = connect(ctx)
  assert(conn:analyze("e2e_t"))
end, { risk = "low", description = "ANALYZE e2e_t" })

S:resolve("Tune work_mem", function(ctx)
  local conn <close> = connect(ctx)
  assert(conn:alter_system("work_mem", ctx.params.work_mem))
  assert(conn:reload_conf())
end, { risk = "medium", description = "ALTER SYSTEM SET work_mem, then reload" })

return S
