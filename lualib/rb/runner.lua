-- rb.runner — runs a section under the safety model (DESIGN §4):
-- investigate steps with writes refused; each resolve step planned first
-- (writes recorded, not sent), the plan shown and confirmed on /dev/tty
-- (y/n/a/s/q/d), then applied with every write matched against the approved
-- plan by the gate. Everything is audited. Returns the exit status.
local gate = require "rb._gate"
local sys = require "rb._sys"
local audit = require "rb.audit"
local Ctx = require "rb.ctx"
local ui = require "rb.ui"
local verify = require "rb.verify"
local rundir = require "rb.rundir"
local planfile = require "rb.planfile"
local params = require "rb.params"

local M = {}
local Run = {}
Run.__index = Run

-- Params: merged, validated and their credentials registered (rb.params).
M.params = params.merge
M.specs = params.specs
M.secret_name = params.secret_name

-- --step NAME matches a title without regard to case
local function titled(step, name) return name == nil or step.title:lower() == name:lower() end

local function select_steps(section, kind, name)
  local out = {}
  for _, s in ipairs(section.steps) do
    if s.kind == kind and titled(s, name) then out[#out + 1] = s end
  end
  return out
end

--- new(opts) -> run | nil, err
-- opts: section, set (param overrides), investigate_only, resolve_only, step,
-- dry_run, yes, audit (path), output ("text"|"json"), report (path), env,
-- out (a file handle for the human text; rb.testing captures it), policy
-- (rb.approvals.policy: approvals a step needs by its risk), approved
-- ({plan = saved plan, by = {users}}: apply exactly that plan, nothing else).
function M.new(o)
  local specs = params.specs(o.section)
  local values, err = params.merge({ o.section.book and o.section.book.params or {}, o.section.params }, o.set, specs)
  if not values then return nil, err end
  local thresholds = o.section.book and o.section.book.thresholds or {}
  for _, s in ipairs(o.section.steps) do
    local verr = verify.check(thresholds, s.verify)
    if verr then return nil, ("step '%s': %s"):format(s.title, verr) end
  end
  if o.step then
    local found = false
    for _, s in ipairs(o.section.steps) do found = found or titled(s, o.step) end
    if not found then
      local titles = {}
      for _, s in ipairs(o.section.steps) do titles[#titles + 1] = "'" .. s.title .. "'" end
      return nil, ("no step '%s' in section '%s' (steps: %s)"):format(o.step, o.section.id, table.concat(titles, ", "))
    end
  end
  local section = o.section
  params.register_secrets(values, specs)
  local self = setmetatable({
    o = o, section = section, params = values, dry_run = o.dry_run or false,
    thresholds = thresholds,
    id = sys.run_id(), user = sys.user(), host = sys.hostname(),
    steps = {}, findings = {}, failed = false, stop = false, exit = nil,
    out = ui.new(o.out or (o.output == "json" and io.stderr or io.stdout)),
    audit_path = o.audit or audit.default_path(),
  }, Run)
  self.name = section.book and (section.book.id .. "/" .. section.id) or section.id
  self.dir = rundir.path(self.audit_path, self.id)
  self.alog = audit.open(self.audit_path, {
    run = self.id, user = self.user, host = self.host, section = self.name, dry_run = self.dry_run,
  })
  return self
end

-- Step bookkeeping shared by the report, JSON output and audit.
function Run:record(step)
  local r = self.steps[step]
  if not r then
    r = { title = step.title, kind = step.kind, risk = step.risk, findings = {}, notes = {}, logs = {},
      started = sys.time() }
    self.steps[step] = r
    self.steps[#self.steps + 1] = r
  end
  return r
end

-- A resolve step runs twice (plan, then apply): what its apply pass says
-- again, word for word, was already shown and recorded by the plan pass.
local function repeated(r, what, text, mode)
  r.said = r.said or {}
  local key = what .. "\0" .. text
  if mode == "plan" then r.said[key] = true return false end
  return mode == "apply" and r.said[key] == true
end

function Run:finding(step, f, mode)
  local r = self:record(step)
  -- a resolve step runs twice: a check its plan pass made is not recorded again
  if repeated(r, "check", f.name, mode) then return end
  f.step = step.title
  r.findings[#r.findings + 1] = f
  self.findings[#self.findings + 1] = f
  self.out:finding(f)
  self.alog:event("finding", { finding = {
    name = f.name, value = f.value, level = f.level, warn = f.warn, crit = f.crit, unit = f.unit,
  } }, step.title)
end

function Run:note(step, text, mode)
  local r = self:record(step)
  if repeated(r, "note", text, mode) then return end
  r.notes[#r.notes + 1] = text
  self.out:note(text)
end

--- ctx:attach{name, data, kind?}: a file the step hands over (a profile, a
-- flame graph), written by the engine into the run's directory.
function Run:attach(step, a, mode)
  if type(a) ~= "table" or type(a.name) ~= "string" or type(a.data) ~= "string" then
    error("ctx:attach needs {name = string, data = string, kind?}", 0)
  end
  local r = self:record(step)
  if repeated(r, "attach", a.name, mode) then return end
  local ok, err = rundir.create(self.dir)
  if not ok then error("ctx:attach: " .. err, 0) end
  local path, werr = rundir.write(self.dir, (#self.steps) .. "-" .. a.name, a.data)
  if not path then error("ctx:attach: " .. werr, 0) end
  r.attachments = r.attachments or {}
  r.attachments[#r.attachments + 1] = { name = a.name, path = path, kind = a.kind, bytes = #a.data }
  self.out:note(("saved %s (%d bytes): %s"):format(a.name, #a.data, path))
  return path
end

--- a step's chart: {title, series = { {name?, points = {{t, v}, ...}} } | points, unit?, warn?, crit?}
function Run:chart(step, c, mode)
  if type(c) ~= "table" or type(c.title) ~= "string" then error("ctx:chart needs a table with a title", 0) end
  local r = self:record(step)
  r.charts = r.charts or {}
  -- a resolve step's apply pass draws its charts again, with newer data: the
  -- apply pass's chart replaces the plan pass's of the same title
  if repeated(r, "chart", c.title, mode) then
    for i, old in ipairs(r.charts) do
      if old.title == c.title then r.charts[i] = c; return end
    end
  end
  r.charts[#r.charts + 1] = c
end

function Run:log(step, text, mode)
  local r = self:record(step)
  if repeated(r, "log", text, mode) then return end
  r.logs[#r.logs + 1] = text
  self.out:log(text)
end

-- Error values: tables keep their fields; strings get a traceback.
local function handler(e)
  if type(e) == "table" then return e end
  return { kind = "error", message = tostring(e), traceback = debug.traceback(tostring(e), 2) }
end

local function errmsg(e)
  if type(e) ~= "table" then return tostring(e) end
  return e.message or tostring(e)
end

-- Runs one pass of a step in its runbook world, in a gate mode the world
-- holds only for this call; returns ok, err (err: a plain table).
-- What a quiet pass of a step (apply's drift check before anything is sent)
-- says goes nowhere: the step's own plan pass says it again, under its header.
local function silent(run)
  local function nothing() end
  return setmetatable({ finding = nothing, note = nothing, log = nothing, chart = nothing, attach = nothing },
    { __index = run })
end

function Run:call(step, mode, quiet)
  gate.set_audit(self.audit_path, self.alog:context(step.title))
  local t0 = sys.clock_ms()
  local sink = Ctx.sink(quiet and silent(self) or self, step, mode)
  local ok, e = self.section.world:call(step.fn, mode, Ctx.spec(self, step, mode), sink)
  gate.set_audit(nil, nil)
  self:record(step).ms = (self:record(step).ms or 0) + (sys.clock_ms() - t0)
  self:warn_short_secret()
  -- only the gate says whether the run was interrupted: an error table from
  -- runbook code that calls itself "interrupted" is just an error
  if not ok and gate.interrupted() then error(e, 0) end
  return ok, e
end

function Run:step_failed(step, e)
  local r = self:record(step)
  r.ok, r.error = false, errmsg(e)
  self.failed = true
  self.out:step_error(e)
end

-- Once per run: a secret too short to scrub from free text was registered
-- (a param, a DSN or URL password a binding met).
function Run:warn_short_secret()
  if self.short_warned or not sys.short_secret_warning() then return end
  self.short_warned = true
  self.out:say("runbook: warning: a secret shorter than 8 characters is in use: it is redacted where its place "
    .. "is known (URLs, DSNs, credential headers and fields), not as a word in free text")
end

function Run:investigate(step)
  self.alog:event("step_start", { mode = "investigate" }, step.title)
  self.out:step_header(step)
  local ok, e = self:call(step, "investigate")
  local r = self:record(step)
  if ok then r.ok = true else self:step_failed(step, e) end
  self.alog:event("step_end", { ok = r.ok, error = r.error, ms = r.ms, notes = r.notes,
    attachments = r.attachments }, step.title)
end

-- Asks the operator about a plan; returns yes|no|all|skip|quit|refused.
function Run:confirm(step, plan)
  if self.o.yes then return "yes", "yes (--yes)" end
  if self.all then return "yes", "all" end
  while true do
    local line, err = sys.prompt(ui.PROMPT)
    if not line then return "refused", "refused: " .. err .. " and no --yes" end
    local a = ({ y = "yes", yes = "yes", n = "no", no = "no", a = "all", all = "all", s = "skip",
      skip = "skip", q = "quit", quit = "quit", d = "details", details = "details" })[line:lower()]
    if a == "details" then self.out:plan_details(plan)
    elseif a == "all" then self.all = true; return "yes", "all"
    elseif a then return a, a
    else self.out:say("  please answer y, n, a, s, q or d") end
  end
end

-- The approved plan's actions for step, from a saved plan (apply FILE).
function Run:approved_actions(step)
  for _, s in ipairs(self.o.approved.plan.steps) do
    if s.title == step.title then return s.actions end
  end
  return {}
end

-- Who may say yes to a step's plan: the saved plan's approvers (apply FILE)
-- if the plan is exactly what they approved; else the terminal or --yes,
-- unless the policy wants approvals by others for the step's risk.
function Run:decide(step, plan)
  if self.o.approved then
    local drift = planfile.drift(self:approved_actions(step), plan)
    if drift then return "drift", "refused: the plan changed since it was approved (drift)", drift end
    local digest, by = self.o.approved.plan.digest:sub(1, 12), self.o.approved.by
    if #by == 0 then return "yes", ("plan %s needs no approval by others (policy): applied as saved"):format(digest) end
    return "yes", ("plan %s approved by %s"):format(digest, table.concat(by, ", "))
  end
  local need = self.o.policy and self.o.policy.approvals[step.risk or "medium"] or 0
  if need > 0 then
    return "policy", ("refused: risk %s needs %d approval(s) by others (policy)"):format(step.risk, need)
  end
  return self:confirm(step, plan)
end

-- One plan -> confirm -> apply cycle; returns "again" to re-plan.
function Run:plan_and_apply(step)
  local r = self:record(step)
  gate.reset()
  local ok, e = self:call(step, "plan")
  local plan = gate.plan()
  r.plan = plan
  self.alog:event("plan", { actions = plan, ok = ok, error = not ok and errmsg(e) or nil }, step.title)
  self.out:plan(step, plan)
  if not ok then return self:step_failed(step, e) end
  if self.dry_run then r.ok, r.applied = true, false; return self.out:say("  DRY RUN: not applied") end
  if #plan == 0 and not self.o.approved then r.ok = true; return end
  local answer, label, why = self:decide(step, plan)
  if answer == "drift" or answer == "policy" then
    r.answer = label
    self.alog:event("confirm", { answer = label, error = why }, step.title)
    self.stop, self.refused, self.refused_why = true, true, label
    return self.out:blocked(step, label, why, self.section)
  end
  if #plan == 0 then r.ok = true; return end
  if self.o.approved then self.out:say("  approved: %s", label) end
  r.answer = label
  self.alog:event("confirm", { answer = label }, step.title)
  if answer == "refused" then self.stop, self.refused = true, true; return self.out:refused(label) end
  if answer == "quit" then self.stop, self.quit = true, true; return end
  if answer == "no" then self.declined = true; r.ok = true; return end
  if answer == "skip" then r.ok = true; return end
  gate.confirm()
  ok, e = self:call(step, "apply")
  r.applied = true
  local why = gate.unplanned()   -- only the gate can say a write was unplanned
  if not ok and why then
    self.out:unplanned(e, why)
    if not self.o.yes and sys.prompt("  Plan this step again? [y/n] ") == "y" then return "again" end
  end
  if not ok then return self:step_failed(step, e) end
  r.ok = true
  local left = gate.approved_left()
  if left > 0 then self:note(step, ("%d approved action(s) were not performed"):format(left), "apply") end
end

-- verify: before the step is planned, and until good once it is applied.
function Run:verify_before(step)
  if not step.verify or self.o.investigate_only then return end
  self:record(step).verify = { before = verify.evaluate(self, step.verify) }
end

function Run:verify_after(step)
  local r = self:record(step)
  if not (step.verify and r.applied and r.ok) then return end
  local timeout = step.verify_timeout or verify.DEFAULT_TIMEOUT
  self.out:say("  verifying (up to %d s) ...", timeout)
  local after, ok = verify.until_good(self, step.verify, timeout, function(res, elapsed)
    self.out:verify_wait(res, elapsed, timeout)
  end)
  r.verify = r.verify or {}
  r.verify.after, r.verify.ok = after, ok
  self.out:verify(r.verify)
  if not ok then self.verify_failed = true end
end

function Run:resolve(step)
  self.alog:event("step_start", { mode = "resolve" }, step.title)
  self.out:step_header(step)
  self:verify_before(step)
  while self:plan_and_apply(step) == "again" do end
  gate.reset()
  self:verify_after(step)
  local r = self:record(step)
  self.alog:event("step_end", { ok = r.ok, error = r.error, ms = r.ms, notes = r.notes,
    applied = r.applied or false, verified = r.verify and r.verify.ok,
    attachments = r.attachments }, step.title)
end

function Run:exit_code()
  if self.interrupted then return 3 end
  if self.failed or self.verify_failed then return 1 end
  if self.refused or self.quit or self.declined then return 3 end
  if self.o.investigate_only then
    for _, f in ipairs(self.findings) do if f.level == "critical" then return 4 end end
  end
  return 0
end

-- apply FILE: every resolve step is planned again and compared with what
-- was approved before anything is sent; any difference stops the run.
function Run:preflight()
  for _, s in ipairs(select_steps(self.section, "resolve", self.o.step)) do
    gate.reset()
    local ok, e = self:call(s, "plan", true)
    local drift = ok and planfile.drift(self:approved_actions(s), gate.plan())
    gate.reset()
    if not ok or drift then
      local r = self:record(s)
      r.answer = "refused: " .. (ok and "the plan changed since it was approved (drift)" or "planning failed")
      self.alog:event("confirm", { answer = r.answer, error = drift or errmsg(e) }, s.title)
      self.stop, self.refused, self.refused_why = true, true, r.answer
      self.out:blocked(s, r.answer, drift or errmsg(e), self.section)
      return false
    end
  end
  return true
end

function Run:body()
  if self.o.approved and not self:preflight() then return end
  if not self.o.resolve_only then
    for _, s in ipairs(select_steps(self.section, "investigate", self.o.step)) do self:investigate(s) end
  end
  if self.o.investigate_only then return end
  for _, s in ipairs(select_steps(self.section, "resolve", self.o.step)) do
    if self.stop then break end
    self:resolve(s)
  end
end

--- run:execute() -> exit status
function Run:execute()
  sys.install_signals(require("rb._world").active_slot())
  self.started = sys.time()
  local approved = self.o.approved
  self.alog:event("run_start", { mode = self.o.investigate_only and "investigate-only" or
    self.o.resolve_only and "resolve-only" or "full", params = self.params,
    plan = approved and approved.plan.digest or nil, approvals = approved and approved.audit or nil })
  self.out:run_header(self)
  self:warn_short_secret()
  local ok, e = xpcall(function() self:body() end, handler)
  if not ok then
    if e.kind == "interrupted" or gate.interrupted() then
      self.interrupted = true
      self.alog:event("interrupted", { error = errmsg(e) })
    else
      self.failed = true
      self.out:step_error(e)
    end
  end
  self.exit = self:exit_code()
  self.ended = sys.time()
  local saved = self:save_document()
  self.alog:event("run_end", { ok = self.exit == 0, exit = self.exit, dir = saved and self.dir or nil })
  self.out:run_footer(self)
  return self.exit
end

-- The run document (rb.report's JSON) saved as report.json in the run's
-- directory, so `runbook report` can rebuild any format later.
function Run:save_document()
  local ok, err = rundir.create(self.dir)
  if ok then ok, err = rundir.write(self.dir, "report.json", require("rb.report").json(self)) end
  if not ok then self.out:say("runbook: warning: run directory: %s", err) end
  return ok
end

M.Run = Run
return M
