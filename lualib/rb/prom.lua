-- rb.prom — Prometheus HTTP API client (reference: docs/lua/prom.md).
--
-- Extends the C half (engine/bind/prom.c: quote, quote_regex, sparkline and
-- the private batch transport) with clients, result tables and errors.
-- Every call is a read; a batch (query_many) costs one round trip.
local M = ...
local cjson = require "cjson"
local rb = require "rb"
local new_error = require("rb.json").error   -- the one error constructor

local perform, check_conn, base_of = M._perform, M._check, M._base
M._perform, M._check, M._base = nil, nil, nil

local NAN, INF = 0 / 0, math.huge
local SPECIAL = { NaN = NAN, ["+Inf"] = INF, ["-Inf"] = -INF }

-- Prometheus sends sample values as strings; "NaN" and "±Inf" included.
local function num(s)
  local n = tonumber(s) or SPECIAL[s]
  if n == nil then error(("sample value %q is not a number"):format(tostring(s)), 0) end
  return n
end

local function pair(p)
  if type(p) ~= "table" then error("sample is not a [time, value] pair", 0) end
  return p[1], num(p[2])
end

local function argcheck(cond, n, fname, msg)
  if not cond then error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 3) end
end

local function fail(kind, message, fields)
  return nil, new_error(kind, message, fields)
end

-- Times: unix seconds (number) or RFC 3339 (string); durations: seconds or "5m".
local function fmt_time(t)
  if math.type(t) == "integer" then return ("%d"):format(t) end
  if type(t) == "number" then return ("%.3f"):format(t) end
  return tostring(t)
end

local function fmt_duration(d)
  if math.type(d) == "integer" then return ("%d"):format(d) end
  return type(d) == "number" and ("%.17g"):format(d) or tostring(d)
end

---------------------------------------------------------------------------
-- Responses

local function first_line(s)
  return (s:match("^[^\r\n]*") or ""):sub(1, 120)
end

-- slot (from _perform) -> data, warnings | nil, err
local function decode(slot)
  if slot.kind then return nil, slot end   -- transport error, already an rb.Error
  local ok, doc = pcall(cjson.decode, slot.body)
  if not ok or type(doc) ~= "table" or (doc.status ~= "success" and doc.status ~= "error") then
    if slot.status >= 400 then
      return fail("http", ("HTTP %d from %s: %s"):format(slot.status, slot.url, first_line(slot.body)),
                  { status = slot.status, url = slot.url })
    end
    return fail("parse", ("%s did not answer with Prometheus JSON (HTTP %d, %s): %s"):format(
                slot.url, slot.status, slot.content_type, first_line(slot.body)),
                { status = slot.status, url = slot.url })
  end
  if doc.status == "error" then
    return fail("prom", ("%s: %s"):format(doc.errorType or "error", doc.error or "?"),
                { type = doc.errorType, status = slot.status, url = slot.url,
                  warnings = doc.warnings })
  end
  if type(doc.data) ~= "table" then
    return fail("parse", slot.url .. " answered success without data", { status = slot.status, url = slot.url })
  end
  return doc.data, doc.warnings
end

local function sample(s)
  local t, v = pair(s.value)
  return { metric = s.metric, value = v, time = t }
end

local function series(s)
  local values = {}
  for i, p in ipairs(s.values) do values[i] = { pair(p) } end
  return { metric = s.metric, values = values }
end

-- data of /query or /query_range -> {type, warnings, [i] = sample | series} or {type, value, time}
local function result(data, warnings)
  local out = { type = data.resultType, warnings = warnings or {} }
  local r = data.result
  if out.type == "vector" then
    for i, s in ipairs(r) do out[i] = sample(s) end
  elseif out.type == "matrix" then
    for i, s in ipairs(r) do out[i] = series(s) end
  elseif out.type == "scalar" then
    out.time, out.value = pair(r)
  else   -- string
    out.value, out.time = r[2], r[1]
  end
  return out
end

