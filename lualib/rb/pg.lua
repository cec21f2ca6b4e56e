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
local new_error = require("rb.json").error   -- the one error constructor
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
-- else DATABASE_URL, else libpq's own environment when it names a server
-- (PGHOST, PGHOSTADDR or PGSERVICE; the rest of libpq's defaults, PGUSER,
-- ~/.pgpass, service files, still apply). With none of them: nil,
-- err{kind = "config"}, like redis.connect() and prom.client().
local c_connect = M.connect
local LIBPQ_SERVER_ENV = { "PGHOST", "PGHOSTADDR", "PGSERVICE" }
local function libpq_configured()
  for _, k in ipairs(LIBPQ_SERVER_ENV) do
    local v = os.getenv(k)
    if v and v ~= "" then return true end
  end
  return false
end

function M.connect(dsn, opts)
  if dsn == nil then
    local t = rb.target("postgres")
    if (t == nil or t == "") and not libpq_configured() then
      return nil, new_error("config", "rb.pg: no PostgreSQL server configured: set postgres in --env/--config, "
        .. "DATABASE_URL, or libpq's PGHOST/PGSERVICE, or pass a DSN to pg.connect")
    end
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

-- Every wait edge: a blocked session and one session it waits for
-- (pg_blocking_pids: lock holders and sessions ahead in the queue), with both
-- sides' activity. Times are seconds; waiting_since is when the lock wait
-- began (pg_locks.waitstart), else when the session entered its state.
local WAIT_EDGES = [[
WITH waiting AS (
  SELECT a.pid, a.usename::text AS usename, a.query, a.state,
         coalesce((SELECT min(l.waitstart) FROM pg_catalog.pg_locks l WHERE l.pid = a.pid AND NOT l.granted),
                  a.state_change) AS since,
         pg_blocking_pids(a.pid) AS blockers
  FROM pg_catalog.pg_stat_activity a
  WHERE a.wait_event_type = 'Lock')
SELECT w.pid AS blocked_pid, w.usename AS blocked_user, w.query AS blocked_query, w.since::text AS waiting_since,
       extract(epoch FROM clock_timestamp() - w.since)::float8 AS waiting_s,
       h.pid AS blocker_pid, h.usename::text AS blocker_user, h.state AS blocker_state, h.query AS blocker_query,
       h.application_name AS blocker_app, h.wait_event_type AS blocker_wait, h.xact_start::text AS blocker_xact_start,
       extract(epoch FROM clock_timestamp() - h.xact_start)::float8 AS blocker_xact_s,
       extract(epoch FROM clock_timestamp() - h.state_change)::float8 AS blocker_state_s
FROM waiting w
CROSS JOIN LATERAL unnest(w.blockers) AS b(pid)
JOIN pg_catalog.pg_stat_activity h ON h.pid = b.pid
ORDER BY w.since, w.pid, h.pid]]

