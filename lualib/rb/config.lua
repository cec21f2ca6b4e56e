-- rb.config — named target environments (--config FILE, --env NAME).
-- The file is YAML:
--   default: lab
--   environments:
--     lab:
--       prometheus: http://127.0.0.1:9090
--       postgres: postgresql://tmi@127.0.0.1:5432/tmi
--       redis: redis://127.0.0.1:6379/0
--       kubeconfig: /path/to/kubeconfig
--       kube_context: lab
--       namespace: tmi
--       http: { api: http://127.0.0.1:8080 }
-- Without --config, $RUNBOOK_CONFIG, then $XDG_CONFIG_HOME/runbook/config.yaml
-- (~/.config/...) are read if present. Targets not set there fall back to
-- environment variables (see rb.target).
local yaml = require "rb.yaml"

local M = {}

local function default_file()
  local e = os.getenv("RUNBOOK_CONFIG")
  if e and e ~= "" then return e end
  local x, h = os.getenv("XDG_CONFIG_HOME"), os.getenv("HOME")
  local p = (x and x ~= "" and x .. "/runbook/config.yaml") or (h and h .. "/.config/runbook/config.yaml")
  if p then
    local f = io.open(p, "r")
    if f then f:close(); return p end
  end
end

-- Reads and decodes the config file; returns doc, file | nil (no file) | nil, err.
local function read_doc(file)
  local explicit = file ~= nil
  file = file or default_file()
  if not file then return nil end
  local f, ferr = io.open(file, "r")
  if not f then return nil, (explicit and "" or "config: ") .. ferr end
  local text = f:read("a")
  f:close()
  local doc, err = yaml.decode(text)
  if err then return nil, ("%s:%d: %s"):format(file, err.line or 0, err.message) end
  if type(doc) ~= "table" or type(doc.environments) ~= "table" then
    return nil, ("%s: expected a mapping with 'environments'"):format(file)
  end
  return doc, file
end

--- settings(file?) -> {policy?, allowed_signers?, signing_key?} | nil, err: the
-- config file's top-level settings for saved plans and approvals.
function M.settings(file)
  local doc, err = read_doc(file)
  if not doc then
    if err then return nil, err end
    return {}
  end
  return { policy = doc.policy, allowed_signers = doc.allowed_signers, signing_key = doc.signing_key }
end

--- load(file?, env?) -> targets, env_name | nil, err
function M.load(file, env)
  local doc, file_or_err = read_doc(file)
  if not doc then
    if file_or_err then return nil, file_or_err end
    if env then return nil, ("--env %s given but no config file (use --config FILE or $RUNBOOK_CONFIG)"):format(env) end
    return {}, nil
  end
  file = file_or_err
  env = env or doc.default
  if not env then return {}, nil end
  local t = doc.environments[env]
  if type(t) ~= "table" then
    local names = {}
    for k in pairs(doc.environments) do names[#names + 1] = tostring(k) end
    table.sort(names)
    return nil, ("%s: no environment '%s' (environments: %s)"):format(file, env, table.concat(names, ", "))
  end
  return t, env
end

return M
