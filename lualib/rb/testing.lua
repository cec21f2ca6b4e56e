-- rb.testing — run a section from a busted spec the way `runbook run` would,
-- and get the run back as data: findings, per-step plans, answers, exit
-- status, the text it printed and the audit file it wrote.
--
--   local testing = require "rb.testing"
--   local res = testing.run("runbooks/tmi/cache.lua", { set = { base = url }, dry_run = true })
--   assert.equal(0, res.exit)
local loader = require "rb.loader"
local runner = require "rb.runner"
local audit = require "rb.audit"

local M = {}

--- run(section, opts) -> result | nil, err
-- section: a file path or "book/section"; opts: set (params), dry_run, yes,
-- investigate_only, resolve_only, step, audit (path; default a temp file),
-- env / config (targets, as `runbook run --env/--config`; without them the
-- targets `runbook lua` read from $RUNBOOK_CONFIG stay in force).
-- Without yes or dry_run, resolve steps are refused (no terminal), as in CI.
function M.run(section, opts)
  opts = opts or {}
  if opts.env or opts.config then
    local targets, terr = require("rb.config").load(opts.config, opts.env)
    if not targets then return nil, terr end
    require("rb")._set_targets(targets)
  end
  local s, err = loader.resolve(section)
  if not s then return nil, err end
  local set = {}
  for k, v in pairs(opts.set or {}) do set[k] = tostring(v) end
  local out = io.tmpfile()
  local path = opts.audit or os.tmpname()
  local run, rerr = runner.new {
    section = s, set = set, dry_run = opts.dry_run, yes = opts.yes, step = opts.step,
    investigate_only = opts.investigate_only, resolve_only = opts.resolve_only, audit = path, out = out,
  }
  if not run then return nil, rerr end
  local exit = run:execute()
  out:seek("set")
  local text = out:read("a")
  out:close()
  local steps = {}
  for i, r in ipairs(run.steps) do steps[i] = r; steps[r.title] = r end
  return {
    exit = exit, findings = run.findings, steps = steps, output = text, audit = path, run = run.id,
    audit_ok = (audit.verify(path)),
  }
end

--- level(result, name) -> the level of the check called name, or nil
function M.level(res, name)
  for _, f in ipairs(res.findings) do if f.name == name then return f.level end end
end

return M
