-- rb.approvals — who approved a saved plan, and whether that is enough
-- (docs/approvals.md).
--
-- Policy (book.lua's `policy`, overridden by the config file's top-level
-- `policy`): approvals = {low, medium, high} (how many approvals a plan
-- needs, by its riskiest step), self_approval (the plan's author may approve
-- it; default false), max_age (seconds a plan stays valid; default 4 h),
-- signed (only approvals signed with an SSH key listed in allowed_signers
-- count; default false).
--
-- Signatures use OpenSSH's signature format, as git does for signed commits:
-- `ssh-keygen -Y sign -n runbook-plan` over the line "runbook-plan DIGEST",
-- checked with `ssh-keygen -Y verify -f ALLOWED_SIGNERS -I USER -n
-- runbook-plan`: a signature counts for USER only if allowed_signers lists
-- that key for USER.
local sys = require "rb._sys"
local core = require "rb._core"

local M = {}
M.NAMESPACE = "runbook-plan"
M.DEFAULT = { approvals = { low = 0, medium = 0, high = 0 }, self_approval = false, max_age = 4 * 3600,
  signed = false }

local DURATION = { s = 1, m = 60, h = 3600, d = 86400 }

local function seconds(v, what)
  if type(v) == "number" then return v end
  local n, u = tostring(v):match("^(%d+)([smhd])$")
  if not n then error(("%s: a duration like 30m, 4h or 1d (got %s)"):format(what, tostring(v)), 0) end
  return tonumber(n) * DURATION[u]
end

--- policy(book_policy?, config_policy?) -> the policy in force (defaults, book, config)
function M.policy(book, config)
  local p = { approvals = {}, self_approval = M.DEFAULT.self_approval, max_age = M.DEFAULT.max_age,
    signed = M.DEFAULT.signed }
  for k, v in pairs(M.DEFAULT.approvals) do p.approvals[k] = v end
  for _, layer in ipairs { book or {}, config or {} } do
    for k, v in pairs(layer.approvals or {}) do p.approvals[k] = v end
    if layer.self_approval ~= nil then p.self_approval = layer.self_approval == true end
    if layer.max_age ~= nil then p.max_age = seconds(layer.max_age, "policy.max_age") end
    if layer.signed ~= nil then p.signed = layer.signed == true end
  end
  return p
end

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- A private scratch directory for the message and signature files.
local function scratch()
  local base = os.getenv("TMPDIR") or "/tmp"
  local dir = ("%s/runbook-sig.%s"):format(base, sys.run_id())
  local ok, err = core.mkdir_private(dir)
  if not ok then return nil, err end
  return dir
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function cleanup(dir)
  for _, name in ipairs(core.listdir(dir) or {}) do os.remove(dir .. "/" .. name) end
  os.remove(dir)
end

local function message(digest) return M.NAMESPACE .. " " .. digest .. "\n" end

--- sign(digest, key_path) -> armored signature | nil, err
function M.sign(digest, key)
  local dir, err = scratch()
  if not dir then return nil, err end
  local msg = dir .. "/plan"
  write(msg, message(digest))
  local cmd = ("ssh-keygen -q -Y sign -f %s -n %s %s </dev/null 2>%s"):format(quote(key), M.NAMESPACE,
    quote(msg), quote(dir .. "/err"))
  local ok = os.execute(cmd)
  local f = io.open(msg .. ".sig", "rb")
  local sig = f and f:read("a")
  if f then f:close() end
  local ef = io.open(dir .. "/err", "rb")
  local why = ef and ef:read("a") or ""
  if ef then ef:close() end
  cleanup(dir)
  if not ok or not sig or sig == "" then
    return nil, ("ssh-keygen could not sign with %s: %s"):format(key, (why:gsub("%s+$", "")))
  end
  return sig
end

--- verify(digest, signature, user, allowed_signers) -> true | nil, why
function M.verify(digest, sig, user, allowed)
  local dir, err = scratch()
  if not dir then return nil, err end
  write(dir .. "/plan", message(digest))
  write(dir .. "/plan.sig", sig)
  local cmd = ("ssh-keygen -Y verify -f %s -I %s -n %s -s %s <%s >%s 2>&1"):format(quote(allowed), quote(user),
    M.NAMESPACE, quote(dir .. "/plan.sig"), quote(dir .. "/plan"), quote(dir .. "/out"))
  local ok = os.execute(cmd)
  local f = io.open(dir .. "/out", "rb")
  local out = f and f:read("a") or ""
  if f then f:close() end
  cleanup(dir)
  if ok then return true end
  return nil, (out:gsub("%s+$", ""))
end

--- judge(plan, policy, allowed_signers?) -> counted, notes
-- counted: approvals that count; notes: one line per approval saying why it
-- does or does not.
function M.judge(plan, policy, allowed)
  local counted, notes, seen = {}, {}, {}
  for i, a in ipairs(plan.approvals) do
    local why
    if a.digest ~= plan.digest then why = "approves another version of the plan"
    elseif seen[a.user] then why = "a second approval by the same person"
    elseif a.user == plan.author.user and not policy.self_approval then
      why = "self-approval (the plan's author; the policy does not allow it)"
    elseif a.signature then
      if not allowed then
        why = "signed, but no allowed_signers file is configured to check it"
      else
        local ok, verr = M.verify(plan.digest, a.signature, a.user, allowed)
        if not ok then why = "signature does not verify for " .. a.user .. ": " .. verr end
      end
    elseif policy.signed then
      why = "unsigned, and the policy requires signed approvals"
    end
    if why then notes[#notes + 1] = ("approval %d by %s: does not count: %s"):format(i, a.user, why)
    else
      seen[a.user] = true
      counted[#counted + 1] = a
      notes[#notes + 1] = ("approval %d by %s at %s: counts (%s)"):format(i, a.user, a.at,
        a.signature and "signed" or "unsigned")
    end
  end
  return counted, notes
end

return M
