-- check_manifests.lua FILE... — structural checks of deploy/ for the kinds
-- the lab's API stand-in does not serve (ServiceAccount, Secret, CronJob,
-- Role, ClusterRole, RoleBinding): every document has apiVersion, kind and
-- metadata.name; Roles' rules have apiGroups/resources/verbs; a CronJob has a
-- schedule and containers; bindings name a role and a ServiceAccount.
-- Prints one line per document ("ok KIND NAME" or "bad FILE: why"); exit 1 on any bad.
local yaml = require "rb.yaml"
local bad = 0
local function check(file, d)
  if type(d) ~= "table" then return "not a mapping" end
  if type(d.apiVersion) ~= "string" or type(d.kind) ~= "string" then return "no apiVersion/kind" end
  if type(d.metadata) ~= "table" or type(d.metadata.name) ~= "string" then return "no metadata.name" end
  if d.kind == "Role" or d.kind == "ClusterRole" then
    if type(d.rules) ~= "table" then return "no rules" end
    for i, r in ipairs(d.rules) do
      if type(r.apiGroups) ~= "table" or type(r.resources) ~= "table" or type(r.verbs) ~= "table" or #r.verbs == 0 then
        return ("rules[%d] incomplete"):format(i)
      end
    end
  elseif d.kind == "RoleBinding" or d.kind == "ClusterRoleBinding" then
    if type(d.roleRef) ~= "table" or not d.roleRef.name or type(d.subjects) ~= "table"
        or d.subjects[1].kind ~= "ServiceAccount" then return "roleRef/subjects incomplete" end
  elseif d.kind == "CronJob" then
    local s = d.spec or {}
    local c = ((((s.jobTemplate or {}).spec or {}).template or {}).spec or {}).containers
    if type(s.schedule) ~= "string" or type(c) ~= "table" or #c == 0 then return "schedule/containers missing" end
  elseif d.kind == "Secret" then
    if type(d.stringData or d.data) ~= "table" then return "no data" end
  end
end
for _, file in ipairs(arg) do
  local text = assert(io.open(file)):read("a")
  for doc in ("\n" .. text .. "\n---"):gmatch("(.-)\n%-%-%-[^\n]*") do
    if doc:match("%S") and doc:gsub("#[^\n]*", ""):match("%S") then
      local d, err = yaml.decode(doc)
      local why = err and err.message or check(file, d)
      if why then bad = bad + 1; print(("bad %s: %s"):format(file, why))
      else print(("ok %s %s"):format(d.kind, d.metadata.name)) end
    end
  end
end
os.exit(bad == 0 and 0 or 1)
