-- rb.report_md — the run document as Markdown: pasteable into a ticket or an
-- incident channel. Header, findings, per step its start time and duration,
-- checks, notes, charts as sparklines with min/max, logs, the plan with its
-- arguments (SQL as SQL), diffs and approval, verification before -> after,
-- saved files, and the audit events of the run. The caller redacts.
local fmt = require "rb.report_fmt"
local svg = require "rb.svg"
local rjson = require "rb.report_json"
local facts = require "rb.report_facts"

local M = {}

local LEVEL = { good = "good", warning = "**warning**", critical = "**CRITICAL**", unknown = "unknown" }

-- a table cell: one line, pipes escaped
local function cell(s) return (tostring(s):gsub("[\r\n]+", " "):gsub("|", "\\|")) end

local function findings(out, list)
  if #list == 0 then return end
  out[#out + 1] = "| check | value | warn | crit | level | detail |"
  out[#out + 1] = "|---|---|---|---|---|---|"
  for _, f in ipairs(list) do
    out[#out + 1] = ("| %s | %s | %s | %s | %s | %s |"):format(cell(f.name), cell(fmt.num(f.value, f.unit)),
      f.boolean and "" or cell(fmt.num(f.warn, f.unit)), f.boolean and "" or cell(fmt.num(f.crit, f.unit)),
      LEVEL[f.level] or cell(f.level or "?"), cell(f.detail or ""))
  end
  out[#out + 1] = ""
end

local function fence(out, lang, text)
  local ticks = "```"
  while tostring(text):find(ticks, 1, true) do ticks = ticks .. "`" end
  out[#out + 1] = ticks .. lang
  out[#out + 1] = tostring(text)
  out[#out + 1] = ticks
end

local function charts(out, list)
  for _, c in ipairs(list or {}) do
    for _, s in ipairs(c.series or {}) do
      local line, lo, hi = svg.spark(s.points, 40)
      out[#out + 1] = ("- chart **%s**%s: `%s` min %s, max %s (%d samples)%s"):format(c.title,
        #c.series > 1 and (" / " .. s.name) or "", line, fmt.num(lo, c.unit), fmt.num(hi, c.unit),
        s.total or #s.points, (c.warn or c.crit) and (" — warn %s, crit %s"):format(fmt.num(c.warn, c.unit),
          fmt.num(c.crit, c.unit)) or "")
    end
  end
end

local function action(out, i, a, result)
  out[#out + 1] = ("%d. `%s.%s %s`%s"):format(i, a.binding, a.op, a.target,
    a.simulable == false and " (cannot be simulated: shown as planned, not validated)" or "")
  local sql = facts.sql(a)
  if sql then fence(out, "sql", sql)
  elseif a.args ~= nil then fence(out, "json", rjson.encode(a.args)) end
  if a.simulated then fence(out, facts.is_diff(a.simulated) and "diff" or "", a.simulated) end
  if result then
    out[#out + 1] = ("   Result: %s%s%s"):format(result.ok and "ok" or "FAILED",
      result.ms and (" in " .. fmt.duration(result.ms)) or "", result.error and (": " .. result.error) or "")
  end
end

local function plan(out, s, d, results)
  if not s.plan then return end
  out[#out + 1] = "**Plan**" .. (#s.plan == 0 and ": no changes." or "")
  out[#out + 1] = ""
  for i, a in ipairs(s.plan) do action(out, i, a, results[i]) end
  out[#out + 1] = ""
  out[#out + 1] = ("Approved: %s. Applied: %s."):format(facts.approval(s, d), s.applied and "yes" or "no")
  out[#out + 1] = ""
end

local function verify(out, v)
  if not v or not v.after then return end
  out[#out + 1] = "**Verification** (before → after): " .. (v.ok and "the fix holds" or "NOT verified")
  out[#out + 1] = ""
  out[#out + 1] = "| check | before | after | level |"
  out[#out + 1] = "|---|---|---|---|"
  for _, row in ipairs(facts.before_after(v)) do
    out[#out + 1] = ("| %s | %s | %s | %s |"):format(cell(row.name), cell(fmt.num(row.before, row.unit)),
      cell(fmt.num(row.after, row.unit)), LEVEL[row.level] or cell(row.level or "?"))
  end
  out[#out + 1] = ""
end

local function step(out, s, d, audit)
  out[#out + 1] = ("### %s: %s%s"):format(s.kind == "resolve" and "Resolve" or "Investigate", s.title,
    s.risk and s.kind == "resolve" and (" (risk " .. s.risk .. ")") or "")
  out[#out + 1] = ""
  out[#out + 1] = ("Started %s, took %s. %s"):format(fmt.time(s.started), fmt.duration(s.ms), facts.status(s))
  out[#out + 1] = ""
  findings(out, s.findings or {})
  for _, n in ipairs(s.notes or {}) do out[#out + 1] = "- note: " .. n end
  charts(out, s.charts)
  if #(s.notes or {}) > 0 or s.charts then out[#out + 1] = "" end
  if s.logs and #s.logs > 0 then fence(out, "", table.concat(s.logs, "\n")); out[#out + 1] = "" end
  plan(out, s, d, facts.results(audit, s.title))
  verify(out, s.verify)
  for _, a in ipairs(s.attachments or {}) do
    out[#out + 1] = ("- saved %s (%s): `%s`%s"):format(a.name, a.kind or "file", a.path,
      a.kind == "pprof" and (" — `go tool pprof " .. a.path .. "`") or "")
  end
  if s.ok == false then out[#out + 1] = "**Failed:** " .. tostring(s.error) .. "\n" end
end

local function header(out, d, audit)
  out[#out + 1] = ("# Runbook report: %s%s"):format(d.section or "?", d.title and (" — " .. d.title) or "")
  out[#out + 1] = ""
  out[#out + 1] = ("- run: `%s` by %s@%s"):format(d.run, d.user or "?", d.host or "?")
  out[#out + 1] = ("- started: %s, ended: %s (%s)"):format(fmt.time(d.started), fmt.time(d.ended),
    d.started and d.ended and fmt.duration((d.ended - d.started) * 1000) or "n/a")
  out[#out + 1] = ("- mode: %s"):format(facts.mode(d))
  out[#out + 1] = ("- exit: %s (%s)"):format(fmt.num(d.exit), facts.exit_text(d.exit))
  out[#out + 1] = ("- audit: `%s` (verify with `runbook audit verify %s`)"):format(d.audit, d.audit)
  if audit and audit.first then
    out[#out + 1] = ("- audit events: %d, first hash `%s`, last hash `%s`"):format(#audit.events, audit.first, audit.last)
  end
  if d.rebuilt then out[#out + 1] = "- rebuilt from the audit log alone (no logs, charts or diffs)" end
  out[#out + 1] = ""
end

--- render(doc, {audit}) -> Markdown text
function M.render(d, opts)
  local out = {}
  header(out, d, opts.audit)
  out[#out + 1] = "## Findings"
  out[#out + 1] = ""
  findings(out, d.findings or {})
  if #(d.findings or {}) == 0 then out[#out + 1] = "No checks recorded.\n" end
  out[#out + 1] = "## Steps"
  out[#out + 1] = ""
  for _, s in ipairs(d.steps or {}) do step(out, s, d, opts.audit) end
  if opts.audit and #opts.audit.events > 0 then
    out[#out + 1] = "## Audit timeline"
    out[#out + 1] = ""
    for _, e in ipairs(opts.audit.events) do
      out[#out + 1] = ("- `%s` %s"):format(e.ts or "?", cell(facts.event_text(e)))
    end
  end
  return table.concat(out, "\n") .. "\n"
end

return M
