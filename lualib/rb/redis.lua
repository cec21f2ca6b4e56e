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
local M = ...
local Conn = M.Conn

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
    return M._fail("redis", "INFO stats has no keyspace_hits/keyspace_misses")
  end
  if hits + misses == 0 then
    return M._fail("nodata", "no keyspace lookups yet: the hit rate is undefined")
  end
  return hits * 100 / (hits + misses), { hits = hits, misses = misses }
end

return M