-- The sessions under head (breadth first): each once, with its depth.
local function victims(head, edges_to)
  local out, seen, queue = {}, { [head] = true }, { { head, 0 } }
  local i = 1
  while queue[i] do
    local pid, depth = queue[i][1], queue[i][2]
    i = i + 1
    for _, e in ipairs(edges_to[pid] or {}) do
      if not seen[e.blocked_pid] then
        seen[e.blocked_pid] = true
        out[#out + 1] = { pid = e.blocked_pid, user = e.blocked_user, query = e.blocked_query,
          waiting_since = e.waiting_since, waiting_s = e.waiting_s, blocked_by = pid, depth = depth + 1 }
        queue[#queue + 1] = { e.blocked_pid, depth + 1 }
      end
    end
  end
  return out
end

-- Heads: blockers that wait for nobody; in a cycle (a deadlock before the
-- server breaks it) every member of it waits, so its lowest pid stands for it.
local function heads_of(edges)
  local blocked, heads, seen = {}, {}, {}
  for _, e in ipairs(edges) do blocked[e.blocked_pid] = true end
  for _, e in ipairs(edges) do
    if not blocked[e.blocker_pid] and not seen[e.blocker_pid] then
      seen[e.blocker_pid] = true
      heads[#heads + 1] = e
    end
  end
  if #heads == 0 and #edges > 0 then
    local low = edges[1]
    for _, e in ipairs(edges) do if e.blocker_pid < low.blocker_pid then low = e end end
    heads[1] = low
  end
  return heads
end

--- conn:blocking_locks() -> { n, [i] = chain } | nil, err: one chain per head
-- blocker (a session others wait for that waits for no one): {pid, user,
-- state, query, application, xact_start, xact_age_s, state_age_s,
-- max_wait_s, blocked = { {pid, user, query, waiting_since, waiting_s,
-- blocked_by, depth}, ... }}, the longest-waiting chains first.
function Conn:blocking_locks()
  local edges, err = self:query(WAIT_EDGES)
  if not edges then return nil, err end
  local edges_to = {}
  for _, e in ipairs(edges) do
    local l = edges_to[e.blocker_pid] or {}
    edges_to[e.blocker_pid] = l
    l[#l + 1] = e
  end
  local out = { n = 0, edges = edges.n }
  for _, h in ipairs(heads_of(edges)) do
    local chain = { pid = h.blocker_pid, user = h.blocker_user, state = h.blocker_state, query = h.blocker_query,
      application = h.blocker_app, xact_start = h.blocker_xact_start, xact_age_s = h.blocker_xact_s,
      state_age_s = h.blocker_state_s, blocked = victims(h.blocker_pid, edges_to), max_wait_s = 0 }
    if M.isnull(chain.xact_age_s) then chain.xact_age_s = nil end
    for _, v in ipairs(chain.blocked) do
      if type(v.waiting_s) == "number" and v.waiting_s > chain.max_wait_s then chain.max_wait_s = v.waiting_s end
    end
    out.n = out.n + 1
    out[out.n] = chain
  end
  table.sort(out, function(a, b) return a.max_wait_s > b.max_wait_s end)
  return out
end

local LOCK_FILTERS = {
  pid = "l.pid = $%d", relation = "l.relation = to_regclass($%d)", mode = "l.mode = $%d",
  locktype = "l.locktype = $%d", granted = "l.granted = $%d",
}

--- conn:locks{relation?, pid?, mode?, locktype?, granted?, limit? = 200} -> rows | nil, err
-- pg_locks joined with pg_stat_activity: {pid, locktype, relation, mode,
-- granted, waitstart, usename, state, query, xact_age_s}, waiting locks first.
function Conn:locks(opts)
  argcheck(opts == nil or type(opts) == "table", 1, "locks", "table expected")
  opts = opts or {}
  local where, args = {}, {}
  for k in pairs(opts) do
    argcheck(LOCK_FILTERS[k] or k == "limit", 1, "locks", ("unknown option '%s'"):format(tostring(k)))
  end
  for _, k in ipairs { "pid", "relation", "mode", "locktype", "granted" } do
    local v = opts[k]
    if v ~= nil then
      local want = (k == "pid" and "integer") or (k == "granted" and "boolean") or "string"
      argcheck((want == "integer" and math.type(v) == "integer") or type(v) == want, 1, "locks",
        ("%s must be a%s %s"):format(k, want == "integer" and "n" or "", want))
      args[#args + 1] = v
      where[#where + 1] = LOCK_FILTERS[k]:format(#args)
    end
  end
  local limit = opts.limit or 200
  argcheck(math.type(limit) == "integer" and limit > 0 and limit <= 10000, 1, "locks", "limit must be an integer in 1..10000")
  args[#args + 1] = limit
  return self:query(([[
SELECT l.pid, l.locktype, l.relation::regclass::text AS relation, l.mode, l.granted, l.waitstart::text AS waitstart,
       a.usename::text AS usename, a.state, a.query,
       extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS xact_age_s
FROM pg_catalog.pg_locks l LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
WHERE l.pid <> pg_backend_pid()%s
ORDER BY l.granted, l.waitstart NULLS LAST, l.pid
LIMIT $%d]]):format(#where > 0 and (" AND " .. table.concat(where, " AND ")) or "", #args), table.unpack(args))
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
