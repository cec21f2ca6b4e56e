-- rb.undo — the inverse of an applied run (`runbook undo RUN`, docs/undo.md).
--
-- Reads the run's intent/result events from the audit, keeps the writes that
-- were applied (an intent followed by an ok result) and, from the before-state
-- each binding recorded with its write (the intent's `before`), writes the
-- source of a runbook section whose resolve steps undo them in reverse order
-- with the public API. Each step first reads the live state and fails, with
-- nothing sent, unless it is what the run left. Writes without a before-state
-- (deletes, HTTP requests, VACUUM, cancelled queries, Redis writes other than
-- CONFIG SET ...) are listed with the reason they cannot be inverted.
-- Engine code: runbook code never reaches this module.
local cjson = require("cjson").new()
local k8s = require "rb.k8s"

local M = {}

-- ---- the run's applied writes ------------------------------------------------

-- Every line of a file or postgres:// audit, decoded, for the run.
local function read_events(path, run)
  local lines
  if path:match("^postgres://") or path:match("^postgresql://") then
    local list, err = require("rb._audit_pg").lines(path)
    if not list then return nil, err end
    lines = list
  else
    local f, err = io.open(path, "r")
    if not f then return nil, err end
    lines = {}
    for line in f:lines() do lines[#lines + 1] = line end
    f:close()
  end
  local needle, out = '"run":' .. cjson.encode(run), {}
  for _, line in ipairs(lines) do
    if line:find(needle, 1, true) then
      local ok, e = pcall(cjson.decode, line)
      if ok and type(e) == "table" and e.run == run then out[#out + 1] = e end
    end
  end
  return out
end

--- applied(audit_path, run) -> {start = run_start event, writes = {...}} | nil, err
-- writes: {step, action, before (decoded or nil), seq}, in the order sent;
-- a write counts when its intent is followed by an ok result.
function M.applied(path, run)
  local events, err = read_events(path, run)
  if not events then return nil, err end
  if #events == 0 then return nil, ("no run %s in the audit %s"):format(run, path) end
  local out, pending = { writes = {} }, nil
  for _, e in ipairs(events) do
    if e.event == "run_start" then out.start = e
    elseif e.event == "intent" then pending = e
    elseif e.event == "result" and pending then
      if e.ok == true then
        out.writes[#out.writes + 1] = { step = pending.step, action = pending.action, seq = pending.seq,
          before = type(pending.before) == "table" and pending.before or nil }
      end
      pending = nil
    end
  end
  return out
end

-- ---- Lua source of values --------------------------------------------------------

local KEYWORDS = {}
for w in ("and break do else elseif end false for function goto if in local nil not or repeat return then true until while")
    :gmatch("%a+") do KEYWORDS[w] = true end

local function literal(v)
  local t = type(v)
  if v == cjson.null then return "null" end
  if t == "string" then return (("%q"):format(v):gsub("\\\n", "\\n")) end
  if t == "number" then
    if math.type(v) == "float" and v == math.floor(v) and math.abs(v) < 2^53 then return ("%d"):format(v) end
    return tostring(v)
  end
  if t == "boolean" then return tostring(v) end
  if t ~= "table" then error("undo: cannot write a " .. t, 0) end
  local parts = {}
  if #v > 0 then
    for i = 1, #v do parts[i] = literal(v[i]) end
  else
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do
      local bare = type(k) == "string" and k:match("^[%a_][%w_]*$") and not KEYWORDS[k]
      local key = bare and k or ("[" .. literal(k) .. "]")
      parts[#parts + 1] = key .. " = " .. literal(v[k])
    end
  end
  return "{ " .. table.concat(parts, ", ") .. " }"
end
M.literal = literal

-- ---- inverses, per binding ---------------------------------------------------------
-- Each returns {title, description, body = {lines of the step function}} or
-- nil, why it cannot be inverted.

local function has_redacted(v)
  return cjson.encode(v):find("[REDACTED]", 1, true) ~= nil
end

-- The fields' values in the write's patch: what the run left.
local function k8s_conditions(fields, patch)
  local out = {}
  for i, f in ipairs(fields) do
    local v = k8s.at(patch, f.path)
    out[i] = v == nil and { path = f.path, absent = true } or { path = f.path, value = v }
  end
  return out
end

-- A value as the step titles show it: 3 (not 3.0), an env entry as its value.
local function show(v)
  if v == nil or v == cjson.null then return "absent" end
  if math.type(v) == "float" and v == math.floor(v) and math.abs(v) < 2^53 then return ("%d"):format(v) end
  if type(v) == "table" and type(v.name) == "string" and v.value ~= nil then return show(v.value) end
  if type(v) == "table" then return cjson.encode(v) end
  return tostring(v)
end

-- A list written one item a line, for the step's locals.
local function list_literal(list)
  local lines = {}
  for i, v in ipairs(list) do lines[i] = "    " .. literal(v) .. "," end
  return "{\n" .. table.concat(lines, "\n") .. "\n  }"
end

local function k8s_inverse(w)
  local b, a = w.before, w.action.args or {}
  if type(b.fields) ~= "table" or #b.fields == 0 then return nil, "no field of the object was recorded" end
  local left = k8s_conditions(b.fields, type(a.body) == "table" and a.body or {})
  local ref, ns = b.resource .. "/" .. b.name, literal(b.namespace or cjson.null)
  local changes = {}
  for i, f in ipairs(b.fields) do
    changes[i] = ("%s: %s -> %s"):format(k8s.path_text(f.path), show(left[i].value), show(f.value))
  end
  local body = {
    "local left = " .. list_literal(left) .. "  -- as the run left them",
    "local before = " .. list_literal(b.fields) .. "  -- as they were before it",
    ("same_server(%s)"):format(literal(a.server or "")),
    ("assert(k8s.expect(%s, left, { namespace = %s }))"):format(literal(ref), ns),
  }
  local title
  if b.subresource == "scale" and #b.fields == 1 and b.fields[1].path[2] == "replicas" then
    local n = b.fields[1].value
    if math.type(n) == nil then return nil, "the replicas before were not recorded" end
    title = ("Scale %s back to %d"):format(ref, n)
    body[#body + 1] = ("local res = assert(k8s.scale(%s, %d, { namespace = %s }))"):format(literal(ref), n, ns)
  else
    title = ("Put %d field(s) of %s back"):format(#b.fields, ref)
    body[#body + 1] = ("local res = assert(k8s.patch(%s, %s, k8s.restore_patch(before), { type = %s, namespace = %s%s }))")
      :format(literal(b.resource), literal(b.name), literal(b.type or "strategic"), ns,
        b.subresource and (", subresource = " .. literal(b.subresource)) or "")
  end
  body[#body + 1] = ("if not res.planned then assert(k8s.expect(%s, before, { namespace = %s })) end")
    :format(literal(ref), ns)
  return { title = title, description = table.concat(changes, "; "), body = body }
end

local function redis_inverse(w)
  local b, a = w.before, w.action.args or {}
  local p, left = b.parameter, a[2]
  if type(p) ~= "string" or b.value == nil or left == nil then return nil, "the value before was not recorded" end
  return {
    title = ("CONFIG SET %s back to %s"):format(p, show(b.value)),
    description = ("Redis %s %s: %s -> %s"):format(w.action.target, p, show(left), show(b.value)),
    body = {
      'local c <close> = assert(redis.connect(target(ctx, "redis")))',
      ("same_target(c, %s, \"Redis\")"):format(literal(w.action.target)),
      ("local now = assert(c:config_get(%s))[%s]"):format(literal(p), literal(p)),
      ("if not redis_same(now, %s) then changed(\"Redis %s\", now, %s) end"):format(literal(tostring(left)), p,
        literal(tostring(left))),
      ("local res = assert(c:config_set(%s, %s))"):format(literal(p), literal(b.value)),
      ("if not res.planned and not redis_same(assert(c:config_get(%s))[%s], %s) then error(\"Redis %s did not read back as %s\", 0) end")
        :format(literal(p), literal(p), literal(b.value), p, tostring(b.value)),
    },
  }
end

local function pg_inverse(w)
  local b = w.before
  if type(b.setting) ~= "string" then return nil, "the setting before was not recorded" end
  local back = b.in_auto_conf and b.value or nil
  if b.in_auto_conf and back == nil then return nil, "the value in postgresql.auto.conf was not recorded" end
  local left_txt = b.reset and "not set in postgresql.auto.conf" or show(b.to)
  local back_txt = back and show(back) or "not set (ALTER SYSTEM RESET)"
  return {
    title = back and ("ALTER SYSTEM SET %s back to %s"):format(b.setting, back)
      or ("ALTER SYSTEM RESET %s"):format(b.setting),
    description = ("PostgreSQL %s %s: %s -> %s (then pg_reload_conf())"):format(w.action.target, b.setting,
      left_txt, back_txt),
    body = {
      'local c <close> = assert(pg.connect(target(ctx, "postgres")))',
      ("same_target(c, %s, \"PostgreSQL\")"):format(literal(w.action.target)),
      ("local now = assert(c:auto_conf(%s))"):format(literal(b.setting)),
      b.reset and "if now.in_auto_conf then"
        or ("if not (now.in_auto_conf and now.value == %s) then"):format(literal(tostring(b.to))),
      ("  changed(\"PostgreSQL %s\", now.in_auto_conf and now.value or \"not set in postgresql.auto.conf\", %s)")
        :format(b.setting, literal(left_txt)),
      "end",
      ("assert(c:alter_system(%s, %s))"):format(literal(b.setting), back and literal(back) or "nil"),
      "assert(c:reload_conf())",
    },
  }
end

local INVERSE = { k8s = k8s_inverse, redis = redis_inverse, pg = pg_inverse }

-- Why a write without a before-state cannot be inverted.
local function reason(a)
  local b, op = a.binding, tostring(a.op)
  if b == "k8s" then
    if op == "delete" then return "a deleted object cannot be brought back (its state is gone)" end
    if op == "create" then return "a created object is not deleted by undo (delete it by hand if it should go)" end
    if op == "exec" then return "a command run in a pod cannot be taken back" end
    if op == "update" then return "a replaced object (PUT) is not inverted; use patch, scale or set_* helpers" end
  elseif b == "http" or b == "net" then
    return "an HTTP request cannot be taken back"
  elseif b == "pg" then
    local sql = type(a.args) == "table" and tostring(a.args[1] or ""):upper() or ""
    if sql:find("VACUUM", 1, true) or sql:find("ANALYZE", 1, true) then return "VACUUM and ANALYZE cannot be inverted" end
    if sql:find("PG_CANCEL_BACKEND", 1, true) or sql:find("PG_TERMINATE_BACKEND", 1, true) then
      return "a cancelled or terminated query cannot be resumed"
    end
    if sql:find("PG_RELOAD_CONF", 1, true) then
      return "a configuration reload (the undo of an ALTER SYSTEM reloads again itself)"
    end
    return "SQL other than ALTER SYSTEM (conn:alter_system) is not inverted"
  elseif b == "redis" then
    if op:upper() == "CONFIG SET" then return "CONFIG SET through conn:call keeps no value before; use conn:config_set" end
    return "Redis writes other than CONFIG SET are not inverted"
  end
  return "no before-state was recorded for this write"
end

-- The values a write set, as its intent keeps them (a k8s write's body).
local function set_by(a)
  local args = type(a.args) == "table" and a.args or {}
  if a.binding == "k8s" then return args.body or {} end
  return args
end

local function describe(a)
  return ("%s.%s %s"):format(a.binding, a.op, a.target or "")
end

--- plan(applied) -> {inverses = {{title, description, body, of}, ...}, cannot = {{what, why, step}, ...}}
-- inverses in reverse order of the writes.
function M.plan(applied)
  local out = { inverses = {}, cannot = {} }
  for i = #applied.writes, 1, -1 do
    local w = applied.writes[i]
    local inv, why
    if not w.before then why = reason(w.action)
    elseif w.before.cannot then why = w.before.cannot
    elseif has_redacted(w.before) then why = "the value before holds a secret, which the audit does not keep"
    elseif has_redacted(set_by(w.action)) then
      why = "the value the run set holds a secret, which the audit does not keep: the state it left cannot be checked"
    elseif not INVERSE[w.action.binding] then why = "no undo is known for " .. tostring(w.action.binding)
    else inv, why = INVERSE[w.action.binding](w) end
    if inv then
      inv.of = w
      out.inverses[#out.inverses + 1] = inv
    else
      out.cannot[#out.cannot + 1] = { what = describe(w.action), why = why, step = w.step }
    end
  end
  return out
end

-- ---- the section's source ----------------------------------------------------------

local PRELUDE = [[
-- Written by `runbook undo %s`: the inverse of run %s (%s).
-- Each step reads the live state first and fails, sending nothing, unless it
-- is what the run left; then it puts back the value the run's write replaced.
local rb = require "rb"
local k8s = require "rb.k8s"
local redis = require "rb.redis"
local pg = require "rb.pg"
local null = require("rb.json").null

local RUN = %q

local function changed(what, now, left)
  error(("%%s changed since run %%s: it is %%s now, the run left %%s; undo refused, nothing sent")
    :format(what, RUN, tostring(now), tostring(left)), 0)
end

-- The targets: --set redis=URL / postgres=DSN, else the run's (--env, --config).
local function target(ctx, name)
  local v = ctx.params[name]
  if v == nil or v == "" then v = rb.target(name) end
  if v == nil or v == "" then error(("no %%s target: give --set %%s=... or --env"):format(name, name), 0) end
  return v
end

local function same_target(conn, want, what)
  if conn:target() ~= want then
    error(("%%s target is %%s, run %%s wrote to %%s: point undo at it (--set, --env)")
      :format(what, conn:target(), RUN, want), 0)
  end
end

local function same_server(want)
  local c = assert(k8s.default())
  if c:info().server ~= want then
    error(("Kubernetes server is %%s, run %%s wrote to %%s: point undo at it (--context, --kubeconfig)")
      :format(c:info().server, RUN, want), 0)
  end
end

-- Redis answers memory sizes in bytes ("100mb" is read back as "104857600").
local UNITS = { [""] = 1, k = 1000, kb = 1024, m = 1000 ^ 2, mb = 1024 ^ 2, g = 1000 ^ 3, gb = 1024 ^ 3 }
local function bytes(s)
  local n, u = tostring(s):lower():match("^(%%d+)(%%a*)$")
  return n and UNITS[u] and tonumber(n) * UNITS[u] or nil
end
local function redis_same(now, left)
  return now == left or (bytes(now) ~= nil and bytes(now) == bytes(left))
end

local S = rb.section {
  id = %q,
  title = %q,
  params = { redis = "", postgres = "" },
}
]]

--- source(run, start, plan) -> Lua text of the section
function M.source(run, start, plan)
  local section = start and start.section or "?"
  local out = { PRELUDE:format(run, run, section, run, "undo-" .. run,
    ("Undo of run %s (%s)"):format(run, section)) }
  for i, inv in ipairs(plan.inverses) do
    out[#out + 1] = ("S:resolve(%s, { risk = \"medium\", description = %s }, function(ctx)")
      :format(literal(("%d. %s"):format(i, inv.title)),
        literal(("undoes %s (step '%s') of run %s: %s"):format(inv.of.action.op, inv.of.step, run, inv.description)))
    for _, line in ipairs(inv.body) do out[#out + 1] = "  " .. line end
    out[#out + 1] = "end)\n"
  end
  out[#out + 1] = "return S\n"
  return table.concat(out, "\n")
end

return M
