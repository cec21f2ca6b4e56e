-- rb.serve_alerts — Alertmanager's webhook payload (version 4) read and
-- checked, and each alert mapped to the section it asks for. Pure Lua over
-- cjson; no I/O.
--
-- Mapping, first match wins:
--   1. the config's `mappings` (hand-written rules): { match = {label = value, ...},
--      section = "book/section" } — every listed label (or annotation) must be equal;
--   2. the annotation `runbook` that `runbook export-alerts` writes:
--      "runbook run BOOK/SECTION";
--   3. the labels `book` and `section`, if a rule sets them.
-- The target (what "the same run" means) is the section plus the values of
-- the config's `target_labels` (default namespace, cluster, env).
local cjson = require("cjson").new()
cjson.decode_max_depth(16)

local M = {}

M.MAX_ALERTS = 5000

local function is_map(v) return type(v) == "table" and (next(v) == nil or #v == 0) end

local function strings(v, what, i)
  if v == nil then return {} end
  if not is_map(v) then return nil, ("alerts[%d].%s must be an object"):format(i, what) end
  for k, x in pairs(v) do
    if type(k) ~= "string" or type(x) ~= "string" then
      return nil, ("alerts[%d].%s must map strings to strings"):format(i, what)
    end
  end
  return v
end

local function check_alert(a, i)
  if type(a) ~= "table" then return nil, ("alerts[%d] must be an object"):format(i) end
  if a.status ~= "firing" and a.status ~= "resolved" then
    return nil, ("alerts[%d].status must be 'firing' or 'resolved' (got %s)"):format(i, tostring(a.status))
  end
  local labels, err = strings(a.labels, "labels", i)
  if not labels then return nil, err end
  local ann, aerr = strings(a.annotations, "annotations", i)
  if not ann then return nil, aerr end
  for _, f in ipairs { "fingerprint", "startsAt", "endsAt", "generatorURL" } do
    if a[f] ~= nil and type(a[f]) ~= "string" then return nil, ("alerts[%d].%s must be a string"):format(i, f) end
  end
  return { status = a.status, labels = labels, annotations = ann, fingerprint = a.fingerprint,
    startsAt = a.startsAt or "", endsAt = a.endsAt or "" }
end

--- parse(body) -> payload | nil, message (for a 400 answer)
-- payload = { group_key, status, receiver, alerts = { {status, labels, annotations, fingerprint, startsAt} } }
function M.parse(body)
  local ok, doc = pcall(cjson.decode, body)
  if not ok then return nil, "body is not valid JSON: " .. tostring(doc):gsub("^.-: ", "") end
  if type(doc) ~= "table" or not is_map(doc) then return nil, "body must be a JSON object (Alertmanager webhook)" end
  if doc.version ~= "4" then
    return nil, ("unsupported webhook version %s (runbook serve reads Alertmanager's version \"4\")")
      :format(doc.version == nil and "(none)" or cjson.encode(doc.version))
  end
  if type(doc.alerts) ~= "table" or (next(doc.alerts) ~= nil and #doc.alerts == 0) then
    return nil, "'alerts' must be an array"
  end
  if #doc.alerts > M.MAX_ALERTS then
    return nil, ("%d alerts in one notification (at most %d; set max_alerts in Alertmanager's webhook_config)")
      :format(#doc.alerts, M.MAX_ALERTS)
  end
  local out = { group_key = type(doc.groupKey) == "string" and doc.groupKey or "", receiver = doc.receiver,
    status = doc.status, alerts = {} }
  for i, a in ipairs(doc.alerts) do
    local x, err = check_alert(a, i)
    if not x then return nil, err end
    x.fingerprint = x.fingerprint or M.fingerprint(x.labels)
    out.alerts[i] = x
  end
  return out
end

--- fingerprint(labels) -> text: a stable identity when the sender gave none.
function M.fingerprint(labels)
  local keys = {}
  for k in pairs(labels) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. labels[k] end
  return table.concat(parts, "\0")
end

local SECTION = "^[%w_.%-]+/[%w_.%-]+$"

local function matches(m, a)
  for k, v in pairs(m) do
    local got = a.labels[k] or a.annotations[k]
    if got ~= tostring(v) then return false end
  end
  return true
end

--- section(alert, mappings) -> "book/section" | nil, why
function M.section(a, mappings)
  for _, m in ipairs(mappings or {}) do
    if matches(m.match, a) then return m.section end
  end
  local ann = a.annotations.runbook
  if ann then
    local s = ann:match("^%s*runbook%s+run%s+(%S+)%s*$")
    if s and s:match(SECTION) then return s end
    return nil, ("annotation runbook=%q does not name a section (expected \"runbook run BOOK/SECTION\")"):format(ann)
  end
  if a.labels.book and a.labels.section then
    local s = a.labels.book .. "/" .. a.labels.section
    if s:match(SECTION) then return s end
  end
  return nil, "no mapping, no runbook annotation, no book/section labels"
end

--- target(alert, labels) -> text naming what the run looks at ("" = the whole book's environment)
function M.target(a, names)
  local parts = {}
  for _, n in ipairs(names) do
    if a.labels[n] then parts[#parts + 1] = n .. "=" .. a.labels[n] end
  end
  return table.concat(parts, ",")
end

--- check_mappings(list) -> list | nil, err (config validation)
function M.check_mappings(list)
  if list == nil then return {} end
  if type(list) ~= "table" then return nil, "mappings must be a list" end
  for i, m in ipairs(list) do
    if type(m) ~= "table" or type(m.match) ~= "table" or next(m.match) == nil then
      return nil, ("mappings[%d]: needs a non-empty 'match' mapping"):format(i)
    end
    if type(m.section) ~= "string" or not m.section:match(SECTION) then
      return nil, ("mappings[%d]: 'section' must be BOOK/SECTION"):format(i)
    end
  end
  return list
end

return M
