-- rb.cli.list — `runbook list [PATH|BOOK]`: books, sections, steps.
local args = require "rb.cli.args"
local loader = require "rb.loader"
local core = require "rb._core"

local HELP = [[
usage: runbook list [PATH|BOOK]

Lists books, their sections and steps. PATH is a section file, a book
directory, or a directory of books; BOOK a book id on the search path
(./runbooks, $RUNBOOK_PATH, then the books installed beside the binary).
Without either: every book on the search path. Nothing is run.
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

-- where(spec) -> the paths to list: spec itself when it exists, the book of
-- that id on the search path, or (no spec) every directory on the path.
local function where(spec)
  if spec and core.kind(spec) then return { spec } end
  if spec then
    local b = not spec:find("/", 1, true) and loader.find_book(spec)
    if b then return { b.dir } end
    return nil, ("no such file, directory or book: %s (books are looked for in %s)")
      :format(spec, table.concat(loader.search_path(), ":"))
  end
  local dirs = loader.search_path()
  if #dirs == 0 then return nil, "no runbooks: ./runbooks, $RUNBOOK_PATH and the installed books are all absent" end
  return dirs
end

return function(argv)
  local pos, status = args.simple(argv, HELP)
  if not pos then return status end
  local dirs, err = where(pos[1])
  if not dirs then io.stderr:write("runbook: ", err, "\n"); return 2 end
  local found = { books = {}, sections = {} }
  for _, path in ipairs(dirs) do
    local f, derr = loader.discover(path)
    if not f then io.stderr:write("runbook: ", derr, "\n"); return 2 end
    table.move(f.books, 1, #f.books, #found.books + 1, found.books)
    table.move(f.sections, 1, #f.sections, #found.sections + 1, found.sections)
  end
  for _, b in ipairs(found.books) do
    print(("%s — %s  (%s)"):format(b.id, b.title, b.dir))
    for _, s in ipairs(b.sections) do print_section(b.id .. "/" .. s.id, s) end
  end
  if #found.sections > 0 then
    print("sections:")
    for _, s in ipairs(found.sections) do print_section(s.file, s) end
  end
  if #found.books == 0 and #found.sections == 0 then print("no runbooks in " .. table.concat(dirs, ":")) end
  return 0
end
