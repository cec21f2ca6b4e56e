-- The TMI Performance Issues Runbook (../shared/seed/performance-issues-runbook.md),
-- encoded. Params name the targets the seed's commands use; thresholds are the
-- seed's "Performance Thresholds" table, used alike by ctx:check, `runbook
-- triage` and `runbook export-alerts`.
local rb = require "rb"

return rb.book {
  id = "tmi",
  title = "TMI Performance Issues Runbook",
  description = "Diagnosing and resolving performance issues in the TMI application.",
  params = {
    namespace = "tmi",
    deployment = "tmi-api",
    container = "tmi-api",
    api_service = "tmi-api-service",
    postgres_pod = "postgres-0",
    redis_pod = "redis-0",
    pprof_port = 6060,
    api_port = 8080,
    -- direct addresses, when the engine can reach the services without the
    -- cluster (empty: the environment's targets, pprof through the API server)
    api_url = "", pprof_url = "", postgres_url = "", redis_url = "",
    -- the seed's "Memory usage > 85% of limit" needs the limit (bytes)
    memory_limit_bytes = 536870912,
    -- PromQL range for rates, as in the seed
    window = "5m",
  },
  thresholds = {
    -- | 95th percentile response time | < 500ms | 500ms - 2s | > 2s |
    p95_response_time = {
      title = "95th percentile response time", warn = 0.5, crit = 2, unit = "s",
      query = "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[{{window}}])))",
      alert = "HighResponseTime", summary = "High response time detected",
      sections = { "high-response-time", "database", "cache", "network-latency" },
    },
    -- | Error rate | < 1% | 1% - 5% | > 5% |
    error_rate = {
      title = "Error rate", warn = 1, crit = 5, unit = "%",
      query = '(sum(rate(http_requests_total{status=~"5.."}[{{window}}])) or vector(0)) / sum(rate(http_requests_total[{{window}}])) * 100',
      alert = "HighErrorRate", summary = "High error rate detected",
      sections = { "high-response-time", "database", "network-latency" },
    },
    -- | CPU utilization | < 70% | 70% - 85% | > 85% |
    cpu_utilization = {
      title = "CPU utilization", warn = 70, crit = 85, unit = "%",
      query = "max(rate(process_cpu_seconds_total[{{window}}]) * 100)",
      alert = "HighCPUUsage", summary = "High CPU usage detected",
      sections = { "high-cpu", "goroutine-leaks" },
    },
    -- | Memory usage | < 70% | 70% - 85% | > 85% |  (of the memory limit)
    memory_usage = {
      title = "Memory usage", warn = 70, crit = 85, unit = "%",
      query = "max(go_memstats_heap_inuse_bytes) / {{memory_limit_bytes}} * 100",
      alert = "HighMemoryUsage", summary = "High memory usage detected",
      sections = { "high-memory", "goroutine-leaks" },
    },
    -- | Goroutines | < 1000 | 1000 - 5000 | > 5000 |
    goroutines = {
      title = "Goroutines", warn = 1000, crit = 5000, unit = "",
      query = "max(go_goroutines)",
      alert = "HighGoroutineCount", summary = "High goroutine count detected",
      sections = { "goroutine-leaks", "high-memory" },
    },
  },
  sections = {
    "performance-indicators", "high-response-time", "high-cpu", "high-memory", "database",
    "cache", "network-latency", "goroutine-leaks", "performance-optimization",
  },
}
