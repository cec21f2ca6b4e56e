-- rb.pprof (Lua half): fetching profiles from a Go program's net/http/pprof
-- endpoints and comparing goroutine dumps. Extends the C module
-- (engine/bind/pprof.c: parse, goroutines, Profile methods), which the
-- loader passes in as `...`. Fetching goes through rb.http, so the gate,
-- redaction and audit apply there; everything here is a read.
local M = ...
local new_error = M._error
M._error = nil

-- kind -> the path under /debug/pprof/ and whether the body is profile.proto
M.kinds = {
  profile = "profile", heap = "heap", allocs = "allocs", goroutine = "goroutine",
  block = "block", mutex = "mutex", threadcreate = "threadcreate",
}

local function argerror(n, fname, msg)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), 3)
end

local function fail(kind, fmt, ...)
  return nil, new_error(kind, fmt:format(...))
end

local function query(kind, opts)
  if kind == "profile" then
    return ("?seconds=%d"):format(opts.seconds or 30)
  elseif kind == "goroutine" then
    return ("?debug=%d"):format(opts.debug or 2)
  elseif opts.seconds then  -- heap, allocs, block, mutex: a delta profile over N seconds
    return ("?seconds=%d"):format(opts.seconds)
  end
  return ""
end

-- The GET itself: a base URL through rb.http, a pod through rb.k8s.
local function get(target, path, timeout)
  if type(target) == "string" then
    local http = require "rb.http"
    return http.get(target:gsub("/+$", "") .. path, { timeout = timeout })
  end
  local ok, k8s = pcall(require, "rb.k8s")
  if not ok or type(k8s) ~= "table" or not k8s.proxy_get then
    error("rb.pprof.fetch: rb.k8s not available: pod targets need the Kubernetes binding", 3)
  end
  -- target.client: an rb.k8s client; else the run's (--context, -n, --kubeconfig)
  if target.client then return target.client:proxy_get(target, path, { timeout = timeout }) end
  return k8s.proxy_get(target, path, { timeout = timeout })
end

local function describe(target)
  if type(target) == "string" then return target end
  return ("pod %s/%s:%s"):format(target.namespace or "default", target.pod, tostring(target.port or ""))
end

-- The decoder's bounds (pprof.parse's options), taken from fetch's options.
local function limits(opts)
  return { max_bytes = opts.max_bytes, max_samples = opts.max_samples, max_memory = opts.max_memory }
end

