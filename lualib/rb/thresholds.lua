-- rb.thresholds — a book's thresholds as data: the PromQL each one watches
-- (with {{param}} placeholders filled from the book's params), evaluation
-- against Prometheus in one round trip (triage), and Prometheus alerting
-- rules (export-alerts).
local level = require "rb.level"

local M = {}

--- names(book) -> sorted threshold names
function M.names(book)
  local out = {}
  for k in pairs(book.thresholds) do out[#out + 1] = k end
  table.sort(out)
  return out
end

--- query(thresholds, name, params) -> the threshold's PromQL with {{param}} filled
function M.query(thresholds, name, params)
  local t = thresholds[name]
  if not t then error(("unknown threshold '%s'"):format(tostring(name)), 0) end
  return (t.query:gsub("{{%s*([%w_]+)%s*}}", function(k)
    local v = params[k]
    if v == nil then error(("threshold '%s': no param '%s' for its query"):format(name, k), 0) end
    return tostring(v)
  end))
end

--- max_value(result) -> the largest value of an instant vector (or a scalar's value), or nil
function M.max_value(r)
  if r and r.type == "scalar" then return r.value end
  local v
  for _, s in ipairs(r or {}) do if v == nil or s.value > v then v = s.value end end
  return v
end

--- evaluate_some(thresholds, names, prom, params) -> { {name, title, value, level, err, threshold}, ... }
-- All queries go out at once (prom.query_many); a failed query, or one
-- with no series, is level "unknown" with the reason in err.
function M.evaluate_some(thresholds, names, prom, params)
  local queries = {}
  for i, n in ipairs(names) do queries[i] = M.query(thresholds, n, params) end
  local results, errs = prom.query_many(queries)
  local out = {}
  for i, n in ipairs(names) do
    local t, r, err = thresholds[n], results[i], errs[i]
    local value = not err and M.max_value(r) or nil
    if not err and value == nil then
      err = (r.type == "vector" or r.type == "scalar") and "no data" or ("unexpected result type " .. tostring(r.type))
    end
    out[i] = { name = n, title = t.title or n, value = value, err = err and tostring(err), threshold = t,
      level = level.classify(value, t.warn, t.crit, t.higher_is_worse ~= false) }
  end
  return out
end

--- evaluate(book, prom, params?) -> evaluate_some over every threshold of the book
function M.evaluate(book, prom, params)
  return M.evaluate_some(book.thresholds, M.names(book), prom, params or book.params)
end

--- rank(book, evaluated) -> sections ordered by how badly their indicators fire:
-- { {id, title, level, score, reasons = {...}}, ... }; sections with nothing firing are left out.
function M.rank(book, evaluated)
  local by_id = {}
  for _, e in ipairs(evaluated) do
    if e.level == "warning" or e.level == "critical" then
      for _, sid in ipairs(e.threshold.sections or {}) do
        local s = by_id[sid] or { id = sid, level = "good", score = 0, reasons = {} }
        by_id[sid] = s
        s.score = s.score + (e.level == "critical" and 10 or 1)
        if level.ORDER[e.level] > level.ORDER[s.level] then s.level = e.level end
        s.reasons[#s.reasons + 1] = e.title
      end
    end
  end
  local out = {}
  for _, sec in ipairs(book.sections) do
    local s = by_id[sec.id]
    if s then s.title = sec.title; out[#out + 1] = s end
  end
  table.sort(out, function(a, b)
    if a.score ~= b.score then return a.score > b.score end
    return a.id < b.id
  end)
  return out
end

local function camel(name)
  return (name:gsub("^%l", string.upper):gsub("_(%w)", string.upper))
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
      runbook = "runbook run " .. book.id .. "/" .. ((t.sections or {})[1] or ""),
    },
  }
end

--- rules(book, params?) -> a Prometheus rule-file table: one group, a warning
-- and a critical alert per threshold (the critical one keeps the seed's name).
function M.rules(book, params)
  local rules = {}
  for _, n in ipairs(M.names(book)) do
    local t = book.thresholds[n]
    local expr = M.query(book.thresholds, n, params or book.params)
    rules[#rules + 1] = rule(book, n, t, expr, "warning")
    rules[#rules + 1] = rule(book, n, t, expr, "critical")
  end
  return { groups = { { name = book.id .. "-performance", rules = rules } } }
end

return M
