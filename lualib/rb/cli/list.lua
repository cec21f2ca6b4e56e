-- rb.cli.list — `runbook list [PATH]`: books, sections, steps.
local args = require "rb.cli.args"
local loader = require "rb.loader"

local HELP = [[
usage: runbook list [PATH]

Lists books, their sections and steps. PATH is a section file, a book
directory, or a directory of books (default: runbooks/). Nothing is run.
]]

local function count(s, kind)
  local n = 0
  for _, st in ipairs(s.steps) do if st.kind == kind then n = n + 1 end end
  return n
end

local function print_section(name, s)
  print(("  %-36s %s  (%d investigate, %d resolve)"):format(name, s.title, count(s, "investigate"), count(s, "resolve")))
  for _, st in ipairs(s.steps) do
    print(("      %-11s %s%s"):format(st.kind, st.title, st.kind == "resolve" and ("  [risk: " .. st.risk .. "]") or ""))
  end
end

return function(argv)
  local pos, status = args.simple(argv, HELP)
  if not pos then return status end
  local path = pos[1] or "runbooks"
  local found, err = loader.discover(path)
  if not found then io.stderr:write("runbook: ", err, "\n"); return 2 end
  for _, b in ipairs(found.books) do
    print(("%s — %s  (%s)"):format(b.id, b.title, b.dir))
    for _, s in ipairs(b.sections) do print_section(b.id .. "/" .. s.id, s) end
  end
  if #found.sections > 0 then
    print("sections:")
    for _, s in ipairs(found.sections) do print_section(s.file, s) end
  end
  if #found.books == 0 and #found.sections == 0 then print("no runbooks in " .. path) end
  return 0
end
