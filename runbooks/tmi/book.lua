-- The TMI Performance Issues Runbook (../shared/seed/performance-issues-runbook.md),
-- encoded. Params name the targets the seed's commands use; thresholds are the
-- seed's "Performance Thresholds" table (origin = "seed"), used alike by
-- ctx:check, `runbook triage` and `runbook export-alerts`, and the book's own
-- cheap indicators (origin = "book"), one or more per section the seed's
-- table cannot see, so triage puts the section that can diagnose a fault
-- first (docs/tmi-mapping.md). A threshold's first section owns it.
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
    -- the Redis pod's memory limit (the cluster's redis-0: 256Mi), for the
    -- book's Redis memory indicator when Redis itself sets no maxmemory
    redis_memory_limit_bytes = 268435456,
    -- PromQL range for rates, as in the seed; triage also reads rates over
    -- short_window and counts the worse (a fault a minute old shows)
    window = "5m", short_window = "1m",
  },
  thresholds = {
    -- | 95th percentile response time | < 500ms | 500ms - 2s | > 2s |
    p95_response_time = {
      title = "95th percentile response time", warn = 0.5, crit = 2, unit = "s",
      query = "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[{{window}}])))",
      alert = "HighResponseTime", origin = "seed", summary = "High response time detected",
      sections = { "high-response-time", "database", "cache", "network-latency" },
    },
    -- | Error rate | < 1% | 1% - 5% | > 5% |
    error_rate = {
      title = "Error rate", warn = 1, crit = 5, unit = "%",
      query = '(sum(rate(http_requests_total{status=~"5.."}[{{window}}])) or vector(0)) / sum(rate(http_requests_total[{{window}}])) * 100',
      alert = "HighErrorRate", origin = "seed", summary = "High error rate detected",
      sections = { "high-response-time", "database", "network-latency" },
    },
    -- | CPU utilization | < 70% | 70% - 85% | > 85% |
    cpu_utilization = {
      title = "CPU utilization", warn = 70, crit = 85, unit = "%",
      query = "max(rate(process_cpu_seconds_total[{{window}}]) * 100)",
      alert = "HighCPUUsage", origin = "seed", summary = "High CPU usage detected",
      sections = { "high-cpu", "goroutine-leaks" },
    },
    -- | Memory usage | < 70% | 70% - 85% | > 85% |  (of the memory limit)
    memory_usage = {
      title = "Memory usage", warn = 70, crit = 85, unit = "%",
      query = "max(go_memstats_heap_inuse_bytes) / {{memory_limit_bytes}} * 100",
      alert = "HighMemoryUsage", origin = "seed", summary = "High memory usage detected",
      sections = { "high-memory", "goroutine-leaks" },
    },
    -- | Goroutines | < 1000 | 1000 - 5000 | > 5000 |
    goroutines = {
      title = "Goroutines", warn = 1000, crit = 5000, unit = "",
      query = "max(go_goroutines)",
      alert = "HighGoroutineCount", origin = "seed", summary = "High goroutine count detected",
      sections = { "goroutine-leaks", "high-memory" },
    },

    -- The book's own indicators (not in the seed's table): what triage needs
    -- to see the faults the five above cannot. PromQL only; the database ones
    -- read a postgres_exporter's metrics.
    db_query_p95 = {
      title = "95th percentile database query time", warn = 0.1, crit = 1, unit = "s", origin = "book",
      query = "histogram_quantile(0.95, sum by (le) (rate(db_query_duration_seconds_bucket[{{window}}])))",
      alert = "HighDatabaseQueryTime", summary = "Slow database queries",
      sections = { "database" },
    },
    db_pool_usage = {
      title = "Database connection pool usage", warn = 70, crit = 85, unit = "%", origin = "book",
      query = "max(db_connections_active / db_connections_max * 100)",
      alert = "DatabasePoolExhausted", summary = "Database connection pool nearly exhausted",
      sections = { "database" },
    },
    db_blocked_sessions = {
      title = "Sessions waiting on a lock", warn = 1, crit = 1, unit = "", origin = "book",
      query = "max(pg_stat_activity_blocked_sessions)",
      alert = "DatabaseLockContention", summary = "Database sessions blocked on locks",
      sections = { "database" },
    },
    db_oldest_query = {
      title = "Oldest running database query", warn = 30, crit = 300, unit = "s", origin = "book",
      query = "max(pg_stat_activity_oldest_active_seconds)",
      alert = "LongRunningQuery", summary = "A database query has been running for minutes",
      sections = { "database" },
    },
    db_seq_scans = {
      title = "Sequential scans per second", warn = 5, crit = 15, unit = "/s", origin = "book",
      query = "max(rate(pg_stat_user_tables_seq_scan_total[{{window}}]))",
      alert = "HighSequentialScans", summary = "Tables read by sequential scans (missing index?)",
      sections = { "database" },
    },
    cache_hit_rate = {
      title = "Cache hit rate", warn = 80, crit = 50, unit = "%", higher_is_worse = false, origin = "book",
      query = "sum(rate(redis_cache_hits_total[{{window}}])) / sum(rate(redis_cache_operations_total[{{window}}])) * 100",
      alert = "LowCacheHitRate", summary = "Cache hit rate is low",
      sections = { "cache", "high-response-time" },
    },
    redis_memory = {
      title = "Redis memory usage", warn = 70, crit = 85, unit = "%", origin = "book",
      query = "max(redis_memory_used_bytes) / {{redis_memory_limit_bytes}} * 100",
      alert = "HighRedisMemory", summary = "Redis memory near its limit",
      sections = { "cache" },
    },
  },
  sections = {
    "performance-indicators", "high-response-time", "high-cpu", "high-memory", "database",
    "cache", "network-latency", "goroutine-leaks", "performance-optimization",
  },
}
