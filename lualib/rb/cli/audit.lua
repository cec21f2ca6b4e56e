-- rb.cli.audit — `runbook audit verify FILE` and `runbook audit show FILE`.
local args = require "rb.cli.args"
local audit = require "rb.audit"
local cjson = require "cjson"

local HELP = [[
usage: runbook audit verify FILE|URL
       runbook audit show FILE|URL [--run ID]

FILE is a JSON Lines audit file; URL a postgres://... audit table (--audit
postgres://..., docs/audit.md).

verify: checks the hash chain; exit 0 when it holds, else 1 naming the first
bad line (altered, deleted, inserted, reordered or truncated).
show: a readable timeline — who ran what, what was planned, what was approved,
what happened.
]]

-- A URL is shown without its password.
local function shown(file)
  return (file:gsub("^(%a[%w+.-]*://[^:/@]*):[^@/]*@", "%1:***@"))
end

local function verify(path)
  local file = shown(path)
  local ok, a, b = audit.verify(path)
  if ok == nil then io.stderr:write("runbook: ", a, "\n"); return 2 end
  if ok then print(("%s: chain valid, %d event(s)"):format(file, a)); return 0 end
  print(("%s:%d: %s"):format(file, a, b))
  return 1
end

local function num(v)
  return math.tointeger(v) and tostring(math.tointeger(v)) or tostring(v)
end

-- One action: binding.op target, then its arguments (redacted when they were
-- written) on the next line, so the timeline says what was sent, not only where.
local cjson = require "cjson"
local function action_text(a)
  local text = ("%s.%s %s"):format(a.binding, a.op, a.target)
  local args = a.args
  if type(args) == "table" then
    local ok, s = pcall(cjson.encode, args)
    args = ok and s or nil
  end
  if type(args) == "string" and args ~= "" and args ~= "null" and args ~= "[]" and args ~= "{}" then
    text = text .. "\n          args " .. args
  end
  return text
end

local SHOW = {
  run_start = function(e) return ("RUN %s of %s by %s@%s%s"):format(e.run, e.section, e.user, e.host,
    e.dry_run and " (DRY RUN)" or "") end,
  step_start = function(e) return ("  step '%s' (%s)"):format(e.step, e.mode or "?") end,
  finding = function(e) local f = e.finding or {}
    return ("    finding %s: %s = %s"):format(f.level, f.name, num(f.value)) end,
  plan = function(e)
    local lines = { ("    planned %d action(s)"):format(#(e.actions or {})) }
    for i, a in ipairs(e.actions or {}) do lines[#lines + 1] = ("      %d. %s"):format(i, action_text(a)) end
    return table.concat(lines, "\n") end,
  confirm = function(e) return ("    approved? %s"):format(e.answer) end,
  intent = function(e) return ("    -> sending %s"):format(action_text(e.action)) end,
  result = function(e) return ("    <- %s %s (%.0f ms)%s"):format(e.ok and "ok" or "FAILED", action_text(e.action),
    e.ms or 0, e.error and (": " .. e.error) or "") end,
  step_end = function(e) return ("  step '%s' %s%s"):format(e.step,
    e.ok and (e.applied == false and "ok (planned only, nothing applied)" or "ok") or e.ok == nil and "not applied" or "failed",
    e.error and (": " .. e.error) or "") end,
  run_end = function(e) return ("RUN %s ended, exit %s"):format(e.run, num(e.exit)) end,
  interrupted = function(e) return ("RUN %s INTERRUPTED"):format(e.run) end,
  serve_start = function(e) return ("SERVE %s started on %s by %s@%s%s"):format(e.run, e.listen, e.user, e.host,
    (e.recovered or 0) > 0 and (" (%d run(s) recovered)"):format(e.recovered) or "") end,
  serve_stop = function(e) return ("SERVE %s stopped (%d run(s) interrupted, %d queued)"):format(e.run,
    #(e.interrupted or {}), e.queued or 0) end,
  alert = function(e)
    local out = { ("  alerts from group %s"):format(e.group or "?") }
    for _, a in ipairs(e.alerts or {}) do
      out[#out + 1] = ("    %s %s -> %s%s"):format(a.status, a.alertname or a.fingerprint, a.disposition,
        a.run and (" run " .. a.run) or a.why and (" (" .. a.why .. ")") or "")
    end
    return table.concat(out, "\n") end,
}

-- lines(path) -> iterator over the audit lines of a file or a postgres:// table
local function lines(path)
  if path:match("^postgres://") or path:match("^postgresql://") then
    local list, err = require("rb._audit_pg").lines(path)
    if not list then return nil, err end
    local i = 0
    return function() i = i + 1; return list[i] end, function() end
  end
  local f, err = io.open(path, "r")
  if not f then return nil, err end
  return f:lines(), function() f:close() end
end

local function show(path, only)
  local file = shown(path)
  local it, close = lines(path)
  if not it then io.stderr:write("runbook: ", close, "\n"); return 2 end
  local n = 0
  for line in it do
    n = n + 1
    local ok, e = pcall(cjson.decode, line)
    if not ok or type(e) ~= "table" then
      print(("%s:%d: (not an audit event)"):format(file, n))
    elseif not only or e.run == only then
      local fmt = SHOW[e.event]
      print(("%s  %s"):format(e.ts or "?", fmt and fmt(e) or e.event))
    end
  end
  close()
  return 0
end

return function(argv)
  local o, pos = args.parse(argv, { flags = { help = true }, options = { run = true }, alias = { h = "help" } })
  if not o then return args.usage(pos, HELP) end
  if o.help then io.stdout:write(HELP); return 0 end
  local sub, file = pos[1], pos[2]
  if not file or #pos ~= 2 then return args.usage("audit needs verify|show and a FILE", HELP) end
  if sub == "verify" then return verify(file) end
  if sub == "show" then return show(file, o.run) end
  return args.usage(("unknown audit command '%s'"):format(sub), HELP)
end
