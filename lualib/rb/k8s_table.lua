-- rb.k8s_table — kubectl get's default columns for a get() result and
-- kubectl's AGE. Pure; part of rb.k8s (k8s.table, k8s.age).
local util = require "rb.k8s_util"
local str, argcheck = util.str, util.argcheck

local M = {}

-- RFC 3339 UTC -> epoch seconds (days from the civil date; no time zone involved).
local function epoch(ts)
  local y, mo, d, h, mi, sec = tostring(ts):match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)")
  if not y then return nil end
  y, mo = tonumber(y), tonumber(mo)
  if mo <= 2 then y = y - 1 end
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * (mo + (mo > 2 and -3 or 9)) + 2) // 5 + tonumber(d) - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec)
end

--- k8s.age(seconds) -> "45s", "5m10s", "135m", "7h20m", "3d4h", ... (kubectl's AGE column)
function M.age(secs)
  if secs < 0 then secs = 0 end
  local m, h, d = secs // 60, secs // 3600, secs // 86400
  local function two(fmt_a, a, fmt_b, b) return b == 0 and fmt_a:format(a) or (fmt_a .. fmt_b):format(a, b) end
  if secs < 120 then return ("%ds"):format(secs) end
  if m < 10 then return two("%dm", m, "%ds", secs % 60) end
  if m < 180 then return ("%dm"):format(m) end
  if h < 8 then return two("%dh", h, "%dm", m % 60) end
  if h < 48 then return ("%dh"):format(h) end
  if h < 24 * 8 then return two("%dd", d, "%dh", h % 24) end
  if h < 24 * 365 * 2 then return ("%dd"):format(d) end
  local y = d // 365
  if y < 8 then return two("%dy", y, "%dd", d % 365) end
  return ("%dy"):format(y)
end

local COLUMNS = {
  Pod = { { "READY", function(o)
      local ready, n = 0, 0
      for _, c in ipairs(o.status and o.status.containerStatuses or {}) do
        n = n + 1
        if c.ready then ready = ready + 1 end
      end
      if n == 0 then n = #(o.spec.containers or {}) end
      return ready .. "/" .. n
    end },
    { "STATUS", function(o) return str(o.status and o.status.phase or "Unknown") end },
    { "RESTARTS", function(o)
      local r = 0
      for _, c in ipairs(o.status and o.status.containerStatuses or {}) do r = r + (c.restartCount or 0) end
      return str(r)
    end } },
  Deployment = { { "READY", function(o) return str(o.status.readyReplicas or 0) .. "/" .. str(o.spec.replicas or 0) end },
    { "UP-TO-DATE", function(o) return str(o.status.updatedReplicas or 0) end },
    { "AVAILABLE", function(o) return str(o.status.availableReplicas or 0) end } },
}

--- k8s.table(objects, {now}) -> text: kubectl get's default columns (NAME, the
-- kind's columns for pods and deployments, AGE) for a get() result.
function M.table(objects, opts)
  argcheck(type(objects) == "table", 1, "table", "list of objects expected")
  argcheck(opts == nil or type(opts) == "table", 2, "table", "options table expected")
  opts = opts or {}
  local now = opts.now or os.time()
  local cols = COLUMNS[(objects[1] or {}).kind] or {}
  local rows = { { "NAME" } }
  for _, c in ipairs(cols) do rows[1][#rows[1] + 1] = c[1] end
  rows[1][#rows[1] + 1] = "AGE"
  for _, o in ipairs(objects) do
    local row = { o.metadata.name }
    for _, c in ipairs(cols) do row[#row + 1] = c[2](o) end
    local t = epoch(o.metadata.creationTimestamp)
    row[#row + 1] = t and M.age(now - t) or "<unknown>"
    rows[#rows + 1] = row
  end
  local width = {}
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do width[i] = math.max(width[i] or 0, #cell) end
  end
  local out = {}
  for _, row in ipairs(rows) do
    local cells = {}
    for i, cell in ipairs(row) do
      cells[i] = i < #row and cell .. (" "):rep(width[i] - #cell + 3) or cell
    end
    out[#out + 1] = table.concat(cells)
  end
  return table.concat(out, "\n") .. "\n"
end

return M
