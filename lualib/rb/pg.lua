-- rb.pg helpers — the seed runbook's PostgreSQL commands as connection methods
-- (reference: docs/lua/pg.md).
--
-- Extends the C half (engine/bind/pg.c: connect, query, exec, escaping) by
-- adding methods to pg.Conn. Reads go through conn:query (read-only
-- transaction, rolled back); writes through conn:exec (gated: refused in
-- investigate, EXPLAINed or labelled in plan, run once in apply). Every value
-- reaches the server as a $n parameter or through escape_identifier /
-- escape_literal (libpq's PQescapeIdentifier / PQescapeLiteral), never by
-- pasting raw input into SQL.
local M = ...
local rb = require "rb"
local Conn = M.Conn

local function argcheck(cond, n, fname, msg)
  if not cond then error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 3) end
end

-- The one option of a seed helper: opts[key] or def, checked by ok(value).
local function option(opts, fname, key, def, ok, what)
  argcheck(opts == nil or type(opts) == "table", 1, fname, "table expected")
  local v = (opts or {})[key]
  if v == nil then v = def end
  argcheck(ok(v), 1, fname, key .. " must be " .. what)
  return v
end
local function is_string(v) return type(v) == "string" end
local function is_integer(v) return math.type(v) == "integer" end

-- Execs fmt with each %s filled by a value escaped through the connection:
-- exec_escaped(conn, "ANALYZE %s", "identifier", name). A lost connection
-- (escaping needs one) is nil, err like any failed call.
local function exec_escaped(conn, fmt, ...)
  local args, out = table.pack(...), {}
  for i = 1, args.n, 2 do
    local quoted, err = conn["escape_" .. args[i]](conn, args[i + 1])
    if not quoted then return nil, err end
    out[#out + 1] = quoted
  end
  return conn:exec(fmt:format(table.unpack(out)))
end

-- VERB, or VERB "table", or VERB "schema"."table" (each part quoted).
local function exec_on_table(conn, verb, tbl, fname)
  if tbl == nil then return conn:exec(verb) end
  argcheck(type(tbl) == "string" and tbl ~= "", 1, fname, "table name expected")
  local schema, rel = tbl:match("^([^.]+)%.(.+)$")
  if schema then return exec_escaped(conn, verb .. " %s.%s", "identifier", schema, "identifier", rel) end
  return exec_escaped(conn, verb .. " %s", "identifier", tbl)
end

-- pg.connect() with no DSN: the run's "postgres" target (--env/--config),
-- else DATABASE_URL, else libpq's own defaults (PGHOST, PGUSER, ..., service
-- files, ~/.pgpass).
local c_connect = M.connect
function M.connect(dsn, opts)
  if dsn == nil then
    local t = rb.target("postgres")
    dsn = (t ~= nil and t ~= "") and t or ""
  end
  return c_connect(dsn, opts)
end

-- Investigation ------------------------------------------------------------

-- Active queries running longer than opts.older_than (an interval, default
-- "5 minutes"): the seed's query, plus state and duration in seconds.
function Conn:activity(opts)
  local older = option(opts, "activity", "older_than", "5 minutes", is_string, "an interval string")
  return self:query([[
SELECT pid, now() - pg_stat_activity.query_start AS duration,
       extract(epoch FROM now() - pg_stat_activity.query_start)::float8 AS duration_s,
       state, usename, query
FROM pg_stat_activity
WHERE (now() - pg_stat_activity.query_start) > $1::interval
ORDER BY query_start]], older)
end

-- Who blocks whom: the seed's lock analysis query, verbatim.
function Conn:blocking_locks()
  return self:query("SELECT blocked_locks.pid AS blocked_pid, blocked_activity.usename AS blocked_user, blocking_locks.pid AS blocking_pid, blocking_activity.usename AS blocking_user, blocked_activity.query AS blocked_statement, blocking_activity.query AS current_statement_in_blocking_process FROM pg_catalog.pg_locks blocked_locks JOIN pg_catalog.pg_stat_activity blocked_activity ON blocked_activity.pid = blocked_locks.pid JOIN pg_catalog.pg_locks blocking_locks ON blocking_locks.locktype = blocked_locks.locktype AND blocking_locks.DATABASE IS NOT DISTINCT FROM blocked_locks.DATABASE AND blocking_locks.relation IS NOT DISTINCT FROM blocked_locks.relation AND blocking_locks.page IS NOT DISTINCT FROM blocked_locks.page AND blocking_locks.tuple IS NOT DISTINCT FROM blocked_locks.tuple AND blocking_locks.virtualxid IS NOT DISTINCT FROM blocked_locks.virtualxid AND blocking_locks.transactionid IS NOT DISTINCT FROM blocked_locks.transactionid AND blocking_locks.classid IS NOT DISTINCT FROM blocked_locks.classid AND blocking_locks.objid IS NOT DISTINCT FROM blocked_locks.objid AND blocking_locks.objsubid IS NOT DISTINCT FROM blocked_locks.objsubid AND blocking_locks.pid != blocked_locks.pid JOIN pg_catalog.pg_stat_activity blocking_activity ON blocking_activity.pid = blocking_locks.pid WHERE NOT blocked_locks.GRANTED")
