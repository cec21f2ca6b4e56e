-- rb.thresholds — a book's thresholds as data: the PromQL each one watches
-- (with {{param}} placeholders filled from the book's params), evaluation
-- against Prometheus in one round trip (triage), and Prometheus alerting
-- rules (export-alerts).
local Ctx = require "rb.ctx"

local M = {}

--- names(book) -> sorted threshold names
function M.names(book)
  local out = {}
  for k in pairs(book.thresholds) do out[#out + 1] = k end
  table.sort(out)
  return out
end

--- expr(book, name, params?) -> the threshold's PromQL with {{param}} filled
function M.expr(book, name, params)
  local t = book.thresholds[name]
  params = params or book.params
  return (t.query:gsub("{{%s*([%w_]+)%s*}}", function(k)
    local v = params[k]
    if v == nil then error(("threshold '%s': no param '%s' for its query"):format(name, k), 0) end
    return tostring(v)
  end))
end

--- evaluate(book, prom, params?) -> { {name, title, value, level, err, threshold}, ... }
-- All queries go out at once (prom.query_many); a failed query is level "unknown".
function M.evaluate(book, prom, params)
  local names = M.names(book)
  local queries = {}
  for i, n in ipairs(names) do queries[i] = M.expr(book, n, params) end
  local results, errs = prom.query_many(queries)
  local out = {}
  for i, n in ipairs(names) do
    local t = book.thresholds[n]
    local r, err = results[i], errs[i]
    local value
    if err then -- the query failed: unknown, with the reason
    elseif r.type == "vector" then
      for _, s in ipairs(r) do if value == nil or s.value > value then value = s.value end end
      if value == nil then err = "no data" end
    elseif r.type == "scalar" then value = r.value
    else err = "unexpected result type " .. tostring(r.type) end
    out[i] = { name = n, title = t.title or n, value = value, err = err and tostring(err), threshold = t,
      level = Ctx.classify(value, t.warn, t.crit, t.higher_is_worse ~= false) }
  end
  return out
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
        if Ctx.LEVEL_ORDER[e.level] > Ctx.LEVEL_ORDER[s.level] then s.level = e.level end
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

--- rules(book, params?) -> a Prometheus rule-file table: one group, a warning
-- and a critical alert per threshold (the critical one keeps the seed's name).
function M.rules(book, params)
  local rules = {}
  for _, n in ipairs(M.names(book)) do
    local t = book.thresholds[n]
    local expr = M.expr(book, n, params)
    local cmp = t.higher_is_worse == false and "<" or ">"
    local wcmp = t.higher_is_worse == false and "<=" or ">="
    local base = t.alert or ("High" .. camel(n))
    local unit = t.unit and t.unit ~= "" and (" " .. t.unit) or ""
    rules[#rules + 1] = {
      alert = base .. "Warning", expr = ("(%s) %s %s"):format(expr, wcmp, tostring(t.warn)), ["for"] = t["for"] or "5m",
      labels = { severity = "warning", book = book.id, threshold = n },
      annotations = { summary = (t.summary or (t.title .. " high")) .. " (warning)",
        description = ("%s is {{ $value }}%s (warning at %s%s)"):format(t.title or n, unit, tostring(t.warn), unit),
        runbook = "runbook run " .. book.id .. "/" .. ((t.sections or {})[1] or "") },
    }
    rules[#rules + 1] = {
      alert = base, expr = ("(%s) %s %s"):format(expr, cmp, tostring(t.crit)), ["for"] = t["for"] or "5m",
      labels = { severity = "critical", book = book.id, threshold = n },
      annotations = { summary = t.summary or (t.title .. " critical"),
        description = ("%s is {{ $value }}%s (critical above %s%s)"):format(t.title or n, unit, tostring(t.crit), unit),
        runbook = "runbook run " .. book.id .. "/" .. ((t.sections or {})[1] or "") },
    }
  end
  return { groups = { { name = book.id .. "-performance", rules = rules } } }
end

return M
