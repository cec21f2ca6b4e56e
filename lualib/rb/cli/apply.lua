-- rb.cli.apply — `runbook apply FILE [flags]`: carries out exactly a saved,
-- approved plan. Refuses a plan changed after it was made, a changed book,
-- an expired plan, missing approvals (policy) and drift: every resolve step
-- is planned again against the live systems and must equal what was
-- approved before anything is sent; each write is then matched to the
-- approved action by the gate. The audit links the plan digest, each
-- approval and each result.
local args = require "rb.cli.args"
local runner = require "rb.runner"
local setup = require "rb.cli.setup"
local planfile = require "rb.planfile"
local approvals = require "rb.approvals"
local show = require "rb.cli.show_plan"
local ui = require "rb.ui"
local sys = require "rb._sys"

local HELP = [[
usage: runbook apply FILE [--set KEY=VALUE] [--env NAME] [--config FILE] [--context NAME]
                     [-n NS] [--kubeconfig FILE] [--audit FILE] [--output text|json]

Checks the plan's digest, that the book is unchanged, expiry and the
approvals against the policy; plans every resolve step again and compares it
with the approved plan (any drift stops before anything is sent); then
applies it. Params are the plan's; a secret param (redacted in the file) must
be given again with --set, and must be the same value.
exit: 0 applied, 1 a step failed or a fix was not verified, 2 usage/load
error, 3 refused (changed, expired, not approved, drift)
]]

local SPEC = {
  flags = { help = true },
  options = { env = true, config = true, context = true, namespace = true, kubeconfig = true, audit = true,
    output = true },
  ["repeat"] = { set = true },
  alias = { n = "namespace", h = "help" },
}

-- The plan's params as --set strings; secret ones from sets, checked by digest.
local function params_of(plan, sets)
  local out = {}
  for k, v in pairs(plan.params) do
    if type(v) == "table" and v.redacted then
      local given = sets[k]
      if not given then return nil, ("param '%s' is a secret the plan does not keep: give it with --set %s=..."):format(k, k) end
      if sys.sha256(given) ~= v.sha256 then return nil, ("param '%s' is not the value the plan was made with"):format(k) end
      out[k] = given
    else
      out[k] = tostring(v)
    end
  end
  for k in pairs(sets) do
    if plan.params[k] == nil or type(plan.params[k]) ~= "table" then
      return nil, ("--set %s: apply uses the plan's params; only secret params are given again"):format(k)
    end
  end
  return out
end

local function refuse(msg) io.stderr:write("runbook: apply refused: ", msg, "\n"); return 3 end

return function(argv)
  local o, pos = args.parse(argv, SPEC)
  if not o then return args.usage(pos, HELP) end
  if o.help then io.stdout:write(HELP); return 0 end
  if #pos ~= 1 then return args.usage("apply needs a FILE", HELP) end
  local sets, serr = args.sets(o.set)
  if not sets then return args.usage(serr, HELP) end
  local plan, err = planfile.read(pos[1])
  if not plan then return refuse(err) end
  if os.time() > plan.expires_unix then return refuse(("the plan expired at %s: make a new one"):format(plan.expires)) end
  local section, settings = setup.section(o, nil, function() return planfile.resolve(plan) end)
  if not section then return setup.fail(settings) end
  local now = planfile.book_digest(planfile.source_dir(section))
  if now ~= plan.book.digest then
    return refuse(("the book changed since the plan was made (its files hash to %s, the plan was made with %s)")
      :format(now, plan.book.digest))
  end
  local policy, perr = setup.policy(section, settings)
  if not policy then return setup.fail(perr) end
  local out = ui.new(o.output == "json" and io.stderr or io.stdout)
  local enough, counted = show.judge(out, plan, policy, settings.allowed_signers)
  if not enough then
    return refuse(("the plan needs %d approval(s) and has %d that count (see above); runbook approve %s")
      :format(planfile.required(plan, policy), #counted, pos[1]))
  end
  local params, cerr = params_of(plan, sets)
  if not params then return refuse(cerr) end
  local by, audit_approvals = {}, {}
  for i, a in ipairs(counted) do
    by[i] = a.user
    audit_approvals[i] = { user = a.user, at = a.at, signed = a.signature ~= nil }
  end
  local run, rerr = runner.new { section = section, set = params, resolve_only = true, audit = o.audit,
    output = o.output, policy = policy, approved = { plan = plan, by = by, audit = audit_approvals } }
  if not run then return setup.fail(rerr) end
  local code = run:execute()
  if o.output == "json" then io.stdout:write(require("rb.report").json(run), "\n") end
  return code
end