--- fetch(target, kind, {seconds, timeout, debug, raw, max_bytes, max_samples, max_memory})
---   -> value, body | nil, err
-- target: "http://host:port" or {pod = NAME, namespace = NS, port = N, client?}
-- (through the API server proxy with rb.k8s; client: an rb.k8s client).
-- Returns a Profile (profile.proto kinds) or a goroutine summary (kind
-- "goroutine", debug 1 or 2), and the raw body; with raw = true only the body.
-- max_*: the decoder's bounds (see pprof.parse). Nothing is written to disk:
-- the body is returned, and a caller that wants to keep it puts it in a report.
function M.fetch(target, kind, opts)
  local tt = type(target)
  if tt ~= "string" and not (tt == "table" and type(target.pod) == "string") then
    argerror(1, "fetch", "base URL or {pod = NAME, namespace = NS, port = N} expected")
  end
  if not M.kinds[kind] then
    local names = {}
    for k in pairs(M.kinds) do names[#names + 1] = k end
    table.sort(names)
    argerror(2, "fetch", "kind must be one of " .. table.concat(names, "|"))
  end
  opts = opts or {}
  if type(opts) ~= "table" then argerror(3, "fetch", "table expected") end
  local seconds = opts.seconds
  if kind == "profile" then seconds = seconds or 30 end
  if seconds ~= nil and (math.type(seconds) ~= "integer" or seconds < 1) then
    argerror(3, "fetch", "seconds must be a positive integer")
  end
  local timeout = opts.timeout or ((seconds or 0) + 30)
  if seconds then
    io.stderr:write(("pprof: taking a %d s %s profile of %s (until %s) ...\n")
      :format(seconds, kind == "profile" and "CPU" or kind, describe(target),
               os.date("!%H:%M:%SZ", os.time() + seconds)))
  end
  local path = "/debug/pprof/" .. M.kinds[kind] .. query(kind, { seconds = seconds, debug = opts.debug })
  local started = os.time()
  local http = require "rb.http"
  if seconds then http.progress(("pprof: %s profile"):format(kind == "profile" and "CPU" or kind), seconds) end
  local resp, err = get(target, path, timeout)
  if seconds then
    http.progress(nil)
    io.stderr:write(("pprof: %s after %d s\n"):format(resp and "done" or "failed", os.time() - started))
  end
  if not resp then return nil, err end
  if resp.status ~= 200 then
    local e = new_error("http", ("GET %s%s: status %d: %s"):format(describe(target), path, resp.status,
      (resp.body or ""):sub(1, 200):gsub("%s+$", "")))
    e.status = resp.status
    return nil, e
  end
  if opts.raw then return resp.body end
  if kind == "goroutine" and (opts.debug or 2) > 0 then
    local dump, perr = M.goroutines(resp.body)
    if not dump then return nil, perr end
    return dump, resp.body
  end
  local prof, perr = M.parse(resp.body, limits(opts))
  if not prof then return nil, perr end
  return prof, resp.body
end

local function group_key(g)
  return table.concat({ g.state or "", g.top or "", g.entry or "", g.created_by or "", g.labels or "" }, "\31")
end

local function summary(x, n, fname)
  if type(x) == "string" then
    local d, err = M.goroutines(x)
    if not d then error(("rb.pprof.%s: argument #%d: %s"):format(fname, n, tostring(err)), 3) end
    return d
  end
  if type(x) ~= "table" or type(x.groups) ~= "table" then
    argerror(n, fname, "goroutine dump text or pprof.goroutines() result expected")
  end
  return x
end

-- Where a goroutine comes from: its creator, or (debug=1, main) its entry.
local function origin(g) return g.created_by or g.entry or "" end

local function counts(dump)
  local by_key, by_origin = {}, {}
  for _, g in ipairs(dump.groups) do
    local k, o = group_key(g), origin(g)
    by_key[k] = (by_key[k] or 0) + g.count
    by_origin[o] = (by_origin[o] or 0) + g.count
  end
  return by_key, by_origin
end

--- goroutine_growth(before, after, {min = 1}) -> list of groups that grew
-- before/after: dump texts or pprof.goroutines() results. A group grew when
-- it has at least `min` more goroutines and so do all the goroutines of its
-- origin (creator): goroutines that only changed state between the dumps (a
-- pool worker going from select to chan send, a connection's reader parking)
-- are not growth. Each row is the `after` group plus before, after and
-- delta counts; largest growth first.
function M.goroutine_growth(before, after, opts)
  before = summary(before, 1, "goroutine_growth")
  after = summary(after, 2, "goroutine_growth")
  local min = (opts and opts.min) or 1
  local was, was_origin = counts(before)
  local _, now_origin = counts(after)
  local rows = {}
  for _, g in ipairs(after.groups) do
    local b, o = was[group_key(g)] or 0, origin(g)
    if g.count - b >= min and now_origin[o] - (was_origin[o] or 0) >= min then
      local row = {}
      for k, v in pairs(g) do row[k] = v end
      row.before, row.after, row.delta = b, g.count, g.count - b
      rows[#rows + 1] = row
    end
  end
  table.sort(rows, function(x, y)
    if x.delta ~= y.delta then return x.delta > y.delta end
    return (x.top or "") < (y.top or "")
  end)
  rows.total_before, rows.total_after = before.total, after.total
  return rows
end

return M
