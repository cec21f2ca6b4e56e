-- rb.level — how a value compares with warn/crit bounds (DESIGN §3), shared by
-- ctx:check, rb.thresholds (triage, book indicators) and the report. Pure.
local M = {}

--- ORDER: levels by severity, for ranking and "worst of".
M.ORDER = { good = 1, unknown = 2, warning = 3, critical = 4 }

--- classify(value, warn, crit, higher_is_worse) -> "good" | "warning" | "critical" | "unknown"
-- Higher is worse: critical when value > crit, warning when value >= warn
-- (the seed's table: "< 500ms good, 500ms - 2s warning, > 2s critical").
-- Lower is worse: critical when value < crit, warning when value <= warn.
-- A value that is not a number (or is NaN) is "unknown", never good.
function M.classify(value, warn, crit, higher_is_worse)
  if type(value) ~= "number" or value ~= value then return "unknown" end
  if higher_is_worse == false then
    if crit and value < crit then return "critical" end
    if warn and value <= warn then return "warning" end
    return "good"
  end
  if crit and value > crit then return "critical" end
  if warn and value >= warn then return "warning" end
  return "good"
end

return M
