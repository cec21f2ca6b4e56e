-- rb.cli.approve — `runbook approve FILE [--key FILE] [--config FILE]`: shows
-- a saved plan, asks on the terminal, and appends the approval (who, when,
-- the plan's digest), signed with the approver's SSH key in OpenSSH's
-- signature format (ssh-keygen -Y sign -n runbook-plan) when a key is found.
local args = require "rb.cli.args"
local planfile = require "rb.planfile"
local approvals = require "rb.approvals"
local config = require "rb.config"
local show = require "rb.cli.show_plan"
local ui = require "rb.ui"
local sys = require "rb._sys"

local HELP = [[
usage: runbook approve FILE [--key FILE] [--config FILE]

Shows the plan and asks on the terminal (there is no --yes: an approval is a
person's). A yes appends your approval to FILE, signed with your SSH key:
--key, else the config's signing_key, else ~/.ssh/id_ed25519 if present.
Without a key the approval is recorded unsigned; the policy decides whether
it counts. The plan's author cannot approve it unless the policy allows it.
exit: 0 approved, 1 invalid or expired plan, 3 declined or no terminal
]]

local SPEC = { flags = { help = true }, options = { key = true, config = true }, alias = { h = "help" } }

local function exists(p)
  local f = p and io.open(p, "r")
  if f then f:close() end
  return f ~= nil
end

local function key_for(o, settings)
  local k = o.key or settings.signing_key
  if k then return k end
  local home = os.getenv("HOME")
  local d = home and home .. "/.ssh/id_ed25519"
  if exists(d) then return d end
end

-- The policy in force: the plan's book (if it can be found) and the config.
local function policy_for(plan, settings)
  local section = planfile.resolve(plan)
  return approvals.policy(section and section.book and section.book.policy, settings.policy)
end

return function(argv)
  local o, pos = args.parse(argv, SPEC)
  if not o then return args.usage(pos, HELP) end
  if o.help then io.stdout:write(HELP); return 0 end
  if #pos ~= 1 then return args.usage("approve needs a FILE", HELP) end
  local plan, err = planfile.read(pos[1])
  if not plan then io.stderr:write("runbook: ", err, "\n"); return 1 end
  if os.time() > plan.expires_unix then
    io.stderr:write(("runbook: the plan expired at %s: make a new one\n"):format(plan.expires)); return 1
  end
  local settings = config.settings(o.config) or {}
  local ok, policy = pcall(policy_for, plan, settings)
  if not ok then io.stderr:write("runbook: ", policy, "\n"); return 2 end
  local me = sys.user()
  if me == plan.author.user and not policy.self_approval then
    io.stderr:write(("runbook: %s made this plan; the policy does not let its author approve it "
      .. "(ask someone else to run runbook approve)\n"):format(me))
    return 3
  end
  local out = ui.new(io.stdout)
  show.show(out, plan)
  show.judge(out, plan, policy, settings.allowed_signers)
  local line, terr = sys.prompt(("\nApprove plan %s as %s? [y/n] "):format(plan.digest:sub(1, 12), me))
  if not line then io.stderr:write("runbook: ", terr, ": an approval needs a person at a terminal\n"); return 3 end
  if line:lower() ~= "y" and line:lower() ~= "yes" then out:say("not approved"); return 3 end
  local a = { user = me, host = sys.hostname(), at = planfile.rfc3339(sys.time()), digest = plan.digest }
  local key = key_for(o, settings)
  if key then
    local sig, serr = approvals.sign(plan.digest, key)
    if not sig then io.stderr:write("runbook: ", serr, "\n"); return 1 end
    a.signature = sig
  else
    out:say("no SSH key found (--key, signing_key, ~/.ssh/id_ed25519): the approval is unsigned")
  end
  plan.approvals[#plan.approvals + 1] = a
  local wok, werr = planfile.write(pos[1], plan)
  if not wok then io.stderr:write("runbook: ", werr, "\n"); return 1 end
  out:say("approved by %s (%s)", me, a.signature and "signed" or "unsigned")
  return 0
end
