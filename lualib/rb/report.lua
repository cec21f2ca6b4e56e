-- rb.report — a finished run as a Markdown report (--report FILE) or as one
-- JSON document (--output json). Both pass through the redactor.
local cjson = require("cjson").new()
cjson.encode_invalid_numbers("null")
local sys = require "rb._sys"
local ui = require "rb.ui"

local M = {}

local function doc(run)
  local steps = {}
  for i, r in ipairs(run.steps) do
    steps[i] = { title = r.title, kind = r.kind, risk = r.risk, ok = r.ok, error = r.error, ms = r.ms,
      findings = r.findings, notes = r.notes, logs = r.logs, plan = r.plan, answer = r.answer,
      applied = r.applied }
  end
  return { run = run.id, section = run.name, title = run.section.title, user = run.user, host = run.host,
    dry_run = run.dry_run, params = run.params, exit = run.exit, audit = run.audit_path,
    findings = run.findings, steps = steps }
end

--- json(run) -> text
function M.json(run)
  local d = doc(run)
  return sys.redact(cjson.encode(d))
end

local LEVEL = { good = "good", warning = "**warning**", critical = "**CRITICAL**", unknown = "unknown" }

local function md_findings(out, findings)
  if #findings == 0 then return end
  out[#out + 1] = "| check | value | warn | crit | level |"
  out[#out + 1] = "|---|---|---|---|---|"
  for _, f in ipairs(findings) do
    out[#out + 1] = ("| %s | %s | %s | %s | %s |"):format(f.name, ui.fmtnum(f.value, f.unit),
      ui.fmtnum(f.warn, f.unit), ui.fmtnum(f.crit, f.unit), LEVEL[f.level])
  end
  out[#out + 1] = ""
end

local function md_plan(out, r, dry)
  if not r.plan then return end
  if #r.plan == 0 then out[#out + 1] = "Plan: no changes." end
  for i, a in ipairs(r.plan) do
    out[#out + 1] = ("%d. `%s.%s %s`%s"):format(i, a.binding, a.op, a.target,
      a.simulable and "" or " (cannot be simulated)")
  end
  out[#out + 1] = ""
  out[#out + 1] = ("Approved: %s. Applied: %s."):format(r.answer or (dry and "no (dry run)" or "—"),
    r.applied and "yes" or "no")
  out[#out + 1] = ""
end

local function md_step(out, r, dry)
  out[#out + 1] = ("### %s: %s%s"):format(r.kind == "resolve" and "Resolve" or "Investigate", r.title,
    r.risk and r.kind == "resolve" and (" (risk " .. r.risk .. ")") or "")
  out[#out + 1] = ""
  md_findings(out, r.findings)
  for _, n in ipairs(r.notes) do out[#out + 1] = "- note: " .. n end
  if #r.logs > 0 then
    out[#out + 1] = "```"
    for _, l in ipairs(r.logs) do out[#out + 1] = l end
    out[#out + 1] = "```"
  end
  md_plan(out, r, dry)
  if r.ok == false then out[#out + 1] = "**Failed:** " .. tostring(r.error) .. "\n" end
end

--- markdown(run) -> text
function M.markdown(run)
  local out = {
    ("# Runbook report: %s — %s"):format(run.name, run.section.title), "",
    ("- run: `%s` by %s@%s"):format(run.id, run.user, run.host),
    ("- started: %s"):format(os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(run.started or 0))),
    ("- mode: %s"):format(run.dry_run and "DRY RUN (nothing changed)" or "live"),
    ("- exit: %d"):format(run.exit or -1),
    ("- audit: `%s` (verify with `runbook audit verify %s`)"):format(run.audit_path, run.audit_path), "",
    "## Findings", "",
  }
  md_findings(out, run.findings)
  if #run.findings == 0 then out[#out + 1] = "No checks recorded.\n" end
  out[#out + 1] = "## Steps"
  out[#out + 1] = ""
  for _, r in ipairs(run.steps) do md_step(out, r, run.dry_run) end
  return sys.redact(table.concat(out, "\n") .. "\n")
end

--- write(path, run) -> true | nil, err
function M.write(path, run)
  local f, err = io.open(path, "w")
  if not f then return nil, err end
  f:write(M.markdown(run))
  f:close()
  return true
end

return M
