-- rb.loader — finds and loads runbooks: section files, books (a directory
-- with book.lua), and `book/section-id` names on the search path (./runbooks,
-- then $RUNBOOK_PATH, a colon list). Each book (or a directory's loose section files) is
-- loaded into a runbook world of its own (rb._world, engine/host/world.c):
-- what comes back is plain data, step functions as handles into that world.
-- Loading does no I/O (the world refuses every binding call outside a step).
-- Errors name file:line.
local world = require "rb._world"
local core = require "rb._core"

local M = {}

-- ./runbooks, then $RUNBOOK_PATH, then the books beside the binary:
-- PREFIX/share/runbook/runbooks for PREFIX/bin/runbook (`make install`), or
-- ROOT/runbooks for ROOT/build/runbook (a source tree).
function M.search_path()
  local dirs = { "runbooks" }
  for d in (os.getenv("RUNBOOK_PATH") or ""):gmatch("[^:]+") do dirs[#dirs + 1] = d end
  local exe = core.exe()
  local prefix = exe and exe:match("^(.*)/[^/]+/[^/]+$")
  if prefix then
    dirs[#dirs + 1] = prefix .. "/share/runbook/runbooks"   -- PREFIX/bin/runbook
    dirs[#dirs + 1] = prefix .. "/runbooks"                 -- a build tree: ROOT/build/runbook
  end
  -- each existing directory once (./runbooks is often the build tree's own)
  local out, seen = {}, {}
  for _, d in ipairs(dirs) do
    local real = core.realpath(d)
    if real and not seen[real] and core.kind(real) == "dir" then seen[real] = true; out[#out + 1] = d end
  end
  return out
end

local function dir_of(path) return path:match("^(.*)/[^/]+$") or "." end

-- A new world for a book directory (its lib/ modules loadable) or for the
-- directory of a loose section file.
local function new_world(dir, is_book)
  return world.new { root = dir, lib = is_book and core.kind(dir .. "/lib") == "dir" }
end

-- Runs a runbook file in world w; returns its value (copied) and kind, or nil, "file:line: msg".
local function run_file(w, path)
  core.loading(true)   -- a binding touched now says "only inside steps"
  local v, kind = w:load(path)
  core.loading(false)
  return v, kind
end

--- load_section(path, book?) -> section | nil, err
-- world: for loose section files of one directory listed together (list,
-- check), the one world they share (each file still gets its own globals;
-- modules are read-only views, so one file cannot change what another sees).
function M.load_section(path, book, world_)
  local w = book and book.world or world_ or new_world(dir_of(path), false)
  local s, kind = run_file(w, path)
  if s == nil then return nil, kind end
  if kind ~= "section" then
    return nil, ("%s: did not return a section (end the file with `return S`, S = rb.section{...})"):format(path)
  end
  s.file, s.book, s.world = path, book, w
  return s
end

--- load_book(dir) -> book (with .sections, .dir) | nil, err
function M.load_book(dir)
  local path = dir .. "/book.lua"
  local w = new_world(dir, true)
  local b, kind = run_file(w, path)
  if b == nil then return nil, kind end
  if kind ~= "book" then
    return nil, ("%s: did not return a book (end the file with `return rb.book{...}`)"):format(path)
  end
  b.dir, b.file, b.sections, b.world = dir, path, {}, w
  for _, id in ipairs(b.section_ids) do
    local f = dir .. "/" .. id .. ".lua"
    if core.kind(f) ~= "file" then
      return nil, ("%s: section '%s' is listed but %s does not exist"):format(path, id, f)
    end
    local s, serr = M.load_section(f, b)
    if not s then return nil, serr end
    if s.id ~= id then
      return nil, ("%s: section id '%s' does not match its file name (%s)"):format(f, s.id, id)
    end
    b.sections[#b.sections + 1] = s
  end
  return b
end

local function is_book_dir(d) return core.kind(d .. "/book.lua") == "file" end

--- discover(path, keep_going?) -> {books = {...}, sections = {...}, errors = {...}} | nil, err
-- path: a section file, a book directory, or a directory of books/sections.
-- keep_going: a file that does not load is recorded in errors and the rest
-- is still loaded (runbook check); otherwise the first error is returned.
function M.discover(path, keep_going)
  local kind = core.kind(path)
  local out = { books = {}, sections = {}, errors = {} }
  if kind == "file" then
    if path:match("book%.lua$") then path = path:match("^(.*)/book%.lua$") or "."; kind = "dir"
    else
      local s, err = M.load_section(path)
      if not s then return nil, err end
      out.sections[1] = s
      return out
    end
  end
  if kind ~= "dir" then return nil, ("no such file or directory: %s"):format(path) end
  if is_book_dir(path) then
    local b, err = M.load_book(path)
    if not b then return nil, err end
    out.books[1] = b
    return out
  end
  local loose   -- the world of this directory's loose section files
  for _, name in ipairs(assert(core.listdir(path))) do
    local p = path .. "/" .. name
    local v, err, list
    if core.kind(p) == "dir" and is_book_dir(p) then v, err = M.load_book(p); list = out.books
    elseif name:match("%.lua$") and core.kind(p) == "file" then
      loose = loose or new_world(path, false)
      v, err = M.load_section(p, nil, loose); list = out.sections
    end
    if list and not v then
      if not keep_going then return nil, err end
      out.errors[#out.errors + 1] = err
    elseif list then
      list[#list + 1] = v
    end
  end
  return out
end

-- All "book/section" names on the search path, for "unknown section" messages.
local function known_names()
  local names = {}
  for _, d in ipairs(M.search_path()) do
    for _, name in ipairs(core.listdir(d) or {}) do
      local b = M.load_book(d .. "/" .. name)
      for _, s in ipairs(b and b.sections or {}) do names[#names + 1] = b.id .. "/" .. s.id end
    end
  end
  return names
end

--- find_book(spec?) -> book | nil, err: spec is a book directory or a book id
-- on the search path; without spec, the first book on the search path.
function M.find_book(spec)
  if spec and core.kind(spec) == "dir" then return M.load_book(spec) end
  for _, d in ipairs(M.search_path()) do
    if spec and core.kind(d .. "/" .. spec .. "/book.lua") == "file" then return M.load_book(d .. "/" .. spec) end
    if not spec then
      for _, name in ipairs(core.listdir(d) or {}) do
        if is_book_dir(d .. "/" .. name) then return M.load_book(d .. "/" .. name) end
      end
    end
  end
  return nil, ("no book '%s' (looked in %s)"):format(spec or "", table.concat(M.search_path(), ":"))
end

--- resolve(spec) -> section | nil, err: spec is a file path or "book/section-id".
function M.resolve(spec)
  if core.kind(spec) == "file" then
    local dir = spec:match("^(.*)/[^/]+$") or "."
    local book
    if is_book_dir(dir) and not spec:match("book%.lua$") then
      local b, err = M.load_book(dir)
      if not b then return nil, err end
      for _, s in ipairs(b.sections) do
        if core.realpath(s.file) == core.realpath(spec) then return s end
      end
      book = b
    end
    return M.load_section(spec, book)
  end
  local bid, sid = spec:match("^([^/]+)/([^/]+)$")
  if bid then
    for _, d in ipairs(M.search_path()) do
      if is_book_dir(d .. "/" .. bid) then
        local b, err = M.load_book(d .. "/" .. bid)
        if not b then return nil, err end
        for _, s in ipairs(b.sections) do if s.id == sid then return s end end
      end
    end
  end
  local names = known_names()
  return nil, ("unknown section '%s'%s"):format(spec,
    #names > 0 and ("; sections are: " .. table.concat(names, ", ")) or
    " (no books found on the search path: " .. table.concat(M.search_path(), ":") .. ")")
end

return M
