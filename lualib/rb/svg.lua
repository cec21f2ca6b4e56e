-- rb.svg — charts as inline SVG text for the HTML report (pure Lua: no I/O,
-- no engine module, testable alone).
--
--   chart(c, opts)    a time series chart: axes with nice ticks, the unit,
--                     warn/crit threshold lines, markers (a fix applied)
--   timeline(rows)    horizontal bars on a time axis (steps of one or more runs)
--   downsample(points, t0, t1, buckets)  min and max per bucket
--
-- Bound: a series is drawn with at most 2 points per pixel column of the
-- plot (min and max of the samples in that column, in time order), so a
-- 100k-sample series costs at most 2 * PLOT_W points (about 15 KB of SVG)
-- and keeps its spikes. Series with fewer samples are drawn exactly.
-- Every element carries data-* attributes (value range, pixel range, point
-- counts, threshold values) so a test can check the geometry in a browser.
local M = {}

local W, H = 720, 260
local LEFT, RIGHT, TOP, BOTTOM = 70, 16, 30, 42
M.PLOT_W = W - LEFT - RIGHT
M.MAX_POINTS = 2 * M.PLOT_W
local COLORS = { "#1f77b4", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#2ca02c" }

local ESC = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;",
  [":"] = "&#58;", ["="] = "&#61;", ["@"] = "&#64;" }
--- esc(text) -> text safe inside XML/HTML text and quoted attributes. Colons,
--- '=', '@' and the space after "Bearer" are character references too, so the
--- redactor's rules by place (a "Name: value" line, password=, user:pw@host,
--- Bearer TOKEN), run again over the finished page, cannot match across
--- markup; a browser shows the same text.
function M.esc(s)
  s = tostring(s):gsub("[&<>\"':=@]", ESC)
  return (s:gsub("([Bb][Ee][Aa][Rr][Ee][Rr]) ", "%1&#32;"))
end

local function num(v)
  v = tonumber(v)
  if v == nil or v ~= v or v == math.huge or v == -math.huge then return nil end
  return v
end

-- a point as t, v (numbers) from {t, v} or {t = , v = }; nil when unusable
local function point(p)
  if type(p) ~= "table" then return nil end
  local t, v = num(p[1] or p.t), num(p[2] or p.v)
  if t and v then return t, v end
end

