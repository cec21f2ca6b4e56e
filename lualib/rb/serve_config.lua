-- rb.serve_config — `runbook serve` settings: defaults, the `serve:` mapping
-- of the config file (--config FILE), then the command-line flags. Every
-- value is checked here, so the server starts with a complete, valid table
-- or not at all. The same file may hold `environments:` (rb.config); runs
-- then get --config FILE (and --env when `serve.env` is set).
local yaml = require "rb.yaml"
local alerts = require "rb.serve_alerts"

local M = {}

M.DEFAULTS = {
  listen = "127.0.0.1:9095", reports = nil, audit = nil,
  workers = 2, queue = 64, run_timeout = 300, cooldown = 300, kill_grace = 5, shutdown_grace = 30,
  max_body = 1048576, client_timeout = 10, max_connections = 64, keep_runs = 500, seen_alerts = 10000,
  target_labels = { "namespace", "cluster", "env" }, mappings = {},
}

local INTS = { workers = { 1, 64 }, queue = { 1, 100000 }, run_timeout = { 1, 86400 }, cooldown = { 0, 86400 }, kill_grace = { 1, 300 },
  shutdown_grace = { 0, 3600 }, max_body = { 1024, 64 * 1048576 }, client_timeout = { 1, 600 },
  max_connections = { 1, 10000 }, keep_runs = { 1, 100000 }, seen_alerts = { 1, 1000000 } }
local STRINGS = { listen = true, reports = true, audit = true, token_file = true, env = true, run_config = true }

local function read(path, what)
  local f, err = io.open(path, "r")
  if not f then return nil, ("%s: %s"):format(what, err) end
  local s = f:read("a")
  f:close()
  return s
end

--- listen_addr("HOST:PORT" | "[V6]:PORT" | ":PORT") -> host, port | nil, err
function M.listen_addr(s)
  local host, port = s:match("^%[([%x:.]+)%]:(%d+)$")
  if not host then host, port = s:match("^([^:]*):(%d+)$") end
  port = tonumber(port)
  if not port or port > 65535 then
    return nil, ("--listen %q: expected HOST:PORT (e.g. 127.0.0.1:9095, 0.0.0.0:9095, [::1]:9095)"):format(s)
  end
  return host == "" and "0.0.0.0" or host, port
end

local function check(c)
  for k, r in pairs(INTS) do
    local v = c[k]
    if math.type(v) ~= "integer" or v < r[1] or v > r[2] then
      return nil, ("serve.%s must be an integer from %d to %d"):format(k, r[1], r[2])
    end
  end
  for k in pairs(STRINGS) do
    if c[k] ~= nil and type(c[k]) ~= "string" then return nil, ("serve.%s must be a string"):format(k) end
  end
  if not c.reports then return nil, "serve needs a reports directory (--reports DIR or serve.reports)" end
  if type(c.target_labels) ~= "table" then return nil, "serve.target_labels must be a list of label names" end
  local ok, err = alerts.check_mappings(c.mappings)
  if not ok then return nil, "serve." .. err end
  if c.notify ~= nil and (type(c.notify) ~= "table" or type(c.notify.url) ~= "string"
      or not c.notify.url:match("^https?://")) then
    return nil, "serve.notify.url must be an http(s) URL"
  end
  if c.plan ~= nil then
    return nil, "serve.plan: plan files for approval are not available in this version (see docs/serve.md)"
  end
  if c.set ~= nil and type(c.set) ~= "table" then return nil, "serve.set must map params to values" end
  c.set_list = {}
  for k, v in pairs(c.set or {}) do
    if type(k) ~= "string" or (type(v) ~= "string" and type(v) ~= "number" and type(v) ~= "boolean") then
      return nil, "serve.set must map param names to scalar values"
    end
    c.set_list[#c.set_list + 1] = k .. "=" .. tostring(v)
  end
  table.sort(c.set_list)
  c.host, c.port = M.listen_addr(c.listen)
  if not c.host then return nil, c.port end
  return c
end

local function tls(c)
  if c.tls == nil then return true end
  if type(c.tls) ~= "table" or type(c.tls.cert) ~= "string" or type(c.tls.key) ~= "string" then
    return nil, "serve.tls needs cert and key (PEM files)"
  end
  local t, err = {}, nil
  for _, k in ipairs { "cert", "key", "client_ca" } do
    if c.tls[k] then
      t[k], err = read(c.tls[k], "serve.tls." .. k)
      if not t[k] then return nil, err end
    end
  end
  c.tls_pem = t
  return true
end

--- token(c) -> the bearer token (RUNBOOK_SERVE_TOKEN, else serve.token_file) or nil
local function token(c)
  local t = os.getenv("RUNBOOK_SERVE_TOKEN")
  if t == "" then t = nil end
  if not t and c.token_file then
    local s, err = read(c.token_file, "serve.token_file")
    if not s then return nil, err end
    t = s:gsub("%s+$", "")
  end
  if t and #t < 16 then return nil, "the serve token must be at least 16 characters" end
  return t
end

--- load(opts) -> config | nil, err ; opts = {config=, listen=, reports=, audit=, env=}
function M.load(o)
  local c = {}
  for k, v in pairs(M.DEFAULTS) do c[k] = v end
  if o.config then
    local text, err = read(o.config, "config")
    if not text then return nil, err end
    local doc, yerr = yaml.decode(text)
    if yerr then return nil, ("%s:%d: %s"):format(o.config, yerr.line or 0, yerr.message) end
    if type(doc) ~= "table" or (doc.serve ~= nil and type(doc.serve) ~= "table") then
      return nil, ("%s: expected a mapping with 'serve'"):format(o.config)
    end
    for k, v in pairs(doc.serve or {}) do c[k] = v end
    c.config_file = doc.environments and o.config or nil
    if c.run_config ~= nil then
      if type(c.run_config) ~= "string" then return nil, "serve.run_config must be a file path" end
      c.config_file = c.run_config   -- the runs' environments in a file of their own (a Secret)
    end
  end
  for _, k in ipairs { "listen", "reports", "audit", "env" } do
    if o[k] then c[k] = o[k] end
  end
  local ok, err = check(c)
  if not ok then return nil, err end
  ok, err = tls(c)
  if not ok then return nil, err end
  local tk, terr = token(c)
  if terr then return nil, terr end
  c.token = tk
  if not c.token and not (c.tls_pem and c.tls_pem.client_ca) then
    return nil, "serve needs authentication: set RUNBOOK_SERVE_TOKEN (or serve.token_file), or serve.tls.client_ca"
  end
  return c
end

return M
