-- rb.planfile — saved plans (DESIGN §4 "Saved plans"; docs/approvals.md).
--
-- A plan file is one canonical JSON document (keys sorted): the section, a
-- digest of every file of its book, the params (secrets redacted, with the
-- SHA-256 of their value so apply can check it is given the same), the
-- targets, author, created and expiry times, each resolve step's planned
-- actions in canonical form with their digests (SHA-256 of the unredacted
-- call, as the gate matches them) and what a server-side dry run showed, and
-- the findings of the investigation. `digest` is the SHA-256 of all of that;
-- `approvals` (who, when, the digest they approved, an OpenSSH signature)
-- are appended after it and are not part of it.
local sys = require "rb._sys"
local core = require "rb._core"
local cjson = require "cjson"

local M = {}
M.FORMAT = "runbook-plan/1"

local function rfc3339(t) return os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(t)) end
M.rfc3339 = rfc3339

-- Every regular file below dir, as paths relative to it, sorted.
local function files_below(dir, rel, out)
  for _, name in ipairs(core.listdir(dir .. (rel ~= "" and "/" .. rel or "")) or {}) do
    local r = rel ~= "" and (rel .. "/" .. name) or name
    local kind = core.kind(dir .. "/" .. r)
    if kind == "dir" then files_below(dir, r, out)
    elseif kind == "file" then out[#out + 1] = r end
  end
  return out
end

local function read_all(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  return s
end

--- book_digest(dir) -> hex: SHA-256 over every file of the book (path and content)
function M.book_digest(dir)
  local lines = {}
  for _, rel in ipairs(files_below(dir, "", {})) do
    lines[#lines + 1] = rel .. "\0" .. sys.sha256(read_all(dir .. "/" .. rel) or "")
  end
  return sys.sha256(table.concat(lines, "\n"))
end

-- The directory whose files the plan depends on: the book's, or the loose
-- section file's own directory.
function M.source_dir(section)
  if section.book then return section.book.dir end
  return section.file:match("^(.*)/[^/]+$") or "."
end

--- params_of(params) -> the params as stored: secrets replaced by
-- {redacted = true, sha256 = ...}, everything else as is.
local function stored_params(params)
  local out = {}
  for k, v in pairs(params) do
    if type(v) == "string" and sys.redact(v) ~= v then
      out[k] = { redacted = true, sha256 = sys.sha256(v) }
    else
      out[k] = v
    end
  end
  return out
end

local function action_of(a)
  local args = a.args
  local ok, decoded = pcall(cjson.decode, args or "null")
  return { binding = a.binding, op = a.op, target = a.target, args = ok and decoded or args,
    digest = a.digest, simulated = a.simulated, simulable = a.simulable, before = a.before }
end

--- build(run, opts) -> plan document (without approvals)
-- run: a finished dry run (rb.runner); opts: max_age (seconds), targets.
function M.build(run, opts)
  local steps = {}
  for _, r in ipairs(run.steps) do
    if r.kind == "resolve" then
      local actions = {}
      for i, a in ipairs(r.plan or {}) do actions[i] = action_of(a) end
      steps[#steps + 1] = { title = r.title, risk = r.risk, actions = actions, ok = r.ok ~= false, error = r.error }
    end
  end
  local findings = {}
  for i, f in ipairs(run.findings) do
    findings[i] = { name = f.name, value = f.value, level = f.level, step = f.step, unit = f.unit }
  end
  local section = run.section
  local body = {
    format = M.FORMAT, section = run.name, title = section.title, file = core.realpath(section.file),
    book = { id = section.book and section.book.id or cjson.null, digest = M.book_digest(M.source_dir(section)) },
    params = stored_params(run.params), targets = opts.targets or {},
    author = { user = run.user, host = run.host }, run = run.id,
    created = rfc3339(run.started), created_unix = math.floor(run.started),
    expires = rfc3339(run.started + opts.max_age), expires_unix = math.floor(run.started + opts.max_age),
    steps = steps, findings = findings,
  }
  body.digest = M.digest(body)
  body.approvals = {}
  return body
end

--- resolve(plan) -> section | nil, err: the plan's section, by name on the
-- search path, else by the file it was made from
function M.resolve(plan)
  local loader = require "rb.loader"
  local s, err = loader.resolve(plan.section)
  if not s and plan.file then s, err = loader.resolve(plan.file) end
  return s, err
end

--- digest(plan) -> hex SHA-256 of the canonical plan without digest and approvals
function M.digest(plan)
  local copy = {}
  for k, v in pairs(plan) do
    if k ~= "digest" and k ~= "approvals" then copy[k] = v end
  end
  return sys.sha256(sys.canon(copy))
end

--- encode(plan) -> text: canonical JSON, one document, newline-terminated
function M.encode(plan)
  local text = sys.canon(plan)
  return sys.redact(text) .. "\n"
end

--- read(path) -> plan | nil, err  (checks the format and that the digest holds)
function M.read(path)
  local text, err = read_all(path)
  if not text then return nil, err end
  if #text > 64 * 1024 * 1024 then return nil, path .. ": larger than 64 MiB" end
  local ok, plan = pcall(cjson.decode, text)
  if not ok or type(plan) ~= "table" then return nil, ("%s: not a plan file (invalid JSON)"):format(path) end
  if plan.format ~= M.FORMAT then
    return nil, ("%s: not a plan file of this version (format %s, want %s)"):format(path, tostring(plan.format), M.FORMAT)
  end
  if type(plan.approvals) ~= "table" then plan.approvals = {} end
  local want = M.digest(plan)
  if plan.digest ~= want then
    return nil, ("%s: the plan was changed after it was made (its digest is %s, its content hashes to %s): "
      .. "make a new plan with `runbook plan`"):format(path, tostring(plan.digest), want)
  end
  return plan
end

--- write(path, plan) -> true | nil, err: to a temporary file beside it, then renamed
function M.write(path, plan)
  local tmp = ("%s.tmp.%d"):format(path, sys.getpid())
  local f, err = io.open(tmp, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(M.encode(plan))
  f:close()
  if not ok then os.remove(tmp); return nil, werr end
  local rok, rerr = os.rename(tmp, path)
  if not rok then os.remove(tmp); return nil, rerr end
  return true
end

--- max_risk_count(plan, policy) -> approvals the plan needs, and the riskiest step's risk
function M.required(plan, policy)
  local need, risk = 0, nil
  for _, s in ipairs(plan.steps) do
    if #s.actions > 0 then
      local n = policy.approvals[s.risk or "medium"] or 0
      if n > need or risk == nil then need, risk = math.max(need, n), s.risk end
    end
  end
  return need, risk
end

--- drift(approved_actions, replanned) -> nil | text saying exactly what differs
function M.drift(approved, replanned)
  local lines = {}
  local n = math.max(#approved, #replanned)
  for i = 1, n do
    local a, b = approved[i], replanned[i]
    if not a then
      lines[#lines + 1] = ("  %d. new now: %s.%s %s"):format(i, b.binding, b.op, b.target)
    elseif not b then
      lines[#lines + 1] = ("  %d. gone now: %s.%s %s"):format(i, a.binding, a.op, a.target)
    elseif a.digest ~= b.digest then
      lines[#lines + 1] = ("  %d. approved: %s.%s %s"):format(i, a.binding, a.op, a.target)
      lines[#lines + 1] = ("     now:      %s.%s %s"):format(b.binding, b.op, b.target)
      local aa = type(a.args) == "string" and a.args or sys.canon(a.args)
      local ba = b.args or "null"
      if aa ~= ba then
        lines[#lines + 1] = "     approved args: " .. aa
        lines[#lines + 1] = "     now args:      " .. ba
      end
    end
  end
  if #lines == 0 then return nil end
  return table.concat(lines, "\n")
end

return M
