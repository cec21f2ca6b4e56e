-- rb.thresholds — a book's thresholds as data: the PromQL each one watches
-- (with {{param}} placeholders filled from the book's params), evaluation
-- against Prometheus in one round trip (triage), and Prometheus alerting
-- rules (export-alerts).
local level = require "rb.level"

local M = {}

--- all(book) -> the book's thresholds and its sections' indicators as one
-- thresholds table: a section's indicator {name, title?, query, warn?, crit?,
-- unit?, higher_is_worse?} becomes "SECTION/NAME", owned by that section
-- (origin "section"). Data only: nothing of the section's code runs.
function M.all(book)
  local out = {}
  for k, t in pairs(book.thresholds or {}) do out[k] = t end
  for _, sec in ipairs(book.sections or {}) do
    for _, ind in ipairs(sec.indicators or {}) do
      local t = { sections = { sec.id }, origin = "section" }
      for k, v in pairs(ind) do t[k] = v end
      t.title = ind.title or ind.name
      out[sec.id .. "/" .. ind.name] = t
    end
  end
  return out
end

local function has_query(t) return type(t.query) == "string" and t.query ~= "" end

--- names(thresholds, with_query?) -> sorted threshold names (with_query: only
-- those triage evaluates)
function M.names(thresholds, with_query)
  local out = {}
  for k, t in pairs(thresholds) do
    if not with_query or has_query(t) then out[#out + 1] = k end
  end
  table.sort(out)
  return out
end

--- query(thresholds, name, params, overrides?) -> the threshold's PromQL with
-- {{param}} filled (overrides first, then params), or nil, why (no query,
-- a param missing)
function M.query(thresholds, name, params, overrides)
  local t = thresholds[name]
  if not t then error(("unknown threshold '%s'"):format(tostring(name)), 0) end
  if not has_query(t) then return nil, "no query" end
  local missing
  local q = t.query:gsub("{{%s*([%w_]+)%s*}}", function(k)
    local v = (overrides or {})[k]
    if v == nil then v = params[k] end
    if v == nil then missing = missing or k; return "" end
    return tostring(v)
  end)
  if missing then return nil, ("no param '%s' for its query"):format(missing) end
  return q
end

--- max_value(result) -> the largest value of an instant vector (or a scalar's value), or nil
-- (NaN, e.g. 0/0 when nothing was requested, is no value)
function M.max_value(r)
  if r and r.type == "scalar" then return r.value == r.value and r.value or nil end
  local v
  for _, s in ipairs(r or {}) do
    if s.value == s.value and (v == nil or s.value > v) then v = s.value end
  end
  return v
end

local function uses_window(t)
  return type(t.query) == "string" and t.query:find("{{%s*window%s*}}") ~= nil
end

-- One reading of one query: value, or nil, why there is none and whether
-- that is only "no data" (the query itself was fine).
local function reading(r, err)
  if err then return nil, tostring(err), false end
  local v = M.max_value(r)
  if v == nil then
    if r.type == "vector" or r.type == "scalar" then return nil, "no data", true end
    return nil, "unexpected result type " .. tostring(r.type), false
  end
  return v
end

-- Is reading b (value, level) worse than a for threshold t?
local function worse(t, bv, bl, av, al)
  if bl == "unknown" then return false end
  if al == "unknown" or level.ORDER[bl] ~= level.ORDER[al] then return al == "unknown" or level.ORDER[bl] > level.ORDER[al] end
  if t.higher_is_worse == false then return bv < av end
  return bv > av
end

--- evaluate_some(thresholds, names, prom, params, opts?) -> { {name, title, value, level, err, window, threshold}, ... }
-- All queries go out at once (prom.query_many). A threshold whose query has
-- {{window}} is read over params.window and, when opts.short_window is set,
-- over that too: the worse reading counts and `window` says which (a fault
-- a minute old shows although a 5m rate still dilutes it; a window with no
-- data yet gives way to one that has data). A threshold without a query (when
-- named: triage leaves step-only thresholds out, see step_only), a failed query (Prometheus down, a bad window: never rescued by the other
-- window), or one with no series, is level "unknown" with why in err.
function M.evaluate_some(thresholds, names, prom, params, opts)
  local short = opts and opts.short_window
  local queries, slots = {}, {}
  for i, n in ipairs(names) do
    local q, why = M.query(thresholds, n, params)
    slots[i] = { why = why }
    if q then queries[#queries + 1] = q; slots[i].long = #queries end
    if q and short and short ~= params.window and uses_window(thresholds[n]) then
      queries[#queries + 1] = M.query(thresholds, n, params, { window = short })
      slots[i].short = #queries
    end
  end
  local results, errs = {}, {}
  if #queries > 0 then results, errs = prom.query_many(queries) end
  local out = {}
  for i, n in ipairs(names) do
    local t, sl = thresholds[n], slots[i]
    local e = { name = n, title = t.title or n, threshold = t, err = sl.why, level = "unknown" }
    if sl.long then
      local higher, nodata = t.higher_is_worse ~= false, nil
      e.value, e.err, nodata = reading(results[sl.long], errs[sl.long])
      e.level = level.classify(e.value, t.warn, t.crit, higher)
      e.window = uses_window(t) and tostring(params.window) or nil
      -- a failed query (a bad window, Prometheus down) stays unknown; a window
      -- with no data yet gives way to one with data, and the worse reading counts
      if sl.short and (e.err == nil or nodata) then
        local v, err = reading(results[sl.short], errs[sl.short])
        local lv = level.classify(v, t.warn, t.crit, higher)
        if worse(t, v, lv, e.value, e.level) then e.value, e.err, e.level, e.window = v, err, lv, short end
      end
    end
    out[i] = e
  end
  return out
end

--- read(ctx, name, {prom?, short_window?}) -> value, level, err
-- A section reads one of its book's thresholds now, as triage would: the
-- threshold's query with {{param}} filled from ctx.params, sent with the run's
-- default Prometheus client (rb.prom; opts.prom: another client), the largest
-- value classified against warn/crit. No query, no data, no Prometheus
-- server or a failed query: value nil, level "unknown", err says why.
function M.read(ctx, name, opts)
  if type(ctx) ~= "table" or type(ctx.thresholds) ~= "table" then
    error("bad argument #1 to 'read' (the step's ctx expected)", 2)
  end
  if type(name) ~= "string" or ctx.thresholds[name] == nil then
    error(("bad argument #2 to 'read' (no threshold '%s' in the book)"):format(tostring(name)), 2)
  end
  local prom = require "rb.prom"
  if opts and opts.prom then
    local client = opts.prom
    prom = { query_many = function(q) return client:query_many(q) end }
  end
  local e = M.evaluate_some(ctx.thresholds, { name }, prom, ctx.params or {},
    { short_window = opts and opts.short_window })[1]
  return e.value, e.level, e.err
end

--- evaluate(book, prom, params?, opts?) -> evaluate_some over every threshold
-- of the book and every indicator of its sections
function M.evaluate(book, prom, params, opts)
  local all = M.all(book)
  return M.evaluate_some(all, M.names(all, true), prom, params or book.params, opts)
end

--- step_only(book) -> sorted names of the thresholds without a query: read by
-- steps (ctx:check{threshold = ...} with a value they measure), never by
-- triage or export-alerts.
function M.step_only(book)
  local all, out = M.all(book), {}
  for _, n in ipairs(M.names(all)) do
    if not has_query(all[n]) then out[#out + 1] = n end
  end
  return out
end

local WEIGHT = { warning = 1, critical = 10 }

--- rank(book, evaluated) -> sections ordered by how badly their indicators fire:
-- { {id, title, level, owner, score, reasons = {...}}, ... }. A section's
-- level is the worst of the indicators that list it; among sections at the
-- same level one that owns such an indicator (lists it first) comes first;
-- then the score (an owned indicator counts twice), then the book's order.
-- Unknown indicators rank nothing (triage reports them apart); sections with
-- nothing firing are left out.
function M.rank(book, evaluated)
  local by_id = {}
  for _, e in ipairs(evaluated) do
    if WEIGHT[e.level] then
      for i, sid in ipairs(e.threshold.sections or {}) do
        local s = by_id[sid] or { id = sid, level = "good", owner = false, score = 0, reasons = {} }
        by_id[sid] = s
        s.score = s.score + WEIGHT[e.level] * (i == 1 and 2 or 1)
        if level.ORDER[e.level] > level.ORDER[s.level] then s.level, s.owner = e.level, false end
        if i == 1 and e.level == s.level then s.owner = true end
        s.reasons[#s.reasons + 1] = e.title
      end
    end
  end
  local out, pos = {}, {}
  for i, sec in ipairs(book.sections) do
    local s = by_id[sec.id]
    if s then s.title = sec.title; out[#out + 1] = s; pos[s] = i end
  end
  table.sort(out, function(a, b)
    if a.level ~= b.level then return level.ORDER[a.level] > level.ORDER[b.level] end
    if a.owner ~= b.owner then return a.owner end
    if a.score ~= b.score then return a.score > b.score end
    return pos[a] < pos[b]
  end)
  return out
end

local function camel(name)
  return (name:gsub("^%l", string.upper):gsub("[_/.%-]+(%w)", string.upper))
end

-- One alerting rule: the threshold's query compared with its warn or crit value.
local function rule(book, n, t, expr, level)
  local lower = t.higher_is_worse == false
  local warn = level == "warning"
  local cmp = warn and (lower and "<=" or ">=") or (lower and "<" or ">")
  local bound = warn and t.warn or t.crit
  local unit = t.unit and t.unit ~= "" and (" " .. t.unit) or ""
  local base = t.alert or ("High" .. camel(n))
  return {
    alert = warn and (base .. "Warning") or base,
    expr = ("(%s) %s %s"):format(expr, cmp, tostring(bound)), ["for"] = t["for"] or "5m",
    labels = { severity = level, book = book.id, threshold = n },
    annotations = {
      summary = warn and ((t.summary or (t.title .. " high")) .. " (warning)") or (t.summary or (t.title .. " critical")),
      description = ("%s is {{ $value }}%s (%s %s%s)"):format(t.title or n, unit,
        warn and "warning at" or "critical above", tostring(bound), unit),
      -- the section that owns it, or triage when no section claims it
      runbook = (t.sections or {})[1] and ("runbook run " .. book.id .. "/" .. t.sections[1])
        or ("runbook triage " .. book.id),
    },
  }
end

--- rules(book, params?) -> a Prometheus rule-file table: one group, a warning
-- and a critical alert per threshold (the critical one keeps the seed's
-- name), and the list of thresholds left out with why ({name, why}, ...):
-- one without a query has nothing to alert on.
function M.rules(book, params)
  local rules, skipped, all = {}, {}, M.all(book)
  for _, n in ipairs(M.names(all)) do
    local t = all[n]
    local expr, why = M.query(all, n, params or book.params)
    if expr then
      rules[#rules + 1] = rule(book, n, t, expr, "warning")
      rules[#rules + 1] = rule(book, n, t, expr, "critical")
    elseif why == "no query" then
      skipped[#skipped + 1] = { name = n, why = why }
    else
      error(("threshold '%s': %s"):format(n, why), 0)
    end
  end
  return { groups = { { name = book.id .. "-performance", rules = rules } } }, skipped
end

return M
