-- rb.cli.show_plan — `runbook show-plan FILE [--config FILE]`: a saved plan as
-- the prompt shows it (actions, what the server's dry run showed), its
-- approvals and whether they satisfy the policy.
local args = require "rb.cli.args"
local planfile = require "rb.planfile"
local approvals = require "rb.approvals"
local config = require "rb.config"
local ui = require "rb.ui"
local sys = require "rb._sys"

local HELP = [[
usage: runbook show-plan FILE [--config FILE]

Shows a plan written by `runbook plan`: section, author, times, each resolve
step's actions with the server's dry-run output, the approvals, and whether
they are enough for the policy (the book's, overridden by the config file).
exit: 0 shown, 1 not a valid plan file (changed after it was made, unreadable)
]]

local SPEC = { flags = { help = true }, options = { config = true }, alias = { h = "help" } }

local M = {}

--- show(out, plan): the plan's steps and actions, as the prompt shows them,
-- with the actions' args in full
function M.show(out, plan)
  out:say("plan %s — %s (%s)", plan.digest, plan.section, plan.title or "")
  out:say("made by %s@%s at %s; expires %s", plan.author.user, plan.author.host, plan.created, plan.expires)
  for _, s in ipairs(plan.steps) do
    out:say("")
    out:say("== Resolve: %s  [risk: %s]", s.title, s.risk or "medium")
    local actions = {}
    for i, a in ipairs(s.actions) do
      actions[i] = { binding = a.binding, op = a.op, target = a.target, args = sys.canon(a.args),
        simulated = a.simulated, simulable = a.simulable }
    end
    out:plan(s, actions, true)   -- every byte: the reader (an approver) has no prompt to ask for more
  end
end

--- judge_text(plan, settings, policy) -> lines, enough
function M.judge(out, plan, policy, allowed)
  local need = planfile.required(plan, policy)
  local counted, notes = approvals.judge(plan, policy, allowed)
  out:say("")
  out:say("approvals: %d of %d needed", #counted, need)
  for _, n in ipairs(notes) do out:say("  %s", n) end
  return #counted >= need, counted
end

function M.main(argv)
  local o, pos = args.parse(argv, SPEC)
  if not o then return args.usage(pos, HELP) end
  if o.help then io.stdout:write(HELP); return 0 end
  if #pos ~= 1 then return args.usage("show-plan needs a FILE", HELP) end
  local plan, err = planfile.read(pos[1])
  if not plan then io.stderr:write("runbook: ", err, "\n"); return 1 end
  local settings = config.settings(o.config) or {}
  local section = planfile.resolve(plan)
  local ok, policy = pcall(approvals.policy, section and section.book and section.book.policy, settings.policy)
  if not ok then io.stderr:write("runbook: ", policy, "\n"); return 2 end
  local out = ui.new(io.stdout)
  M.show(out, plan)
  M.judge(out, plan, policy, settings.allowed_signers)
  return 0
end

return setmetatable(M, { __call = function(_, argv) return M.main(argv) end })
