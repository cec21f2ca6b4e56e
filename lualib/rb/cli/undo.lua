-- rb.cli.undo — `runbook undo RUN [flags]`: the inverse of an applied run
-- (rb.undo), written as a section into the run's directory and run through
-- the normal engine path like any section: planned, confirmed (or --yes, or
-- saved with -o FILE for approvals and `runbook apply`), applied. Before
-- anything is sent, every inverse step is planned once (a dry run, not
-- shown): if any of them finds the live state changed since the run, the
-- undo is refused as a whole and nothing is sent.
local args = require "rb.cli.args"
local runner = require "rb.runner"
local setup = require "rb.cli.setup"
local loader = require "rb.loader"
local rundir = require "rb.rundir"
local undo = require "rb.undo"
local audit = require "rb.audit"

local HELP = [[
usage: runbook undo RUN [--audit FILE] [--yes] [--dry-run] [-o FILE] [--set redis=URL]
                        [--set postgres=DSN] [--env NAME] [--config FILE] [--context NAME]
                        [-n NS] [--kubeconfig FILE]

Builds the inverse of run RUN from the audit (default $RUNBOOK_AUDIT or
~/.local/state/runbook/audit.jsonl): every write the run applied whose
before-state was recorded (Kubernetes scale, env, image, resources, pause and
patches; Redis CONFIG SET; PostgreSQL ALTER SYSTEM) is put back, newest first;
the writes that cannot be inverted are listed with the reason. The inverse is
a section written to RUNS/RUN/undo/undo.lua beside the audit, planned and
confirmed like any run. Each step refuses (nothing sent) when the live state
is no longer what the run left; if any does, the whole undo is refused.

  --dry-run           plan the inverse, change nothing
  --yes               approve every step without asking
  -o FILE             write the inverse as a plan file (runbook approve / apply)
  --set redis=URL     Redis target (else the config's); --set postgres=DSN likewise
exit: 0 undone (or nothing to undo), 1 a step failed, 2 usage/load error,
3 refused (the state changed since the run, declined, not approved)
]]

local SPEC = {
  flags = { ["dry-run"] = true, yes = true, help = true },
  options = { o = true, audit = true, env = true, config = true, context = true, namespace = true,
    kubeconfig = true, step = true },
  ["repeat"] = { set = true },
  alias = { n = "namespace", h = "help", o = "o" },
}

-- What the inverse does and does not cover, before anything runs.
local function summary(run, applied, plan)
  local s = applied.start or {}
  print(("Undo of run %s (%s, by %s@%s at %s): %d applied write(s)"):format(run, s.section or "?",
    s.user or "?", s.host or "?", s.ts or "?", #applied.writes))
  for i, inv in ipairs(plan.inverses) do print(("  %d. %s\n     %s"):format(i, inv.title, inv.description)) end
  if #plan.cannot > 0 then
    print(("%d write(s) cannot be inverted:"):format(#plan.cannot))
    for _, c in ipairs(plan.cannot) do print(("  - %s (step '%s'): %s"):format(c.what, c.step, c.why)) end
  end
end

-- Writes the section into RUNS/RUN/undo/ and loads it like any section.
local function write_section(audit_path, run, text)
  local dir = rundir.path(audit_path, run) .. "/undo"
  local ok, err = rundir.create(dir)
  if not ok then return nil, err end
  local path, werr = rundir.write(dir, "undo.lua", text)
  if not path then return nil, werr end
  return path
end

local function new_run(section, o, sets, policy, extra)
  local opts = { section = section, set = sets, audit = o.audit, policy = policy, step = o.step, yes = o.yes }
  for k, v in pairs(extra) do opts[k] = v end
  return runner.new(opts)
end

-- Every step planned once, silently: refused as a whole if any step fails.
local function preflight(section, o, sets, policy)
  local null = assert(io.open("/dev/null", "w"))
  local run, err = new_run(section, o, sets, policy, { dry_run = true, out = null })
  if not run then null:close(); return nil, err end
  local code = run:execute()
  null:close()
  if code == 0 then return true end
  io.stderr:write("runbook: undo refused, nothing was sent:\n")
  for _, r in ipairs(run.steps) do
    if r.ok == false then io.stderr:write(("  %s: %s\n"):format(r.title, r.error or "failed")) end
  end
  return false
end

local function save_plan(section, o, sets, policy, file, targets)
  local planfile = require "rb.planfile"
  local run, err = new_run(section, o, sets, policy, { dry_run = true })
  if not run then return setup.fail(err) end
  local code = run:execute()
  if code ~= 0 then return setup.fail("planning the undo did not finish cleanly: no plan written", code == 1 and 3 or code) end
  local plan = planfile.build(run, { max_age = policy.max_age, targets = targets })
  local ok, werr = planfile.write(file, plan)
  if not ok then return setup.fail(werr, 1) end
  print(("plan written: %s\n  digest %s, expires %s"):format(file, plan.digest, plan.expires))
  return 0
end

return function(argv)
  local o, pos = args.parse(argv, SPEC)
  if not o then return args.usage(pos, HELP) end
  if o.help then io.stdout:write(HELP); return 0 end
  if #pos ~= 1 then return args.usage("undo needs exactly one RUN (a run id from the audit)", HELP) end
  local run_id = pos[1]
  if not run_id:match("^[%w-]+$") then return args.usage(("'%s' is not a run id"):format(run_id), HELP) end
  local sets, serr = args.sets(o.set)
  if not sets then return args.usage(serr, HELP) end
  local audit_path = o.audit or audit.default_path()
  local applied, aerr = undo.applied(audit_path, run_id)
  if not applied then return setup.fail(aerr) end
  local plan = undo.plan(applied)
  summary(run_id, applied, plan)
  if #plan.inverses == 0 then print("nothing to undo"); return 0 end
  local path, werr = write_section(audit_path, run_id, undo.source(run_id, applied.start, plan))
  if not path then return setup.fail("run directory: " .. werr) end
  print("inverse section: " .. path)
  local section, settings = setup.section(o, nil, function() return loader.load_section(path) end)
  if not section then return setup.fail(settings) end
  local policy, perr = setup.policy(section, settings)
  if not policy then return setup.fail(perr) end
  if o.o then return save_plan(section, o, sets, policy, o.o, {}) end
  if not o.dry_run then
    local ok, err = preflight(section, o, sets, policy)
    if ok == nil then return setup.fail(err) end
    if not ok then return 3 end
  end
  local run, rerr = new_run(section, o, sets, policy, { dry_run = o.dry_run })
  if not run then return setup.fail(rerr) end
  return run:execute()
end
