-- rb.redis helpers, written over the C core (engine/bind/redis.c): the
-- seed's Redis investigations as connection methods. Every helper goes
-- through conn:call / conn:pipeline, so the gate sees each command.
--
--   conn:info(section)          -> {field = value, db0 = {keys = 1, ...}}
--   conn:slowlog(n)             -> {{id, time, duration_us, command, client, name}, ...}
--   conn:config_get(pattern)    -> {name = value}
--   conn:config_set(name, v)    -> {ok = "OK"} | {planned = true}   (a write; the value
--                                  before, read with CONFIG GET, is kept for `runbook undo`)
--   conn:scan{match, count, type} -> iterator over keys (SCAN, never KEYS)
--   conn:ttl_census{match, sample, count, limit} -> {scanned, no_ttl, with_ttl, sample}
--   conn:hit_rate()             -> percent, {hits, misses} | nil, err
--   conn:rates{window = 10}     -> per-second rates over a window (INFO stats sampled twice)
--   conn:bigkeys{count, top, match, type, time_limit} -> biggest keys by type-specific size
--   conn:memkeys{count, top, match, type, time_limit, samples} -> biggest keys by MEMORY USAGE
--   conn:latency_latest() / conn:latency_history(event) / conn:latency_reset(...) (a write)
--   redis.connect()             -> the run's "redis" target, or nil, err{kind = "config"}
local M = ...
local rb = require "rb"
local new_error = require("rb.json").error   -- the one error constructor
local Conn = M.Conn

local function fail(kind, message, fields) return nil, new_error(kind, message, fields) end

-- redis.connect() with no URL: the run's "redis" target (--env/--config, else
-- REDIS_URL); with none, nil, err{kind = "config"} like pg.connect() and prom.client().
local c_connect = M.connect
function M.connect(url, opts)
  if url == nil then
    url = rb.target("redis")
    if url == nil or url == "" then
      return fail("config", "rb.redis: no Redis server configured: set redis in --env/--config or REDIS_URL, "
        .. "or pass a URL to redis.connect")
    end
  end
  return c_connect(url, opts)
end

local function check_opt(opts, name, want, level)
  local v = opts[name]
  if v ~= nil and type(v) ~= want then
    error(("bad option '%s' (%s expected, got %s)"):format(name, want, type(v)), level + 1)
  end
  return v
end

local function check_opts(opts, fname)
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #1 to '%s' (table expected, got %s)"):format(fname, type(opts)), 3)
  end
  return opts or {}
end

function Conn:info(section)
  if section ~= nil and type(section) ~= "string" then
    error(("bad argument #1 to 'info' (string expected, got %s)"):format(type(section)), 2)
  end
  local text, err
  if section then text, err = self:call("INFO", section) else text, err = self:call("INFO") end
  if not text then return nil, err end
  return M.parse_info(text)
end

-- SLOWLOG GET entries: {id, timestamp, duration in microseconds, {argv...},
-- client address, client name} (the last two since Redis 4).
function Conn:slowlog(n)
  n = n or 10
  if math.type(n) ~= "integer" or n < 0 then
    error("bad argument #1 to 'slowlog' (non-negative integer expected)", 2)
  end
  local entries, err = self:call("SLOWLOG", "GET", n)
  if not entries then return nil, err end
  local out = {}
  for i, e in ipairs(entries) do
    out[i] = { id = e[1], time = e[2], duration_us = e[3], command = e[4],
               client = e[5] or "", name = e[6] or "" }
  end
  return out
end

function Conn:config_get(pattern)
  if type(pattern) ~= "string" then
    error(("bad argument #1 to 'config_get' (string expected, got %s)"):format(type(pattern)), 2)
  end
  local flat, err = self:call("CONFIG", "GET", pattern)
  if not flat then return nil, err end
  local out = {}
  for i = 1, #flat, 2 do out[flat[i]] = flat[i + 1] end
  return out
end

function Conn:config_set(name, value)
  if type(name) ~= "string" then
    error(("bad argument #1 to 'config_set' (string expected, got %s)"):format(type(name)), 2)
  end
  local vt = type(value)
  if vt ~= "string" and vt ~= "number" then
    error(("bad argument #2 to 'config_set' (string or number expected, got %s)"):format(vt), 2)
  end
  -- the value before (CONFIG GET), kept with the write for `runbook undo`
  local cur, err = self:config_get(name)
  local was = cur and cur[name:lower()]
  require("rb._before").set({ binding = "redis", parameter = name:lower(), value = was,
    cannot = was == nil and ("CONFIG GET %s gave no value (%s)"):format(name, err or "unknown parameter") or nil })
  return self:call("CONFIG", "SET", name, value)
end

