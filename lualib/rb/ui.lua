-- rb.ui — what a run prints for a person. Every line passes through the
-- redactor. With --output json the human text goes to stderr and stdout
-- carries the JSON document only.
local sys = require "rb._sys"

local M = {}
local UI = {}
UI.__index = UI

M.PROMPT = "  Apply this step? [y]es [n]o [a]ll [s]kip [q]uit [d]etails: "

local LABEL = { good = "[ OK ]", warning = "[WARN]", critical = "[CRIT]", unknown = "[ ?? ]" }

local COLOUR = { good = "\27[32m", warning = "\27[33m", critical = "\27[1;31m", unknown = "\27[35m" }

-- Colour only on a terminal, and never with NO_COLOR set (no-color.org) or TERM=dumb.
local function wants_colour(fh)
  local nc, term = os.getenv("NO_COLOR"), os.getenv("TERM")
  if (nc and nc ~= "") or term == "dumb" then return false end
  local fd = fh == io.stdout and 1 or fh == io.stderr and 2 or nil
  return fd ~= nil and sys.isatty(fd)
end

function M.new(fh) return setmetatable({ fh = fh, colour = wants_colour(fh) }, UI) end

--- label(level): "[ OK ]" ... coloured on a terminal
function UI:label(level)
  local l = LABEL[level] or level
  if self.colour and COLOUR[level] then return COLOUR[level] .. l .. "\27[0m" end
  return l
end

function UI:say(fmt, ...)
  local s = select("#", ...) > 0 and fmt:format(...) or fmt
  self.fh:write(sys.redact(s), "\n")
  self.fh:flush()
end

-- Three significant digits, never scientific for everyday magnitudes.
local function sig3(v)
  local a = math.abs(v)
  if a >= 1000 then return ("%.0f"):format(v) end
  if a >= 100 then return ("%.1f"):format(v):gsub("%.0$", "") end
  if a >= 1 or a == 0 then return (("%.2f"):format(v):gsub("0+$", ""):gsub("%.$", "")) end
  return ("%.3g"):format(v)
end

local BYTES = { "B", "KiB", "MiB", "GiB", "TiB" }

--- fmtnum(v, unit): a number with its unit and sensible precision, for a
-- person: bytes as KiB/MiB/GiB, seconds under one as ms, no NaN (n/a).
function M.fmtnum(v, unit)
  if v == nil then return "n/a" end
  if type(v) ~= "number" then return tostring(v) end
  if v ~= v or v == math.huge or v == -math.huge then return "n/a" end
  if unit == "bytes" or unit == "B" then
    local i = 1
    while math.abs(v) >= 1024 and i < #BYTES do v, i = v / 1024, i + 1 end
    return (i == 1 and math.type(v) == "integer") and (tostring(v) .. " B") or (sig3(v) .. " " .. BYTES[i])
  end
  if unit == "s" and v ~= 0 and math.abs(v) < 1 then return sig3(v * 1000) .. " ms" end
  local s = math.type(v) == "integer" and tostring(v) or sig3(v)
  return unit and unit ~= "" and (s .. " " .. unit) or s
end

function UI:run_header(run)
  if run.dry_run then self:say("DRY RUN — nothing will be changed; resolve steps are planned only.") end
  self:say("runbook %s — %s", run.name, run.section.title)
  self:say("run %s by %s@%s; audit: %s", run.id, run.user, run.host, run.audit_path)
end

function UI:run_footer(run)
  local n = { good = 0, warning = 0, critical = 0, unknown = 0 }
  for _, f in ipairs(run.findings) do n[f.level] = n[f.level] + 1 end
  self:say("")
  self:say("findings: %d critical, %d warning, %d good, %d unknown", n.critical, n.warning, n.good, n.unknown)
  local what = run.interrupted and "interrupted" or run.refused and (run.refused_why or "refused (no terminal; use --yes)")
    or run.quit and "quit" or run.failed and "a step failed" or run.declined and "declined" or "done"
  self:say("run %s: %s (exit %d)", run.id, what, run.exit)
  if run.dry_run then self:say("DRY RUN — nothing was changed.") end
end

function UI:step_header(step)
  local risk = step.kind == "resolve" and ("  [risk: %s]"):format(step.risk) or ""
  self:say("")
  self:say("== %s: %s%s", step.kind == "resolve" and "Resolve" or "Investigate", step.title, risk)
  if step.description then self:say("   %s", step.description) end
end

