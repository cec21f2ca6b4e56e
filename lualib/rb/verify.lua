-- rb.verify — what must hold after a resolve step is applied (DESIGN §3
-- `verify`). Entries are data, evaluated by the engine itself against
-- Prometheus with the book's thresholds (rb.thresholds): {threshold = NAME}
-- or {name, query, warn, crit, unit?, higher_is_worse?}. Read before the
-- step is planned (the "before" of before → after) and, once the step is
-- applied, again until every entry is good or the timeout ends. Unknown
-- (no data, Prometheus down) is never good.
local thresholds = require "rb.thresholds"
local gate = require "rb._gate"
local sys = require "rb._sys"

local M = {}
M.DEFAULT_TIMEOUT = 60
local POLL_MS = 3000

-- The entries as a thresholds table and its names, in order.
local function as_thresholds(book_thresholds, entries)
  local th, names = {}, {}
  for i, v in ipairs(entries) do
    local name = v.threshold or v.name or ("verify " .. i)
    th[name] = v.threshold and book_thresholds[v.threshold] or v
    names[#names + 1] = name
  end
  return th, names
end

--- check(book_thresholds, entries) -> nil | err: entries name thresholds that exist
function M.check(book_thresholds, entries)
  for i, v in ipairs(entries or {}) do
    if v.threshold and not book_thresholds[v.threshold] then
      return ("verify[%d] names threshold '%s', which the book does not have"):format(i, v.threshold)
    end
  end
end

--- evaluate(run, entries) -> { {name, title, value, level, err, threshold}, ... }
-- The engine's own reads: its gate is opened for reads for this call only.
function M.evaluate(run, entries)
  local th, names = as_thresholds(run.thresholds, entries)
  local was = gate.mode()   -- "load" in a run; "free" under `runbook lua` (rb.testing)
  gate.set_mode("investigate")
  local ok, res = pcall(thresholds.evaluate_some, th, names, require("rb.prom"), run.params)
  gate.set_mode(was)
  if ok then return res end
  local out = {}
  for i, n in ipairs(names) do
    out[i] = { name = n, title = th[n].title or n, level = "unknown", err = tostring(res), threshold = th[n] }
  end
  return out
end

local function all_good(results)
  for _, r in ipairs(results) do if r.level ~= "good" then return false end end
  return true
end

--- until_good(run, entries, timeout_s, on_wait) -> results, ok
-- Re-evaluates every few seconds until all are good or timeout_s has passed;
-- on_wait(results, elapsed_s) is called before each wait.
function M.until_good(run, entries, timeout_s, on_wait)
  local t0 = sys.clock_ms()
  while true do
    local res = M.evaluate(run, entries)
    local elapsed = (sys.clock_ms() - t0) / 1000
    if all_good(res) then return res, true end
    if elapsed >= timeout_s then return res, false end
    if on_wait then on_wait(res, elapsed) end
    sys.sleep_ms(math.min(POLL_MS, (timeout_s - elapsed) * 1000))
  end
end

return M
