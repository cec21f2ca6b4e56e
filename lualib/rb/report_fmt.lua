-- rb.report_fmt — numbers, times and durations as a person reads them in a
-- report: a unit after the number, precision that fits the magnitude
-- (0.114 s, 12.5 %, 1,234 ms, 1.5 GiB), never "nan" (n/a instead).
local M = {}

local IEC = { "B", "KiB", "MiB", "GiB", "TiB" }

local function bytes(v)
  local i, a = 1, math.abs(v)
  while a >= 1024 and i < #IEC do a, v, i = a / 1024, v / 1024, i + 1 end
  return i == 1 and ("%d B"):format(math.floor(v + 0.5)) or (M.plain(v) .. " " .. IEC[i])
end

-- thousands separators for the integer part
local function group(s)
  local sign, int, rest = s:match("^(-?)(%d+)(.*)$")
  if not int or #int <= 4 then return s end
  int = int:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
  return sign .. int .. rest
end

--- plain(v) -> a number with precision that fits its magnitude
function M.plain(v)
  if math.type(v) == "integer" then return group(tostring(v)) end
  local a = math.abs(v)
  if a == 0 then return "0" end
  if a >= 100 then return group(("%.0f"):format(v)) end
  if a >= 10 then return (("%.1f"):format(v):gsub("%.0$", "")) end
  if a >= 1 then return (("%.2f"):format(v):gsub("0+$", ""):gsub("%.$", "")) end
  if a >= 0.001 then return (("%.3g"):format(v)) end
  return ("%.2e"):format(v)
end

--- num(v, unit) -> text: "n/a" for nil/NaN/inf, yes/no for booleans
function M.num(v, unit)
  if v == nil then return "n/a" end
  if type(v) == "boolean" then return v and "yes" or "no" end
  if type(v) ~= "number" then return tostring(v) end
  if v ~= v or v == math.huge or v == -math.huge then return "n/a" end
  if unit == "bytes" or unit == "B" then return bytes(v) end
  local s = M.plain(v)
  if unit == nil or unit == "" then return s end
  return unit == "%" and (s .. " %") or (s .. " " .. unit)
end

--- time(epoch) -> "2024-05-01 12:00:03.250Z" (UTC); "n/a" without one
function M.time(t)
  t = tonumber(t)
  if not t then return "n/a" end
  local ms = math.floor((t - math.floor(t)) * 1000 + 0.5) % 1000
  return os.date("!%Y-%m-%d %H:%M:%S", math.floor(t)) .. (".%03dZ"):format(ms)
end

--- clock(epoch) -> "12:00:03" (UTC)
function M.clock(t)
  t = tonumber(t)
  return t and os.date("!%H:%M:%S", math.floor(t)) or "n/a"
end

--- duration(ms) -> "850 ms", "12.3 s", "4 min 05 s", "1 h 02 min"
function M.duration(ms)
  ms = tonumber(ms)
  if not ms or ms ~= ms then return "n/a" end
  if ms < 1000 then return ("%d ms"):format(math.floor(ms + 0.5)) end
  local s = ms / 1000
  if s < 60 then return ("%.1f s"):format(s) end
  if s < 3600 then return ("%d min %02d s"):format(s // 60, math.floor(s % 60)) end
  return ("%d h %02d min"):format(s // 3600, math.floor(s % 3600 / 60))
end

--- epoch(rfc3339) -> seconds since 1970 (UTC) | nil: "2024-05-01T12:00:03.250Z"
function M.epoch(ts)
  if type(ts) ~= "string" then return nil end
  local y, mo, d, h, mi, s, frac = ts:match("^(%d%d%d%d)-(%d%d)-(%d%d)[T ](%d%d):(%d%d):(%d%d)(%.?%d*)")
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  -- days from civil (Howard Hinnant's algorithm)
  y = mo <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (mo + (mo > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  local days = era * 146097 + doe - 719468
  local off = 0
  local sign, oh, om = ts:match("([+-])(%d%d):?(%d%d)$")
  if sign then off = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "+" and 1 or -1) end
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s) + (tonumber("0" .. frac) or 0) - off
end

return M