-- A plain list (labels, label values, series) with the warnings beside it.
local function list(data, warnings)
  local out = { warnings = warnings or {} }
  for i, v in ipairs(data) do out[i] = v end
  return out
end

---------------------------------------------------------------------------
-- Requests: {op, params = {{name, value}, ...}, label?, convert}

local function query_req(q, opts, fname)
  argcheck(type(q) == "string", 1, fname, "PromQL string expected")
  local p = { { "query", q } }
  if opts.time then p[#p + 1] = { "time", fmt_time(opts.time) } end
  if opts.timeout then p[#p + 1] = { "timeout", fmt_duration(opts.timeout) } end
  return { op = "query", params = p, convert = result }
end

local function range_req(q, opts, fname)
  argcheck(type(q) == "string", 1, fname, "PromQL string expected")
  local stop = opts.stop or os.time()
  local start = opts.start or (type(stop) == "number" and stop - 3600)
  argcheck(start, 2, fname, "start missing (stop is not a number)")
  local step = opts.step
  if not step then
    argcheck(type(start) == "number" and type(stop) == "number", 2, fname, "step missing")
    step = math.max(1, (stop - start) // 120)
  end
  local p = { { "query", q }, { "start", fmt_time(start) }, { "end", fmt_time(stop) },
              { "step", fmt_duration(step) } }
  if opts.timeout then p[#p + 1] = { "timeout", fmt_duration(opts.timeout) } end
  return { op = "query_range", params = p, convert = result }
end

local function add_window(p, opts)
  if opts.start then p[#p + 1] = { "start", fmt_time(opts.start) } end
  if opts.stop then p[#p + 1] = { "end", fmt_time(opts.stop) } end
  local m = opts.match
  for _, sel in ipairs(type(m) == "string" and { m } or m or {}) do p[#p + 1] = { "match[]", sel } end
  return p
end

---------------------------------------------------------------------------
-- Clients

local Client = { __name = "rb.prom.Client" }
Client.__index = Client
local conns = setmetatable({}, { __mode = "k" })   -- client -> connection options

function Client.__tostring(c) return "rb.prom.Client(" .. conns[c].url .. ")" end

local function run(client, reqs)
  local slots = perform(conns[client], reqs)
  local results, errs = {}, {}
  for i, req in ipairs(reqs) do
    local data, w = decode(slots[i])
    local ok, res = data ~= nil, w
    if ok then ok, res = pcall(req.convert, data, w) end
    if ok then
      results[i] = res
    elseif data ~= nil then   -- JSON, but not the shape the API documents
      errs[i] = select(2, fail("parse", ("unexpected %s answer from %s: %s"):format(req.op, slots[i].url, res),
                               { url = slots[i].url }))
    else
      errs[i] = res
    end
  end
  return results, errs
end

local function one(client, req)
  local results, errs = run(client, { req })
  if errs[1] then return nil, errs[1] end
  return results[1]
end

local function check_client(c, fname)
  argcheck(getmetatable(c) == Client, 1, fname, "rb.prom.Client expected (use ':')")
  if conns[c].closed then error(("rb.prom: %s on a closed client"):format(fname), 3) end
end

--- client:target() -> the base URL (credentials taken out)
function Client:target()
  check_client(self, "target")
  return conns[self].url
end

--- client:close(): later calls raise; idempotent, also __close (local c <close> = ...)
function Client:close()
  argcheck(getmetatable(self) == Client, 1, "close", "rb.prom.Client expected (use ':')")
  conns[self].closed = true
end
Client.__close = Client.close

function Client:query(q, opts)
  check_client(self, "query")
  return one(self, query_req(q, opts or {}, "query"))
end

function Client:query_range(q, opts)
  check_client(self, "query_range")
  return one(self, range_req(q, opts or {}, "query_range"))
end

function Client:value(q, opts)
  check_client(self, "value")
  local res, err = self:query(q, opts)
  if not res then return nil, err end
  if res.type == "scalar" then return res.value end
  if res.type ~= "vector" then
    return fail("prom", ("query returned a %s, not a number: %s"):format(res.type, q), { type = "bad_data" })
  end
  if #res == 1 then return res[1].value end
  if #res == 0 then
    return fail("empty", "query returned no series: " .. q, { query = q, count = 0 })
  end
  return fail("several", ("query returned %d series, expected one: %s"):format(#res, q),
              { query = q, count = #res })
end

function Client:query_many(items, opts)
  check_client(self, "query_many")
  argcheck(type(items) == "table" and #items >= 1, 1, "query_many", "list of queries expected")
  opts = opts or {}
  local reqs = {}
  for i, it in ipairs(items) do
    if type(it) == "string" then
      reqs[i] = query_req(it, opts, "query_many")
    else
      argcheck(type(it) == "table", 1, "query_many", "item " .. i .. " is not a query")
      local o = setmetatable({}, { __index = function(_, k) if it[k] ~= nil then return it[k] end return opts[k] end })
      local q = it.query or it[1]
      local ranged = it.start or it.stop or it.step
      reqs[i] = ranged and range_req(q, o, "query_many") or query_req(q, o, "query_many")
    end
  end
  local results, errs = run(self, reqs)
  results.n, errs.n = #reqs, #reqs
  return results, errs
end

function Client:series(...)
  check_client(self, "series")
  local n, opts = select("#", ...), {}
  if n > 0 and type(select(n, ...)) == "table" then opts, n = select(n, ...), n - 1 end
  argcheck(n >= 1, 1, "series", "at least one series selector expected")
  local p = {}
  for i = 1, n do
    local sel = select(i, ...)
    argcheck(type(sel) == "string", i, "series", "series selector string expected")
    p[#p + 1] = { "match[]", sel }
  end
  return one(self, { op = "series", params = add_window(p, opts), convert = list })
end

function Client:labels(opts)
  check_client(self, "labels")
  return one(self, { op = "labels", params = add_window({}, opts or {}), convert = list })
end

function Client:label_values(name, opts)
  check_client(self, "label_values")
  argcheck(type(name) == "string" and name:match("^[%a_][%w_]*$"), 1, "label_values", "label name expected")
  return one(self, { op = "label_values", label = name, params = add_window({}, opts or {}), convert = list })
end

local function alerts_list(data, warnings)
  local out = list(data.alerts or {}, warnings)
  for _, a in ipairs(out) do a.value = tonumber(a.value) or SPECIAL[a.value] or NAN end
  return out
end

function Client:alerts()
  check_client(self, "alerts")
  return one(self, { op = "alerts", params = {}, convert = alerts_list })
end

local function with_warnings(data, warnings)
  data.warnings = warnings or {}
  return data
end

function Client:rules(opts)
  check_client(self, "rules")
  local p = {}
  if opts and opts.type then p[1] = { "type", opts.type } end
  return one(self, { op = "rules", params = p, convert = function(d, w) return list(d.groups or {}, w) end })
end

function Client:targets(opts)
  check_client(self, "targets")
  local p = {}
  if opts and opts.state then p[1] = { "state", opts.state } end
  return one(self, { op = "targets", params = p, convert = with_warnings })
end

function Client:buildinfo()
  check_client(self, "buildinfo")
  return one(self, { op = "buildinfo", params = {}, convert = with_warnings })
end

local new_client

--- prom.client{url, bearer?, user?, password?, timeout? = 30, connect_timeout? = 5} | prom.client(url)
--- | prom.client() -> the run's "prometheus" target, or nil, err{kind = "config"}
-- The base URL has no query, no fragment and a plain path (see _base in
-- engine/bind/prom.c); user:password@ in it is basic auth, taken out of the URL.
function M.client(opts)
  if opts == nil then
    local t = rb.target("prometheus")
    if t == nil or t == "" then
      return fail("config", "rb.prom: no Prometheus server configured: set prometheus in --env/--config "
        .. "or PROMETHEUS_URL, or use prom.client{url = ...}")
    end
    opts = t
  end
  return new_client(opts)
end

function new_client(opts)
  if type(opts) == "string" then opts = { url = opts } end
  argcheck(type(opts) == "table" and type(opts.url) == "string" and opts.url:match("^https?://"),
           1, "client", "{url = 'http://...'} expected")
  for _, k in ipairs { "bearer", "password" } do
    if opts[k] ~= nil then rb.secret(opts[k]) end
  end
  local url, user, password = base_of(opts.url)   -- raises {kind = "request"} on a bad base URL
  if user and (opts.user or opts.bearer) then
    error(new_error("request", "rb.prom: credentials both in the URL and in options: give one"), 2)
  end
  local c = setmetatable({}, Client)
  conns[c] = { url = url, bearer = opts.bearer, user = user or opts.user, password = password or opts.password,
               timeout = opts.timeout, connect_timeout = opts.connect_timeout }
  check_conn(conns[c])   -- raises on a bad timeout now, not at the first query
  return c
end

---------------------------------------------------------------------------
-- Sparklines: the C renderer draws NaN as a gap; a range result simply lacks
-- the points where a series had no value, so those steps become NaN first.

local render = M.sparkline
local MAX_FILL = 10000

local function with_gaps(values)
  local step
  for i = 2, #values do
    local d = values[i][1] - values[i - 1][1]
    if d > 0 and (not step or d < step) then step = d end
  end
  if not step then return values end
  local out = {}
  for i, p in ipairs(values) do
    if i > 1 then
      local missing = math.floor((p[1] - values[i - 1][1]) / step + 0.5) - 1
      for _ = 1, math.min(missing, MAX_FILL - #out) do out[#out + 1] = NAN end
    end
    out[#out + 1] = p[2]
  end
  return out
end

-- "  min A  max B" of the numbers in values ({t, v} pairs or numbers), or "".
local function scale(values, unit)
  local lo, hi
  for _, v in ipairs(values) do
    local n = type(v) == "table" and tonumber(v[2]) or tonumber(v)
    if n and n == n then lo, hi = math.min(lo or n, n), math.max(hi or n, n) end
  end
  if not lo then return "  (no data)" end
  local u = (unit and unit ~= "") and (" " .. unit) or ""
  return ("  min %.3g%s  max %.3g%s"):format(lo, u, hi, u)
end

--- prom.sparkline(values | series | range result with one series, {width = 60, scale = false, unit?}) -> string
-- scale = true appends the minimum and maximum (a sparkline alone has no scale).
function M.sparkline(x, opts)
  argcheck(type(x) == "table", 1, "sparkline", "values or a series expected")
  local s = x.values and x or (#x == 1 and type(x[1]) == "table" and x[1].values and x[1])
  local values = s and s.values or x
  local line = s and render(with_gaps(s.values), opts) or render(x, opts)
  if opts and opts.scale then line = line .. scale(values, opts.unit) end
  return line
end

-- The default client: the run's "prometheus" target (--env/--config), else
-- PROMETHEUS_URL. A target may be a URL or a table of client options. With
-- none, the module-level calls return nil, err{kind = "config"} like
-- prom.client() (query_many: empty results and that error for each query).
local default, default_key
local function default_client()
  local t = rb.target("prometheus")
  if t == nil or t == "" then return M.client() end
  local key = t
  if type(t) == "table" then
    key = table.concat({ t.url or "", t.bearer or "", t.user or "", t.password or "",
                         tostring(t.timeout), tostring(t.connect_timeout) }, "\0")
  end
  if key ~= default_key then default, default_key = new_client(t), key end
  return default
end

for _, name in ipairs { "query", "query_range", "value", "query_many", "series", "labels",
                        "label_values", "alerts", "rules", "targets", "buildinfo" } do
  M[name] = function(...)
    local c, err = default_client()
    if c then return c[name](c, ...) end
    if name ~= "query_many" then return nil, err end
    local items, errs = ..., { n = 0 }
    for i = 1, type(items) == "table" and #items or 0 do errs[i], errs.n = err, i end
    return { n = errs.n }, errs
  end
end

return M
