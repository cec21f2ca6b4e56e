-- Performance Indicators: the seed's "Key Metrics to Monitor", checked against
-- its "Performance Thresholds" table.
local rb = require "rb"
local tmi = require "tmi"

local S = rb.section {
  id = "performance-indicators", title = "Performance Indicators",
  symptoms = { "Slow API responses", "High resource utilization", "User experience degradation",
    "Timeout errors", "Reduced throughput" },
}

S:investigate("Response Time Metrics", function(ctx)
  tmi.indicators(ctx, { "p95_response_time" })
  local res, errs = tmi.prom(ctx).query_many {
    "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
    "sum(rate(http_request_duration_seconds_sum[5m])) / sum(rate(http_request_duration_seconds_count[5m]))",
  }
  ctx:log(("99th percentile response time: %s s"):format(tostring(res[1] and tmi.max_value(res[1]) or errs[1])))
  ctx:log(("average response time:         %s s"):format(tostring(res[2] and tmi.max_value(res[2]) or errs[2])))
end)

S:investigate("Throughput Metrics", function(ctx)
  tmi.indicators(ctx, { "error_rate" })
  local res = tmi.prom(ctx).query_many {
    "sum(rate(http_requests_total[5m]))",
    'sum(rate(http_requests_total{status!~"5.."}[5m]))',
  }
  ctx:log(("requests per second:            %s"):format(tostring(res[1] and tmi.max_value(res[1]))))
  ctx:log(("successful requests per second: %s"):format(tostring(res[2] and tmi.max_value(res[2]))))
end)

S:investigate("Resource Utilization", function(ctx)
  local v = tmi.indicators(ctx, { "cpu_utilization", "memory_usage", "goroutines" })
  local heap = tmi.prom(ctx).value("max(go_memstats_heap_inuse_bytes) / 1024 / 1024")
  ctx:log(("heap in use: %s MiB"):format(tostring(heap)))
  return v
end)

return S
