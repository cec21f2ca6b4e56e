-- rb.cli.check — `runbook check [PATH]`: loads every runbook (no network: the
-- gate refuses all I/O while loading) and lints it. Exit 2 on any problem.
local args = require "rb.cli.args"
local loader = require "rb.loader"
local thresholds = require "rb.thresholds"

local HELP = [[
usage: runbook check [PATH]

Loads and lints every runbook under PATH (default runbooks/) without touching
the network: syntax, section and book structure, step titles, resolve risks,
thresholds. Problems are reported as file:line; exit 2 if there are any.
]]

local function lint_section(s, problems)
  if #s.steps == 0 then problems[#problems + 1] = s.defined_at .. ": section '" .. s.id .. "' has no steps" end

  for _, st in ipairs(s.steps) do
    if st.kind == "resolve" and not st.description then
      problems[#problems + 1] = st.defined_at .. ": resolve step '" .. st.title .. "' has no description"
    end
  end
end

local function lint_book(b, problems)
  for name, t in pairs(b.thresholds) do
    if t.higher_is_worse ~= false and t.warn > t.crit or t.higher_is_worse == false and t.warn < t.crit then
      problems[#problems + 1] = ("%s: threshold '%s' has warn and crit in the wrong order"):format(b.file, name)
    end
  end
  for _, s in ipairs(b.sections) do lint_section(s, problems) end
end

return function(argv)
  local pos, status = args.simple(argv, HELP)
  if not pos then return status end
  local path = pos[1] or "runbooks"
  local found, err = loader.discover(path, true)
  if not found then io.stderr:write(err, "\n"); return 2 end
  local problems, n = {}, 0
  for _, e in ipairs(found.errors) do problems[#problems + 1] = e end
  for _, b in ipairs(found.books) do
    lint_book(b, problems); n = n + #b.sections
    local step_only = thresholds.step_only(b)
    if #step_only > 0 then
      print(("note: %s: step-only threshold(s) without a query (triage and export-alerts leave them out): %s")
        :format(b.file, table.concat(step_only, ", ")))
    end
  end
  for _, s in ipairs(found.sections) do lint_section(s, problems); n = n + 1 end
  for _, p in ipairs(problems) do io.stderr:write(p, "\n") end
  print(("%d book(s), %d section(s) checked: %d problem(s)"):format(#found.books, n, #problems))
  return #problems == 0 and 0 or 2
end