-- Sorted {t, v} pairs with numeric fields; unusable samples are dropped.
local function clean(points)
  local out, sorted, last = {}, true, -math.huge
  for _, p in ipairs(points or {}) do
    local t, v = point(p)
    if t then
      out[#out + 1] = { t, v }
      if t < last then sorted = false end
      last = t
    end
  end
  if not sorted then table.sort(out, function(a, b) return a[1] < b[1] end) end
  return out
end

--- downsample(points, t0, t1, buckets) -> points: at most 2 per bucket
--- (the min and the max, in time order); points already clean and sorted.
function M.downsample(pts, t0, t1, buckets)
  if #pts <= 2 * buckets then return pts end
  local span = t1 > t0 and (t1 - t0) or 1
  local out, cur, lo, hi = {}, nil, nil, nil
  local function flush()
    if not lo then return end
    if lo == hi then out[#out + 1] = lo
    elseif lo[1] <= hi[1] then out[#out + 1] = lo; out[#out + 1] = hi
    else out[#out + 1] = hi; out[#out + 1] = lo end
  end
  for _, p in ipairs(pts) do
    local b = math.min(buckets - 1, math.floor((p[1] - t0) / span * buckets))
    if b ~= cur then flush(); cur, lo, hi = b, p, p
    else
      if p[2] < lo[2] then lo = p end
      if p[2] > hi[2] then hi = p end
    end
  end
  flush()
  return out
end

-- A "nice" step (1, 2, 5 x 10^n) for about n intervals over span.
local function nice_step(span, n)
  local raw = span / n
  local mag = 10 ^ math.floor(math.log(raw, 10))
  for _, m in ipairs { 1, 2, 5, 10 } do
    if raw <= m * mag then return m * mag end
  end
  return 10 * mag
end

local TIME_STEPS = { 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
  43200, 86400, 172800, 604800 }
local function time_step(span, n)
  for _, s in ipairs(TIME_STEPS) do if span / s <= n then return s end end
  return TIME_STEPS[#TIME_STEPS]
end

--- tick label: compact numbers (1.5k, 2M) with as many decimals as the step needs
function M.tick(v, step)
  local a = math.abs(v)
  for _, s in ipairs { { 1e9, "G" }, { 1e6, "M" }, { 1e3, "k" } } do
    if a >= s[1] and step >= s[1] / 10 then
      local d = math.max(0, -math.floor(math.log(step / s[1], 10) + 1e-9))
      return ("%." .. math.min(d, 3) .. "f%s"):format(v / s[1], s[2])
    end
  end
  if v == 0 then return "0" end
  local d = math.max(0, -math.floor(math.log(step, 10) + 1e-9))
  return ("%." .. math.min(d, 6) .. "f"):format(v)
end

local function fmt_time(t, span)
  if span >= 2 * 86400 then return os.date("!%m-%d %H:%M", math.floor(t)) end
  if span >= 600 then return os.date("!%H:%M", math.floor(t)) end
  if span >= 10 then return os.date("!%H:%M:%S", math.floor(t)) end
  local ms = math.floor((t - math.floor(t)) * 1000 + 0.5)
  if ms == 1000 then t, ms = t + 1, 0 end
  return os.date("!%H:%M:%S", math.floor(t)) .. (".%03d"):format(ms)
end

local function f1(x) return ("%.1f"):format(x) end
-- a number in a data-* attribute: the same text for 300 and 300.0
local function numattr(x) return ("%.12g"):format(x) end

-- The value range: the data, zero when the data is all positive, and the thresholds.
local function value_range(series, c)
  local lo, hi = math.huge, -math.huge
  for _, s in ipairs(series) do
    for _, p in ipairs(s.pts) do
      if p[2] < lo then lo = p[2] end
      if p[2] > hi then hi = p[2] end
    end
  end
  for _, th in pairs { num(c.warn) or false, num(c.crit) or false } do
    if th and th < lo then lo = th end
    if th and th > hi then hi = th end
  end
  if lo == math.huge then lo, hi = 0, 1 end
  if lo > 0 then lo = 0 end
  if hi <= lo then hi = lo + 1 end
  local step = nice_step(hi - lo, 4)
  return math.floor(lo / step) * step, math.ceil(hi / step) * step, step
end

local function time_range(series, markers)
  local t0, t1 = math.huge, -math.huge
  for _, s in ipairs(series) do
    if #s.pts > 0 then
      t0, t1 = math.min(t0, s.pts[1][1]), math.max(t1, s.pts[#s.pts][1])
    end
  end
  if t0 == math.huge then
    for _, m in ipairs(markers) do t0, t1 = math.min(t0, m.t), math.max(t1, m.t) end
  end
  if t0 == math.huge then t0, t1 = 0, 1 end
  if t1 <= t0 then t0, t1 = t0 - 30, t1 + 30 end
  return t0, t1
end

-- Geometry of one chart: value/time -> pixel.
local function frame(t0, t1, lo, hi)
  local pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
  return {
    t0 = t0, t1 = t1, lo = lo, hi = hi,
    x = function(t) return LEFT + (t - t0) / (t1 - t0) * pw end,
    y = function(v) return TOP + (hi - v) / (hi - lo) * ph end,
  }
end

local function axes(out, fr, step, unit)
  out[#out + 1] = ('<g class="axes" font-size="11" fill="#444">')
  for v = fr.lo, fr.hi + step / 2, step do
    local y = f1(fr.y(v))
    out[#out + 1] = ('<line x1="%d" x2="%d" y1="%s" y2="%s" stroke="#e4e4e4"/>'):format(LEFT, W - RIGHT, y, y)
    out[#out + 1] = ('<text x="%d" y="%s" text-anchor="end" dy="4">%s</text>'):format(LEFT - 6, y, M.esc(M.tick(v, step)))
  end
  local span = fr.t1 - fr.t0
  local ts = time_step(span, 6)
  for t = math.ceil(fr.t0 / ts) * ts, fr.t1, ts do
    local x = f1(fr.x(t))
    out[#out + 1] = ('<line x1="%s" x2="%s" y1="%d" y2="%d" stroke="#999"/>'):format(x, x, H - BOTTOM, H - BOTTOM + 4)
    out[#out + 1] = ('<text x="%s" y="%d" text-anchor="middle">%s</text>'):format(x, H - BOTTOM + 16, fmt_time(t, span))
  end
  out[#out + 1] = ('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#999"/>'):format(LEFT, W - RIGHT, H - BOTTOM, H - BOTTOM)
  out[#out + 1] = ('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="#999"/>'):format(LEFT, LEFT, TOP, H - BOTTOM)
  out[#out + 1] = ('<text x="%d" y="%d" text-anchor="end">time (UTC)</text>'):format(W - RIGHT, H - 6)
  if unit and unit ~= "" then
    out[#out + 1] = ('<text class="unit" transform="translate(14,%d) rotate(-90)" text-anchor="middle">%s</text>')
      :format(TOP + (H - TOP - BOTTOM) // 2, M.esc(unit))
  end
  out[#out + 1] = "</g>"
end

local function threshold(out, fr, name, value, color, unit)
  value = num(value)
  if not value then return end
  local y = f1(fr.y(value))
  out[#out + 1] = ('<line class="threshold %s" data-value="%s" x1="%d" x2="%d" y1="%s" y2="%s" stroke="%s" '
    .. 'stroke-width="1.5" stroke-dasharray="6 4"/>'):format(name, numattr(value), LEFT, W - RIGHT, y, y, color)
  out[#out + 1] = ('<text x="%d" y="%s" dy="-3" text-anchor="end" font-size="11" fill="%s">%s %s%s</text>')
    :format(W - RIGHT - 2, y, color, name, M.esc(M.tick(value, math.abs(value) / 100 + 1e-12)),
      unit and unit ~= "" and (" " .. M.esc(unit)) or "")
end

local function marker(out, fr, m)
  local t = num(m.t)
  if not t or t < fr.t0 or t > fr.t1 then return end
  local x = f1(fr.x(t))
  out[#out + 1] = ('<g class="marker" data-t="%s"><line x1="%s" x2="%s" y1="%d" y2="%d" stroke="#2a7" '
    .. 'stroke-width="2"/><text x="%s" y="%d" dx="3" font-size="11" fill="#2a7">%s</text></g>')
    :format(numattr(t), x, x, TOP, H - BOTTOM, x, TOP + 10, M.esc(m.label or "fix applied"))
end

local function polyline(out, fr, s, i)
  local pts = M.downsample(s.pts, fr.t0, fr.t1, M.PLOT_W)
  local xy = {}
  for k, p in ipairs(pts) do xy[k] = f1(fr.x(p[1])) .. "," .. f1(fr.y(p[2])) end
  out[#out + 1] = ('<polyline class="series" data-series="%s" data-points="%d" data-total="%d" fill="none" '
    .. 'stroke="%s" stroke-width="1.5" points="%s"/>'):format(M.esc(s.name), #pts, s.total or #s.pts,
      COLORS[(i - 1) % #COLORS + 1], table.concat(xy, " "))
  return #pts
end

local function legend(out, series)
  if #series < 2 then return end
  local x = LEFT
  for i, s in ipairs(series) do
    if x > W - 120 then break end
    out[#out + 1] = ('<rect x="%d" y="%d" width="10" height="3" fill="%s"/><text x="%d" y="%d" font-size="11">%s</text>')
      :format(x, TOP - 12, COLORS[(i - 1) % #COLORS + 1], x + 14, TOP - 8, M.esc(s.name:sub(1, 28)))
    x = x + 24 + 6.5 * math.min(#s.name, 28)
  end
end

-- The series of a chart spec: c.series = { {name, points} } or c.points.
local function series_of(c)
  local list = c.series or (c.points and { { name = c.title, points = c.points } }) or {}
  local out = {}
  for i, s in ipairs(list) do
    -- total: the samples the series had before the run document bounded it
    out[i] = { name = tostring(s.name or s.label or ("series " .. i)), pts = clean(s.points), total = tonumber(s.total) }
  end
  return out
end

--- chart(c, {markers = {{t, label}}}) -> svg text
-- c: {title, unit?, warn?, crit?, series = { {name, points = {{t, v}, ...}} } | points}
function M.chart(c, opts)
  opts = opts or {}
  local series = series_of(c)
  local markers = opts.markers or {}
  local t0, t1 = time_range(series, markers)
  local lo, hi, step = value_range(series, c)
  local fr = frame(t0, t1, lo, hi)
  local out = { ('<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="%d" height="%d" '
    .. 'viewBox="0 0 %d %d" data-lo="%s" data-hi="%s" data-top="%d" data-bottom="%d" data-t0="%s" data-t1="%s" '
    .. 'data-left="%d" data-right="%d">'):format(W, H, W, H, numattr(lo), numattr(hi), TOP, H - BOTTOM,
      numattr(t0), numattr(t1), LEFT, W - RIGHT),
    ("<title>%s</title>"):format(M.esc(c.title or "chart")),
    ('<text x="%d" y="16" font-size="13" font-weight="bold">%s</text>'):format(LEFT, M.esc(c.title or "")) }
  axes(out, fr, step, c.unit)
  legend(out, series)
  local drawn = 0
  for i, s in ipairs(series) do drawn = drawn + polyline(out, fr, s, i) end
  if drawn == 0 then
    out[#out + 1] = ('<text x="%d" y="%d" text-anchor="middle" fill="#999">no data</text>'):format(W // 2, H // 2)
  end
  threshold(out, fr, "warn", c.warn, "#d08c00", c.unit)
  threshold(out, fr, "crit", c.crit, "#c62828", c.unit)
  for _, m in ipairs(markers) do marker(out, fr, m) end
  out[#out + 1] = "</svg>"
  return table.concat(out, "\n")
end

--- timeline(rows, {markers}) -> svg text
-- rows: { {label, t0, t1, class = "ok"|"failed"|..., title?} }: one bar per row.
local ROW_H = 18
local TL_COLORS = { ok = "#4caf50", failed = "#c62828", planned = "#90a4ae", applied = "#2a7",
  running = "#1f77b4", run = "#37474f" }
function M.timeline(rows, opts)
  opts = opts or {}
  local t0, t1 = math.huge, -math.huge
  for _, r in ipairs(rows) do
    local a, b = num(r.t0), num(r.t1) or num(r.t0)
    if a then t0, t1 = math.min(t0, a), math.max(t1, b) end
  end
  if t0 == math.huge then t0, t1 = 0, 1 end
  if t1 - t0 < 0.01 then t1 = t0 + 0.01 end
  local lw = 220
  local h = TOP + #rows * ROW_H + BOTTOM
  local pw = W - lw - RIGHT
  local function x(t) return lw + (t - t0) / (t1 - t0) * pw end
  local out = { ('<svg xmlns="http://www.w3.org/2000/svg" class="timeline" role="img" width="%d" height="%d" '
    .. 'viewBox="0 0 %d %d" data-rows="%d"><title>%s</title>'):format(W, h, W, h, #rows, M.esc(opts.title or "timeline")) }
  local span, ts = t1 - t0, time_step(t1 - t0, 5)
  for k = math.ceil(t0 / ts), math.floor(t1 / ts) do
    local t = k * ts
    local xx = f1(x(t))
    out[#out + 1] = ('<line x1="%s" x2="%s" y1="%d" y2="%d" stroke="#eee"/><text x="%s" y="%d" font-size="11" '
      .. 'text-anchor="middle" fill="#444">%s</text>'):format(xx, xx, TOP - 4, h - BOTTOM, xx, h - BOTTOM + 16, fmt_time(t, span))
  end
  for i, r in ipairs(rows) do
    local y = TOP + (i - 1) * ROW_H
    local a = num(r.t0)
    out[#out + 1] = ('<text x="%d" y="%d" font-size="11" text-anchor="end">%s</text>')
      :format(lw - 6, y + 13, M.esc(tostring(r.label or ""):sub(1, 34)))
    if a then
      local b = num(r.t1) or a
      out[#out + 1] = ('<rect class="bar %s" x="%s" y="%d" width="%s" height="%d" fill="%s"><title>%s</title></rect>')
        :format(M.esc(r.class or "ok"), f1(x(a)), y + 3, f1(math.max(2, x(b) - x(a))), ROW_H - 6,
          TL_COLORS[r.class] or TL_COLORS.ok, M.esc(r.title or r.label or ""))
    end
  end
  for _, m in ipairs(opts.markers or {}) do
    local t = num(m.t)
    if t and t >= t0 and t <= t1 then
      local xx = f1(x(t))
      out[#out + 1] = ('<g class="marker"><line x1="%s" x2="%s" y1="%d" y2="%d" stroke="#2a7" stroke-width="2"/>'
        .. '<text x="%s" y="%d" dx="3" font-size="11" fill="#2a7">%s</text></g>')
        :format(xx, xx, TOP - 10, h - BOTTOM, xx, TOP - 12, M.esc(m.label or ""))
    end
  end
  out[#out + 1] = "</svg>"
  return table.concat(out, "\n")
end

--- spark(points, n) -> a text sparkline of at most n characters, min, max
-- (for the terminal and Markdown: the same downsampling as the charts)
local BARS = { "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█" }
function M.spark(points, n)
  local pts = clean(points)
  if #pts == 0 then return "", nil, nil end
  n = n or 40
  local lo, hi = math.huge, -math.huge
  for _, p in ipairs(pts) do lo, hi = math.min(lo, p[2]), math.max(hi, p[2]) end
  local t0, t1 = pts[1][1], pts[#pts][1]
  local sums, counts = {}, {}
  for _, p in ipairs(pts) do
    local b = t1 > t0 and math.min(n - 1, math.floor((p[1] - t0) / (t1 - t0) * n)) or 0
    sums[b] = math.max(sums[b] or -math.huge, p[2])
    counts[b] = true
  end
  local out = {}
  for b = 0, n - 1 do
    if counts[b] then
      local k = hi > lo and math.floor((sums[b] - lo) / (hi - lo) * 7 + 0.5) + 1 or 1
      out[#out + 1] = BARS[k]
    end
  end
  return table.concat(out), lo, hi
end

return M