end

-- Tables read by sequential scans more than opts.min_seq_scan times (default
-- 1000): the seed's "missing indexes" query.
function Conn:table_scan_stats(opts)
  local min = option(opts, "table_scan_stats", "min_seq_scan", 1000, is_integer, "an integer")
  return self:query([[
SELECT schemaname, relname AS tablename, seq_scan, seq_tup_read, idx_scan, idx_tup_fetch
FROM pg_stat_user_tables WHERE seq_scan > $1 ORDER BY seq_scan DESC]], min)
end

-- Planner statistics of the columns in opts.schema (default "public"): the
-- seed's pg_stats query.
function Conn:column_stats(opts)
  local schema = option(opts, "column_stats", "schema", "public", is_string, "a string")
  return self:query([[
SELECT schemaname, tablename, attname, n_distinct, correlation
FROM pg_stats WHERE schemaname = $1 ORDER BY n_distinct DESC]], schema)
end

-- Server settings by name: settings("work_mem", "shared_buffers") ->
-- { work_mem = {name, setting, unit, source, pending_restart, ...}, ... };
-- with no names, every setting.
function Conn:settings(...)
  local names = table.pack(...)
  for i = 1, names.n do
    argcheck(type(names[i]) == "string", i, "settings", "setting name expected")
  end
  local sql = [[
SELECT name, setting, unit, current_setting(name) AS value, source, boot_val, reset_val,
       pending_restart
FROM pg_settings]]
  local res, err
  if names.n == 0 then
    res, err = self:query(sql)
  else
    res, err = self:query(sql .. " WHERE name = ANY(string_to_array($1, ','))",
      table.concat(names, ","))
  end
  if not res then return nil, err end
  local by_name = {}
  for _, row in ipairs(res) do by_name[row.name] = row end
  return by_name
end

-- Resolution (writes: through conn:exec and the gate) ------------------------

-- ANALYZE [table]: refresh planner statistics.
function Conn:analyze(tbl)
  return exec_on_table(self, "ANALYZE", tbl, "analyze")
end

-- VACUUM ANALYZE [table].
function Conn:vacuum_analyze(tbl)
  return exec_on_table(self, "VACUUM ANALYZE", tbl, "vacuum_analyze")
end

-- A setting as ALTER SYSTEM left it: {name, in_auto_conf, value, source}.
-- in_auto_conf: postgresql.auto.conf sets it; value: what it sets there, or
-- else the value in force. From pg_file_settings (the file itself) when the
-- role may read it, else from pg_settings (the configuration loaded).
function Conn:auto_conf(name)
  argcheck(type(name) == "string" and name ~= "", 1, "auto_conf", "setting name expected")
  name = name:lower()
  local rows = self:query([[
SELECT setting AS value FROM pg_file_settings
WHERE name = $1 AND sourcefile LIKE '%/postgresql.auto.conf' AND error IS NULL
ORDER BY seqno DESC LIMIT 1]], name)
  if rows then
    local r = rows[1]
    return { name = name, in_auto_conf = r ~= nil, value = r and r.value or nil, source = "pg_file_settings" }
  end
  local res, err = self:query([[
SELECT current_setting(name) AS value, coalesce(sourcefile LIKE '%/postgresql.auto.conf', false) AS in_auto_conf
FROM pg_settings WHERE name = $1]], name)
  if not res then return nil, err end
  local r = res[1] or {}   -- an unknown name: ALTER SYSTEM itself will say so
  return { name = name, in_auto_conf = r.in_auto_conf == true or r.in_auto_conf == "t", value = r.value,
    source = "pg_settings" }
end

-- ALTER SYSTEM SET name = 'value' (value nil: ALTER SYSTEM RESET name). Takes
-- effect after reload_conf() (or a restart, for settings such as shared_buffers).
-- The setting before (auto_conf) is kept with the write for `runbook undo`.
function Conn:alter_system(name, value)
  argcheck(type(name) == "string" and name:match("^[%a_][%w_.]*$"), 1, "alter_system",
    "setting name expected")
  local t = type(value)
  argcheck(value == nil or t == "string" or t == "number" or t == "boolean", 2, "alter_system",
    "string, number or boolean expected")
  local was, err = self:auto_conf(name)
  require("rb._before").set({ binding = "pg", setting = name:lower(),
    in_auto_conf = was and was.in_auto_conf, value = was and was.value, source = was and was.source,
    to = value ~= nil and tostring(value) or nil, reset = value == nil,
    cannot = not was and ("the setting before could not be read: " .. tostring(err)) or nil })
  if value == nil then return exec_escaped(self, "ALTER SYSTEM RESET %s", "identifier", name:lower()) end
  return exec_escaped(self, "ALTER SYSTEM SET %s = %s", "identifier", name:lower(),
    "literal", tostring(value))
end

-- SELECT pg_reload_conf(): the server re-reads its configuration.
function Conn:reload_conf()
  return self:exec("SELECT pg_reload_conf()")
end

return M
