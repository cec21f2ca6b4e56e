-- rb.cli — the runbook command line: parses the subcommand and hands off to
-- rb.cli.<command>. Returns the process exit status (DESIGN §2).
local commands = {
  list = "rb.cli.list", show = "rb.cli.show", check = "rb.cli.check", run = "rb.cli.run",
  triage = "rb.cli.triage", audit = "rb.cli.audit", ["export-alerts"] = "rb.cli.export_alerts",
  lua = "rb.cli.lua", plan = "rb.cli.plan", ["show-plan"] = "rb.cli.show_plan", approve = "rb.cli.approve",
  apply = "rb.cli.apply", report = "rb.cli.report", serve = "rb.cli.serve", rbac = "rb.cli.rbac",
  undo = "rb.cli.undo",
}

local USAGE = [[
usage: runbook COMMAND [ARGS]

  list   [PATH|BOOK]         books, sections and steps (default: every book on the search path)
  show   SECTION             symptoms, params, steps, and what each resolve step may change
  check  [PATH]              load and lint every runbook, no network
  run    SECTION [flags]     investigate, then resolve with confirmation
  triage [BOOK]              evaluate the book's thresholds now; rank the sections that apply
  audit  verify FILE | show FILE
  export-alerts BOOK         Prometheus alerting rules from the book's thresholds
  lua    [--env NAME] [--config FILE] FILE [ARGS]  a Lua script with every rb.* module (targets as for run)
  serve  [--listen ADDR] [--reports DIR]  Alertmanager webhook in, investigate-only runs out
  rbac   BOOK                least-privilege Kubernetes Role(s) the book's steps need
  plan   SECTION -o FILE     investigate and plan; write a plan file others can approve
  show-plan FILE             a saved plan, its approvals and what the policy needs
  approve FILE               approve a saved plan (terminal; signed with your SSH key)
  apply  FILE                carry out exactly an approved plan (drift stops it)
  undo   RUN                 the inverse of an applied run, planned and confirmed like any run
  report RUN -o FILE         rebuild a past run's report (.html, .md, .json); --since 2h: several runs

`runbook COMMAND --help` describes a command. Exit codes: 0 done, 1 a step failed,
2 usage or load error, 3 declined/aborted/interrupted, 4 critical findings.
]]

return function(argv)
  local cmd = argv[1]
  if cmd == nil or cmd == "-h" or cmd == "--help" or cmd == "help" then
    io.stdout:write(USAGE)
    return cmd == nil and 2 or 0
  end
  if cmd == "--version" or cmd == "version" then
    print("runbook 0.1.0")
    return 0
  end
  local mod = commands[cmd]
  if not mod then
    io.stderr:write(("runbook: unknown command '%s'\n\n"):format(cmd), USAGE)
    return 2
  end
  local args = table.move(argv, 2, #argv, 1, {})
  local ok, impl = pcall(require, mod)
  if not ok then
    io.stderr:write(("runbook: %s is not available in this build (%s)\n"):format(cmd, impl))
    return 2
  end
  return impl(args)
end
