-- rb.serve — `runbook serve`: Alertmanager's webhook in, investigate-only
-- runs out (docs/serve.md). The HTTP side (rb._serve: libmicrohttpd driven
-- from this loop, no threads) calls handle() for each complete request;
-- rb.serve_runs owns the queue and the worker processes.
--
--   POST /alerts    webhook v4, authenticated (bearer token and/or client certificate)
--   GET  /runs      run summaries, newest first          (authenticated)
--   GET  /runs/ID   one run                               (authenticated)
--   GET  /healthz   liveness and queue state
--   GET  /metrics   Prometheus text, runbook_ prefix
local S = require "rb._serve"
local sys = require "rb._sys"
local core = require "rb._core"
local audit = require "rb.audit"
local alerts = require "rb.serve_alerts"
local metrics = require "rb.serve_metrics"
local runs_mod = require "rb.serve_runs"
local cjson = require("cjson").new()
cjson.encode_invalid_numbers("null")

local M = {}

local JSON = "application/json"
local TEXT = "text/plain; charset=utf-8"

local function json(status, v) return status, cjson.encode(v) .. "\n", JSON end
local function fail(status, msg) return json(status, { error = msg }) end

-- Both configured credentials must hold: the client certificate (TLS layer,
-- verified against serve.tls.client_ca) and the bearer token (constant-time).
local function authorized(srv, req)
  if srv.cfg.tls_pem and srv.cfg.tls_pem.client_ca and not req.client_verified then
    return false, "a client certificate signed by the configured CA is required"
  end
  if srv.cfg.token then
    local h = req.headers.authorization or ""
    local got = h:match("^[Bb]earer%s+(%S+)%s*$")
    if not got then return false, "missing bearer token (Authorization: Bearer ...)" end
    if not S.equal(got, srv.cfg.token) then return false, "bad bearer token" end
  end
  return true
end

local function post_alerts(srv, req)
  if srv.stopping then
    srv.m:add("alerts_dropped_total", { reason = "shutting_down" })
    return fail(503, "shutting down; send again")
  end
  local p, err = alerts.parse(req.body)
  if not p then return fail(400, err) end
  local res, why = srv.runs:admit(p)
  if not res then
    return 503, cjson.encode { error = "run queue full; send again later" } .. "\n", JSON
  end
  srv.runs:dispatch()
  if #res.runs == 0 then return 200, ('{"accepted":%d,"runs":[]}\n'):format(#p.alerts), JSON end
  return json(200, { accepted = #p.alerts, runs = res.runs })
end

local function routes(srv, req)
  local path, method = req.path, req.method
  if path == "/healthz" then
    if method ~= "GET" then return fail(405, "use GET") end
    return json(200, { status = srv.stopping and "stopping" or "ok", queue = #srv.runs.queue,
      running = srv.runs.nrunning })
  elseif path == "/metrics" then
    if method ~= "GET" then return fail(405, "use GET") end
    local st = srv.http:stats()
    srv.m:put("connections_closed_total", { reason = "request_timeout" }, st.timed_out)
    srv.m:put("connections_closed_total", { reason = "idle" }, st.idle_closed)
    return 200, srv.m:text(), "text/plain; version=0.0.4; charset=utf-8"
  end
  local known = path == "/alerts" or path == "/runs" or path:match("^/runs/[^/]+$")
  if not known then return fail(404, "no such endpoint (POST /alerts, GET /runs, /runs/ID, /healthz, /metrics)") end
  local ok, why = authorized(srv, req)
  if not ok then return 401, cjson.encode { error = why } .. "\n", JSON, { ["www-authenticate"] = 'Bearer realm="runbook"' } end
  if path == "/alerts" then
    if method ~= "POST" then return fail(405, "use POST") end
    return post_alerts(srv, req)
  end
  if method ~= "GET" then return fail(405, "use GET") end
  if path == "/runs" then
    local list = srv.runs:list()
    if #list == 0 then return 200, '{"runs":[]}\n', JSON end   -- cjson writes {} for an empty table
    return json(200, { runs = list })
  end
  local id = path:match("^/runs/([^/]+)$")
  local run = srv.runs:get(id)
  if not run then return fail(404, ("no run '%s'"):format(id)) end
  return json(200, run)
end

local function handle(srv, req)
  local status, body, ctype, headers = routes(srv, req)
  local p = req.path
  local label = (p == "/alerts" or p == "/runs" or p == "/healthz" or p == "/metrics") and p
    or p:match("^/runs/") and "/runs/ID" or "other"
  srv.m:add("requests_total", { path = label, code = tostring(status) })
  return status, body, ctype or TEXT, headers
end

local function open_audit(cfg)
  local path = cfg.audit or audit.default_path()
  return audit.open(path, { run = "serve-" .. sys.run_id():sub(1, 8), user = sys.user(), host = sys.hostname(),
    section = "serve", dry_run = false })
end

--- run(cfg) -> exit status. Serves until SIGTERM/SIGINT.
function M.run(cfg, log)
  log = log or function(fmt, ...) io.stderr:write(("runbook serve: " .. fmt .. "\n"):format(...)) end
  if cfg.token then sys.add_secret(cfg.token) end
  local ok, err = core.mkdir_private(cfg.reports)
  if not ok then log("reports directory: %s", err); return 2 end
  S.watch_signals()
  local srv = { cfg = cfg, m = metrics.new() }
  srv.alog = open_audit(cfg)
  srv.runs = runs_mod.new(cfg, srv.m, srv.alog)
  local tls = cfg.tls_pem or {}
  local http, lerr = S.listen { host = cfg.host, port = cfg.port, max_body = cfg.max_body,
    timeout = cfg.client_timeout, conn_limit = cfg.max_connections, cert = tls.cert, key = tls.key,
    client_ca = tls.client_ca }
  if not http then log("%s", lerr); return 2 end
  srv.http = http
  local recovered = srv.runs:recover()
  srv.alog:event("serve_start", { listen = ("%s:%d"):format(cfg.host, http:port()), recovered = recovered })
  log("listening on %s:%d%s (reports: %s; workers %d, queue %d)%s", cfg.host, http:port(),
    tls.cert and " (TLS)" or "", cfg.reports, cfg.workers, cfg.queue,
    recovered > 0 and ("; %d run(s) recovered from the journal"):format(recovered) or "")
  local handler = function(req) return handle(srv, req) end
  while not S.stopping() do
    srv.runs:dispatch()
    http:poll(100, handler)
    srv.runs:reap()
  end
  srv.stopping = true
  http:close()
  log("stopping: no new requests; %d run(s) running, %d queued", srv.runs.nrunning, #srv.runs.queue)
  local stopped, queued = srv.runs:shutdown()
  srv.alog:event("serve_stop", { interrupted = stopped, queued = queued })
  log("stopped (%d run(s) interrupted, %d queued; both run again at the next start)", #stopped, queued)
  return 0
end

return M
