-- check_manifests.lua FILE... — the cross references among deploy/'s
-- manifests, which no API server checks (each object is valid on its own;
-- `kubectl apply --dry-run=server` in serve_deploy.sh proves that): every
-- ServiceAccount, ConfigMap and Secret a pod template names (volumes, env
-- secretKeyRef/configMapKeyRef with their keys; optional ones may be
-- missing) is among the FILEs, every RoleBinding binds a Role and
-- ServiceAccount defined there, and each Service selects a Deployment's pods
-- and targets a port they name.
-- Prints one line per reference ("ok WHAT" or "bad FILE: WHAT"); exit 1 on any bad.
local yaml = require "rb.yaml"

local docs, defined = {}, {}
for _, file in ipairs(arg) do
  local text = assert(io.open(file)):read("a")
  for doc in ("\n" .. text .. "\n---"):gmatch("(.-)\n%-%-%-[^\n]*") do
    if doc:gsub("#[^\n]*", ""):match("%S") then
      local d = assert(yaml.decode(doc))
      d.metadata.name = d.metadata.name or d.metadata.generateName
      docs[#docs + 1] = { file = file, d = d }
      defined[d.kind .. "/" .. d.metadata.name] = d
    end
  end
end

local bad = 0
local function ref(file, ok, what)
  if ok then print("ok " .. what) else bad = bad + 1; print(("bad %s: %s"):format(file, what)) end
end

-- has(kind, name, key): the object is defined (and holds key, when given)
local function has(kind, name, key)
  local o = defined[kind .. "/" .. name]
  if not o or not key then return o ~= nil end
  return ((o.data or {})[key] or (o.stringData or {})[key] or (o.binaryData or {})[key]) ~= nil
end

local function pod_spec(d)
  if d.kind == "CronJob" then return d.spec.jobTemplate.spec.template.spec end
  if d.kind == "Deployment" or d.kind == "Job" then return d.spec.template.spec end
end

local function check_pod(file, who, spec)
  if spec.serviceAccountName then
    ref(file, has("ServiceAccount", spec.serviceAccountName), who .. " runs as ServiceAccount " .. spec.serviceAccountName)
  end
  for _, v in ipairs(spec.volumes or {}) do
    if v.configMap then
      ref(file, v.configMap.optional or has("ConfigMap", v.configMap.name), who .. " mounts ConfigMap " .. v.configMap.name)
    elseif v.secret then
      ref(file, v.secret.optional or has("Secret", v.secret.secretName), who .. " mounts Secret " .. v.secret.secretName)
    end
  end
  for _, list in ipairs { spec.initContainers or {}, spec.containers or {} } do
    for _, c in ipairs(list) do
      for _, e in ipairs(c.env or {}) do
        local from = e.valueFrom or {}
        for kind, r in pairs { Secret = from.secretKeyRef, ConfigMap = from.configMapKeyRef } do
          ref(file, r.optional or has(kind, r.name, r.key), ("%s env %s from %s %s key %s"):format(who, e.name, kind, r.name, r.key))
        end
      end
    end
  end
end

local function selects(svc, d)
  for k, v in pairs(svc.spec.selector or {}) do
    if ((d.spec.template.metadata or {}).labels or {})[k] ~= v then return false end
  end
  return next(svc.spec.selector or {}) ~= nil
end

local function check_service(file, svc)
  local target
  for _, o in pairs(defined) do
    if o.kind == "Deployment" and selects(svc, o) then target = o end
  end
  ref(file, target, "Service " .. svc.metadata.name .. " selects a Deployment's pods")
  if not target then return end
  for _, p in ipairs(svc.spec.ports or {}) do
    local found = type(p.targetPort) ~= "string"
    for _, c in ipairs(target.spec.template.spec.containers) do
      for _, cp in ipairs(c.ports or {}) do found = found or cp.name == p.targetPort end
    end
    ref(file, found, ("Service %s port %s targets a port of %s"):format(svc.metadata.name, p.name or p.port, target.metadata.name))
  end
end

for _, x in ipairs(docs) do
  local d, who = x.d, x.d.kind .. " " .. x.d.metadata.name
  local spec = pod_spec(d)
  if spec then check_pod(x.file, who, spec) end
  if d.kind == "RoleBinding" then
    ref(x.file, has(d.roleRef.kind, d.roleRef.name), who .. " binds " .. d.roleRef.kind .. " " .. d.roleRef.name)
    for _, s in ipairs(d.subjects or {}) do
      if s.kind == "ServiceAccount" then
        ref(x.file, has("ServiceAccount", s.name), who .. " binds ServiceAccount " .. s.name)
      end
    end
  elseif d.kind == "Service" then
    check_service(x.file, d)
  end
end
os.exit(bad == 0 and 0 or 1)
