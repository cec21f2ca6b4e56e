-- rb.cli.run — `runbook run SECTION [flags]`.
local args = require "rb.cli.args"
local runner = require "rb.runner"
local setup = require "rb.cli.setup"

local HELP = [[
usage: runbook run SECTION [flags]

SECTION is a section file or book/section-id (e.g. tmi/high-memory).
Investigate steps run first (read-only: a write raises before anything is
sent). Each resolve step is then planned (writes recorded, not sent), the plan
is shown, and you confirm on the terminal: [y]es [n]o [a]ll [s]kip [q]uit
[d]etails. Applying runs the step again; every write must match the plan.

  --investigate-only     run investigate steps only (exit 4 on critical findings)
  --resolve-only         run resolve steps only
  --step NAME            run only the step with this title
  --dry-run              plan resolve steps, change nothing
  --yes                  approve every plan without asking (no terminal needed)
  --set KEY=VALUE        override a param (repeatable)
  --env NAME             target environment from the config file
  --config FILE          config file (YAML; default $RUNBOOK_CONFIG)
  --context NAME         kube context       -n, --namespace NS   kube namespace
  --kubeconfig FILE      kubeconfig file
  --audit FILE           audit log (default $RUNBOOK_AUDIT or ~/.local/state/runbook/audit.jsonl)
  --output text|json     json: print the run as one JSON document on stdout
  --report FILE          write a report of the run: .md, .json or .html (self-contained)
  --report-dir DIR       write report.md, report.json and report.html into DIR

exit: 0 done, 1 a step failed, 2 usage/load error, 3 declined/refused/interrupted,
4 critical findings (--investigate-only)
]]

local SPEC = {
  flags = { ["investigate-only"] = true, ["resolve-only"] = true, ["dry-run"] = true, yes = true, help = true },
  options = { step = true, env = true, config = true, context = true, namespace = true, kubeconfig = true,
    audit = true, output = true, report = true, ["report-dir"] = true },
  ["repeat"] = { set = true },
  alias = { n = "namespace", h = "help" },
}

return function(argv)
  local o, pos = args.parse(argv, SPEC)
  if not o then return args.usage(pos, HELP) end
  if o.help then io.stdout:write(HELP); return 0 end
  if #pos ~= 1 then return args.usage("run needs exactly one SECTION", HELP) end
  if o.investigate_only and o.resolve_only then
    return args.usage("--investigate-only and --resolve-only exclude each other", HELP)
  end
  if o.output and o.output ~= "text" and o.output ~= "json" then
    return args.usage("--output must be text or json", HELP)
  end
  local sets, serr = args.sets(o.set)
  if not sets then return args.usage(serr, HELP) end
  local section, settings = setup.section(o, pos[1])
  if not section then return setup.fail(settings) end
  local policy, perr = setup.policy(section, settings)
  if not policy then return setup.fail(perr) end
  local run, rerr = runner.new {
    section = section, set = sets, investigate_only = o.investigate_only, resolve_only = o.resolve_only,
    step = o.step, dry_run = o.dry_run, yes = o.yes, audit = o.audit, output = o.output,
    report = o.report, env = o.env, policy = policy,
  }
  if not run then io.stderr:write("runbook: ", rerr, "\n"); return 2 end
  local code = run:execute()
  if o.report or o.report_dir then
    local rep = require("rb.report")
    local ok, werr = true, nil
    if o.report then ok, werr = rep.write(o.report, run) end
    if ok and o.report_dir then ok, werr = rep.write_dir(o.report_dir, run) end
    if not ok then io.stderr:write("runbook: report: ", werr, "\n"); code = code == 0 and 1 or code end
  end
  if o.output == "json" then io.stdout:write(require("rb.report").json(run), "\n") end
  return code
end