-- SCAN arguments from {match, count, type}.
local function scan_args(opts)
  local args = {}
  local match, count, kind = check_opt(opts, "match", "string", 3),
    check_opt(opts, "count", "number", 3), check_opt(opts, "type", "string", 3)
  if match then args[#args + 1] = "MATCH"; args[#args + 1] = match end
  if count then args[#args + 1] = "COUNT"; args[#args + 1] = math.tointeger(count) or count end
  if kind then args[#args + 1] = "TYPE"; args[#args + 1] = kind end
  return args
end

-- One SCAN page: next cursor, keys. Raises the err table on failure (inside
-- for-loops there is no other way to stop with a reason).
local function scan_page(conn, cursor, args)
  local r, err = conn:call("SCAN", cursor, table.unpack(args))
  if not r then error(err, 0) end
  return r[1], r[2]
end

-- for key in conn:scan{match = "user:*", count = 1000} do ... end
-- SCAN guarantees every key present for the whole iteration is seen; a key
-- can be seen twice while Redis resizes its tables.
function Conn:scan(opts)
  local args = scan_args(check_opts(opts, "scan"))
  local cursor, keys, i, done = "0", {}, 0, false
  return function()
    while true do
      i = i + 1
      if keys[i] ~= nil then return keys[i] end
      if done then return nil end
      cursor, keys = scan_page(self, cursor, args)
      i, done = 0, cursor == "0"
    end
  end
end

-- Keys without a TTL (the seed's `--scan | TTL | grep -c "^-1$"`): SCAN pages,
-- one pipelined TTL per page. sample: how many key names without TTL to keep
-- (default 10); limit: stop after this many keys (default: all).
function Conn:ttl_census(opts)
  opts = check_opts(opts, "ttl_census")
  local want = check_opt(opts, "sample", "number", 2) or 10
  local limit = check_opt(opts, "limit", "number", 2)
  local args = scan_args({ match = opts.match, type = opts.type, count = opts.count or 1000 })
  local out = { scanned = 0, no_ttl = 0, with_ttl = 0, sample = {} }
  local cursor = "0"
  repeat
    local ok, next_cursor, keys = pcall(scan_page, self, cursor, args)
    if not ok then return nil, next_cursor end
    cursor = next_cursor
    local cmds = {}
    for i, k in ipairs(keys) do cmds[i] = { "TTL", k } end
    local ttls, err = self:pipeline(cmds)
    if not ttls then return nil, err end
    for i, ttl in ipairs(ttls) do
      out.scanned = out.scanned + 1
      if ttl == -1 then
        out.no_ttl = out.no_ttl + 1
        if #out.sample < want then out.sample[#out.sample + 1] = keys[i] end
      elseif math.type(ttl) == "integer" and ttl >= 0 then
        out.with_ttl = out.with_ttl + 1
      end
    end
    if limit and out.scanned >= limit then break end
  until cursor == "0"
  return out
end

-- Keyspace hit rate in percent from INFO stats (since start or CONFIG
-- RESETSTAT), with the counts; nil, err{kind = "nodata"} when nothing was
-- looked up yet.
function Conn:hit_rate()
  local stats, err = self:info("stats")
  if not stats then return nil, err end
  local hits, misses = stats.keyspace_hits, stats.keyspace_misses
  if type(hits) ~= "number" or type(misses) ~= "number" then
    return fail("redis", "INFO stats has no keyspace_hits/keyspace_misses")
  end
  if hits + misses == 0 then
    return fail("nodata", "no keyspace lookups yet: the hit rate is undefined")
  end
  return hits * 100 / (hits + misses), { hits = hits, misses = misses }
end

local function bad_option(fname, name, what)
  error(("bad option '%s' to '%s' (%s)"):format(name, fname, what), 4)   -- bad_option <- bounded/known_options <- the method <- its caller
end

-- A number option in [lo, hi] (integers only when int), or def.
local function bounded(opts, fname, name, def, lo, hi, int)
  local v = opts[name]
  if v == nil then return def end
  if type(v) ~= "number" or (int and math.type(v) ~= "integer") or v < lo or v > hi or v ~= v then
    bad_option(fname, name, ("%s in [%s, %s] expected"):format(int and "integer" or "number", lo, hi))
  end
  return v
end

local function known_options(opts, fname, allowed)
  for k in pairs(opts) do
    if not allowed[k] then bad_option(fname, tostring(k), "unknown option") end
  end
end

-- Server clock (TIME) and INFO stats in one round trip.
local function stats_now(conn)
  local r, err = conn:pipeline { { "TIME" }, { "INFO", "stats" } }
  if not r then return nil, err end
  for i = 1, 2 do
    if type(r[i]) == "table" and r[i].kind then return nil, r[i] end
  end
  return { t = tonumber(r[1][1]) + tonumber(r[1][2]) / 1e6, stats = M.parse_info(r[2]) }
end

local RATE_FIELDS = {
  evictions_per_s = "evicted_keys", expired_per_s = "expired_keys", hits_per_s = "keyspace_hits",
  misses_per_s = "keyspace_misses", commands_per_s = "total_commands_processed",
  connections_per_s = "total_connections_received", rejected_per_s = "rejected_connections",
}

--- conn:rates{window = 10} -> {window_s, evictions_per_s, expired_per_s, hits_per_s,
--- misses_per_s, commands_per_s, connections_per_s, rejected_per_s, hit_rate, lookups, reset}
-- INFO stats sampled twice, window seconds apart (the server's clock measures
-- the interval): rates over the window, not totals since start. hit_rate is a
-- percent, nil when nothing was looked up in the window. reset: a counter
-- went down (CONFIG RESETSTAT or a restart): the rates are not trustworthy.
function Conn:rates(opts)
  opts = check_opts(opts, "rates")
  known_options(opts, "rates", { window = true })
  local window = bounded(opts, "rates", "window", 10, 0.1, 300, false)
  local a, err = stats_now(self)
  if not a then return nil, err end
  rb.sleep(window)
  local b, err2 = stats_now(self)
  if not b then return nil, err2 end
  local dt = b.t - a.t
  if dt <= 0 then return fail("redis", "the server's clock did not advance over the window") end
  local out = { window_s = dt, reset = false }
  for name, field in pairs(RATE_FIELDS) do
    local x, y = a.stats[field], b.stats[field]
    if type(x) == "number" and type(y) == "number" then
      if y < x then out.reset = true end
      out[name] = math.max(0, y - x) / dt
    end
  end
  local hits = (b.stats.keyspace_hits or 0) - (a.stats.keyspace_hits or 0)
  local misses = (b.stats.keyspace_misses or 0) - (a.stats.keyspace_misses or 0)
  out.lookups = math.max(0, hits + misses)
  if hits >= 0 and misses >= 0 and hits + misses > 0 then out.hit_rate = hits * 100 / (hits + misses) end
  return out
end

-- Size of a key by type, as redis-cli --bigkeys measures it.
local SIZE_OF = {
  string = { "STRLEN", "bytes" }, list = { "LLEN", "items" }, set = { "SCARD", "members" },
  zset = { "ZCARD", "members" }, hash = { "HLEN", "fields" }, stream = { "XLEN", "entries" },
}

local SAMPLE_OPTIONS = { count = true, top = true, match = true, type = true, time_limit = true, samples = true }

-- Sampling bounds shared by bigkeys and memkeys.
local function sample_opts(opts, fname)
  opts = check_opts(opts, fname)
  known_options(opts, fname, SAMPLE_OPTIONS)
  return {
    count = bounded(opts, fname, "count", 1000, 1, 1000000, true),
    top = bounded(opts, fname, "top", 10, 1, 1000, true),
    time_limit = bounded(opts, fname, "time_limit", 5, 0.1, 300, false),
    samples = bounded(opts, fname, "samples", 5, 0, 10000, true),
    scan = scan_args({ match = check_opt(opts, "match", "string", 2), type = check_opt(opts, "type", "string", 2),
      count = 100 }),
  }
end

-- Pipelines the commands and fails with the first error reply.
local function pipeline_ok(conn, cmds)
  if #cmds == 0 then return {} end
  local r, err = conn:pipeline(cmds)
  if not r then return nil, err end
  return r
end

-- SCAN pages, measuring each page's keys with measure(conn, keys) ->
-- {{key, type, size, unit}} | nil, err, until count keys, time_limit seconds
-- (server clock) or the end of the keyspace.
local function sample_keys(conn, o, measure)
  local out = { scanned = 0, complete = false, by_type = {}, top = {} }
  local cursor, start = "0", nil
  repeat
    local page, err = conn:pipeline { { "TIME" }, { "SCAN", cursor, table.unpack(o.scan) } }
    if not page then return nil, err end
    if page[2].kind then return nil, page[2] end
    local now = tonumber(page[1][1]) + tonumber(page[1][2]) / 1e6
    start = start or now
    if now - start > o.time_limit then out.stopped = "time_limit"; break end
    cursor = page[2][1]
    local keys, left = {}, false
    for _, k in ipairs(page[2][2]) do
      if out.scanned + #keys >= o.count then left = true; break end
      keys[#keys + 1] = k
    end
    local sizes, merr = measure(conn, keys, o)
    if not sizes then return nil, merr end
    for _, s in ipairs(sizes) do
      local t = out.by_type[s.type] or { keys = 0, total = 0, unit = s.unit }
      out.by_type[s.type] = t
      t.keys, t.total = t.keys + 1, t.total + s.size
      if not t.biggest or s.size > t.biggest.size then t.biggest = s end
      out.top[#out.top + 1] = s
    end
    out.scanned = out.scanned + #keys
    table.sort(out.top, function(x, y) return x.size > y.size end)
    for i = #out.top, o.top + 1, -1 do out.top[i] = nil end
    if out.scanned >= o.count and (left or cursor ~= "0") then out.stopped = "count"; break end
  until cursor == "0"
  out.complete = cursor == "0" and out.stopped == nil
  return out
end

local function measure_by_type(conn, keys)
  local cmds = {}
  for i, k in ipairs(keys) do cmds[i] = { "TYPE", k } end
  local types, err = pipeline_ok(conn, cmds)
  if not types then return nil, err end
  local size_cmds, which = {}, {}
  for i, t in ipairs(types) do
    local how = type(t) == "table" and SIZE_OF[t.ok]
    if how then
      size_cmds[#size_cmds + 1] = { how[1], keys[i] }
      which[#which + 1] = { key = keys[i], type = t.ok, unit = how[2] }
    end
  end
  local sizes, serr = pipeline_ok(conn, size_cmds)
  if not sizes then return nil, serr end
  local out = {}
  for i, w in ipairs(which) do
    if math.type(sizes[i]) == "integer" then w.size = sizes[i]; out[#out + 1] = w end
  end
  return out
end

local function measure_memory(conn, keys, o)
  local cmds = {}
  for i, k in ipairs(keys) do
    cmds[2 * i - 1] = { "TYPE", k }
    cmds[2 * i] = { "MEMORY", "USAGE", k, "SAMPLES", o.samples }
  end
  local r, err = pipeline_ok(conn, cmds)
  if not r then return nil, err end
  local out = {}
  for i, k in ipairs(keys) do
    local t, size = r[2 * i - 1], r[2 * i]
    if type(t) == "table" and t.ok and t.ok ~= "none" and math.type(size) == "integer" then
      out[#out + 1] = { key = k, type = t.ok, size = size, unit = "bytes" }
    end
  end
  return out
end

--- conn:bigkeys{count = 1000, top = 10, match?, type?, time_limit = 5} ->
--- {scanned, complete, stopped, top = {{key, type, size, unit}}, by_type = {T = {keys, total, unit, biggest}}}
-- redis-cli --bigkeys as a sample: SCAN (never KEYS), then TYPE and the
-- type's length command (STRLEN, LLEN, SCARD, ZCARD, HLEN, XLEN) pipelined per
-- page. Stops after count keys or time_limit seconds (stopped says which).
function Conn:bigkeys(opts)
  return sample_keys(self, sample_opts(opts, "bigkeys"), measure_by_type)
end

--- conn:memkeys{count = 1000, top = 10, match?, type?, time_limit = 5, samples = 5} -> as bigkeys, sizes in bytes
-- redis-cli --memkeys: MEMORY USAGE key SAMPLES samples for each sampled key.
function Conn:memkeys(opts)
  return sample_keys(self, sample_opts(opts, "memkeys"), measure_memory)
end

--- conn:latency_latest() -> {{event, time, latest_ms, max_ms}, ...} (LATENCY LATEST)
function Conn:latency_latest()
  local r, err = self:call("LATENCY", "LATEST")
  if not r then return nil, err end
  local out = {}
  for i, e in ipairs(r) do
    out[i] = { event = e[1], time = e[2], latest_ms = e[3], max_ms = e[4] }
  end
  return out
end

--- conn:latency_history(event) -> {{time, ms}, ...} (LATENCY HISTORY, oldest first)
function Conn:latency_history(event)
  if type(event) ~= "string" or event == "" then
    error("bad argument #1 to 'latency_history' (event name expected, e.g. \"command\")", 2)
  end
  local r, err = self:call("LATENCY", "HISTORY", event)
  if not r then return nil, err end
  local out = {}
  for i, e in ipairs(r) do out[i] = { time = e[1], ms = e[2] } end
  return out
end

--- conn:latency_reset(event, ...) -> number of events reset | {planned = true}: a write
-- (refused in investigate, planned in plan mode, sent once when applied);
-- with no event, every event is reset.
function Conn:latency_reset(...)
  local events = table.pack(...)
  for i = 1, events.n do
    if type(events[i]) ~= "string" then
      error(("bad argument #%d to 'latency_reset' (event name expected)"):format(i), 2)
    end
  end
  return self:call("LATENCY", "RESET", ...)
end

return M
