-- rb.cli.plan — `runbook plan SECTION -o FILE [run flags]`: investigate and
-- plan every resolve step (as --dry-run does: nothing is changed, Kubernetes
-- writes are validated with dryRun=All), then write a plan file that others
-- can approve and `runbook apply` can carry out exactly (docs/approvals.md).
local args = require "rb.cli.args"
local runner = require "rb.runner"
local setup = require "rb.cli.setup"
local planfile = require "rb.planfile"

local HELP = [[
usage: runbook plan SECTION -o FILE [--set KEY=VALUE] [--env NAME] [--config FILE]
                    [--context NAME] [-n NS] [--kubeconfig FILE] [--audit FILE] [--step NAME]

Runs the investigate steps of SECTION and the plan pass of its resolve steps
(a dry run: nothing is changed) and writes the plan to FILE: canonical JSON
with the book's digest, params, targets, every planned action and its digest,
author, creation and expiry time, and the plan's own SHA-256. Then:
  runbook show-plan FILE     read it
  runbook approve FILE       another person approves it (signed with their SSH key)
  runbook apply FILE         carry out exactly that plan
exit: 0 written, 1 a step failed (nothing written), 2 usage/load error
]]

local SPEC = {
  flags = { help = true },
  options = { o = true, output = true, step = true, env = true, config = true, context = true, namespace = true,
    kubeconfig = true, audit = true },
  ["repeat"] = { set = true },
  alias = { n = "namespace", h = "help", o = "o" },
}

-- The targets as recorded in a plan: where, not with which secret.
local function identities(targets)
  local out = {}
  for k, v in pairs(targets or {}) do
    if type(v) == "string" then out[k] = require("rb._sys").redact((v:gsub("//[^/@]*@", "//"))) end
  end
  return out
end

return function(argv)
  local o, pos = args.parse(argv, SPEC)
  if not o then return args.usage(pos, HELP) end
  if o.help then io.stdout:write(HELP); return 0 end
  local out = o.o or o.output
  if #pos ~= 1 or not out then return args.usage("plan needs a SECTION and -o FILE", HELP) end
  local sets, serr = args.sets(o.set)
  if not sets then return args.usage(serr, HELP) end
  local section, settings, targets = setup.section(o, pos[1])
  if not section then return setup.fail(settings) end
  local policy, perr = setup.policy(section, settings)
  if not policy then return setup.fail(perr) end
  local run, rerr = runner.new { section = section, set = sets, step = o.step, dry_run = true,
    audit = o.audit, policy = policy }
  if not run then return setup.fail(rerr) end
  local code = run:execute()
  if code ~= 0 then return setup.fail("planning did not finish cleanly: no plan written", code) end
  local plan = planfile.build(run, { max_age = policy.max_age, targets = identities(targets) })
  local ok, werr = planfile.write(out, plan)
  if not ok then return setup.fail(werr, 1) end
  local need, risk = planfile.required(plan, policy)
  print(("plan written: %s\n  digest %s, expires %s\n  needs %d approval(s)%s; author %s"):format(out, plan.digest,
    plan.expires, need, risk and (" (riskiest step: " .. risk .. ")") or "", plan.author.user))
  return 0
end
