-- rb.serve_metrics — the counters `runbook serve` keeps and their Prometheus
-- text exposition (GET /metrics, prefix runbook_). Pure Lua.
local M = {}

local BUCKETS = { 1, 5, 10, 30, 60, 120, 300, 600 }

local HELP = {
  alerts_received_total = { "counter", "Alerts received on /alerts, by status." },
  alerts_deduplicated_total = { "counter", "Firing alerts coalesced into a queued, running or finished run." },
  alerts_dropped_total = { "counter", "Alerts not run, by reason (unmapped, queue_full, shutting_down)." },
  runs_total = { "counter", "Finished runs by section and outcome." },
  findings_total = { "counter", "Findings of finished runs by level." },
  queue_depth = { "gauge", "Runs waiting for a worker." },
  runs_running = { "gauge", "Runs in progress." },
  requests_total = { "counter", "HTTP requests by path and status code." },
  notifications_total = { "counter", "Webhook notifications sent, by success." },
  connections_closed_total = { "counter",
    "Connections the server closed: request_timeout (408: a request not received whole within client_timeout), idle (no request within client_timeout)." },
}
local ORDER = { "alerts_received_total", "alerts_deduplicated_total", "alerts_dropped_total", "runs_total",
  "findings_total", "requests_total", "notifications_total", "connections_closed_total", "queue_depth", "runs_running" }

function M.new()
  return setmetatable({ c = {}, hist = { counts = {}, sum = 0, n = 0 } }, { __index = M })
end

local function esc(v) return (tostring(v):gsub("[\\\"\n]", { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" })) end

local function key(labels)
  if not labels then return "" end
  local names = {}
  for k in pairs(labels) do names[#names + 1] = k end
  table.sort(names)
  local parts = {}
  for _, k in ipairs(names) do parts[#parts + 1] = ('%s="%s"'):format(k, esc(labels[k])) end
  return "{" .. table.concat(parts, ",") .. "}"
end

--- add(name, labels?, n?)
function M:add(name, labels, n)
  local series = self.c[name] or {}
  self.c[name] = series
  local k = key(labels)
  series[k] = (series[k] or 0) + (n or 1)
end

--- put(name, labels, value): a counter kept elsewhere (the HTTP server's)
function M:put(name, labels, v)
  local series = self.c[name] or {}
  self.c[name] = series
  series[key(labels)] = v
end

--- set(name, value) for a gauge without labels
function M:set(name, v)
  self.c[name] = { [""] = v }
end

function M:get(name, labels)
  return (self.c[name] or {})[key(labels)] or 0
end

--- observe(seconds): one run's duration
function M:observe(s)
  local h = self.hist
  for i, b in ipairs(BUCKETS) do
    if s <= b then h.counts[i] = (h.counts[i] or 0) + 1 end
  end
  h.sum, h.n = h.sum + s, h.n + 1
end

local function num(v) return math.tointeger(v) and tostring(math.tointeger(v)) or ("%.6g"):format(v) end

--- text() -> Prometheus text format 0.0.4
function M:text()
  local out = {}
  for _, name in ipairs(ORDER) do
    local h = HELP[name]
    out[#out + 1] = ("# HELP runbook_%s %s\n# TYPE runbook_%s %s"):format(name, h[2], name, h[1])
    local series = self.c[name] or {}
    local ks = {}
    for k in pairs(series) do ks[#ks + 1] = k end
    table.sort(ks)
    if #ks == 0 and h[1] == "gauge" then out[#out + 1] = ("runbook_%s 0"):format(name) end
    for _, k in ipairs(ks) do out[#out + 1] = ("runbook_%s%s %s"):format(name, k, num(series[k])) end
  end
  local h = self.hist
  out[#out + 1] = "# HELP runbook_run_duration_seconds Wall time of finished runs.\n# TYPE runbook_run_duration_seconds histogram"
  for i, b in ipairs(BUCKETS) do
    out[#out + 1] = ('runbook_run_duration_seconds_bucket{le="%s"} %d'):format(num(b), h.counts[i] or 0)
  end
  out[#out + 1] = ('runbook_run_duration_seconds_bucket{le="+Inf"} %d'):format(h.n)
  out[#out + 1] = ("runbook_run_duration_seconds_sum %s"):format(num(h.sum))
  out[#out + 1] = ("runbook_run_duration_seconds_count %d"):format(h.n)
  return table.concat(out, "\n") .. "\n"
end

return M
