-- rb.cli.setup — what `run`, `plan` and `apply` share: targets from
-- --env/--config and the kubectl flags, the section, its params, and the
-- approval policy in force (book, then the config file's `policy`).
local loader = require "rb.loader"
local config = require "rb.config"
local approvals = require "rb.approvals"
local rb = require "rb"

local M = {}

--- targets(o) -> targets | nil, err
function M.targets(o)
  local t, err = config.load(o.config, o.env)
  if not t then return nil, err end
  if o.context then t.kube_context = o.context end
  if o.namespace then t.namespace = o.namespace end
  if o.kubeconfig then t.kubeconfig = o.kubeconfig end
  return t
end

--- section(o, spec, resolve?) -> section, settings, targets | nil, err: sets the
-- run's targets, loads the section (spec, or resolve() when given), reads the
-- config file's approval settings.
function M.section(o, spec, resolve)
  local targets, terr = M.targets(o)
  if not targets then return nil, terr end
  rb._set_targets(targets)
  local settings, serr = config.settings(o.config)
  if not settings then return nil, serr end
  local section, err
  if resolve then section, err = resolve() else section, err = loader.resolve(spec) end
  if not section then return nil, err end
  return section, settings, targets
end

--- policy(section, settings) -> policy | nil, err
function M.policy(section, settings)
  local ok, p = pcall(approvals.policy, section.book and section.book.policy, settings.policy)
  if not ok then return nil, p end
  return p
end

--- fail(msg) -> 2, after printing "runbook: msg"
function M.fail(msg, code)
  io.stderr:write("runbook: ", tostring(msg), "\n")
  return code or 2
end

return M