function UI:finding(f)
  local bounds = ""
  if f.warn or f.crit then
    local w, c = f.higher_is_worse == false and "<=" or ">=", f.higher_is_worse == false and "<" or ">"
    bounds = ("  (warn %s %s, crit %s %s)"):format(w, M.fmtnum(f.warn, f.unit), c, M.fmtnum(f.crit, f.unit))
  end
  local value = f.boolean and (f.value == nil and "could not tell" or tostring(f.value)) or M.fmtnum(f.value, f.unit)
  self:say("  %s %s = %s%s%s", self:label(f.level), f.name, value, bounds,
    f.detail and ("  " .. f.detail) or "")
end

function UI:note(text) self:say("  note: %s", text) end
function UI:log(text)
  for line in (text .. "\n"):gmatch("(.-)\n") do self:say("  %s", line) end
end

local function action_line(i, a)
  return ("  %d. %s.%s %s"):format(i, a.binding, a.op, a.target)
end

-- full: every byte of the args (a saved plan read by a reviewer, who has no
-- prompt to answer d at)
function UI:plan(step, plan, full)
  self:say("  Plan:")
  if #plan == 0 then return self:say("  (no changes planned)") end
  for i, a in ipairs(plan) do
    self:say(action_line(i, a))
    if a.args and a.args ~= "null" then
      if full or #a.args <= 200 then self:say("     args: %s", a.args)
      else   -- never silently dropped: a head, and how much more `d` shows
        self:say("     args: %s … (%d more bytes: answer d to see them all)", a.args:sub(1, 160), #a.args - 160)
      end
    end
    if not a.simulable then self:say("     (cannot be simulated: shown as planned, not validated)")
    elseif a.simulated then
      for line in (a.simulated .. "\n"):gmatch("(.-)\n") do self:say("     | %s", line) end
    end
  end
end

function UI:plan_details(plan)
  for i, a in ipairs(plan) do
    self:say(action_line(i, a))
    self:say("     args: %s", a.args or "null")
    self:say("     simulated: %s", a.simulable and (a.simulated or "validated, no output") or "cannot be simulated")
  end
end

function UI:step_error(e)
  local msg = type(e) == "table" and (e.message or tostring(e)) or tostring(e)
  local at = type(e) == "table" and e.at
  if at and not msg:find(at, 1, true) then msg = msg .. "  (at " .. at .. ")" end
  self:say("  FAILED: %s", msg)
  if type(e) == "table" and e.traceback and os.getenv("RUNBOOK_DEBUG") then self:say("%s", e.traceback) end
end

function UI:refused(label)
  self:say("  not applied: %s", label)
  self:say("  resolve steps need a terminal to confirm on, or --yes; the remaining steps are not run.")
end

--- a step not applied: drift from an approved plan, or a policy that wants approvals
function UI:blocked(step, label, why, section)
  self:say("  NOT APPLIED: %s", label)
  for line in ((why or "") .. "\n"):gmatch("(.-)\n") do if line ~= "" then self:say("    %s", line) end end
  if label:find("policy", 1, true) then
    local name = section.book and (section.book.id .. "/" .. section.id) or section.file
    self:say("  To get approvals: runbook plan %s -o PLAN.json; another person runs runbook approve PLAN.json;", name)
    self:say("  then runbook apply PLAN.json (docs/approvals.md).")
  else
    self:say("  Nothing was sent. Make a new plan (runbook plan ...) and have it approved again.")
  end
end

function UI:unplanned(e, why)
  self:say("  STOPPED: %s", e.message or tostring(e))
  for line in ((why or "") .. "\n"):gmatch("(.-)\n") do if line ~= "" then self:say("    %s", line) end end
  self:say("  The step tried a change that was not in the plan you approved; nothing more was sent.")
end

local function verify_line(r)
  return ("%s = %s"):format(r.title or r.name, M.fmtnum(r.value, r.threshold and r.threshold.unit))
end

function UI:verify_wait(results, elapsed, timeout)
  local bad = {}
  for _, r in ipairs(results) do
    if r.level ~= "good" then bad[#bad + 1] = verify_line(r) .. " (" .. r.level .. (r.err and (": " .. r.err) or "") .. ")" end
  end
  self:say("    %3d/%d s: waiting for %s", math.floor(elapsed), timeout, table.concat(bad, ", "))
end

--- verification before -> after, one line per check
function UI:verify(v)
  local before = {}
  for _, b in ipairs(v.before or {}) do before[b.name] = b end
  for _, a in ipairs(v.after or {}) do
    local b = before[a.name]
    local unit = a.threshold and a.threshold.unit
    self:say("  %s verify %s: %s -> %s", self:label(a.level), a.title or a.name,
      b and M.fmtnum(b.value, unit) or "n/a", M.fmtnum(a.value, unit))
  end
  self:say(v.ok and "  verified: the fix holds" or "  NOT VERIFIED: the checks above did not all become good in time")
end

return M
