-- rb.params — a run's params: the book's and the section's defaults, --set
-- overrides converted to each param's type and checked against its choices,
-- the specs (type, choices, description, secret) of both, and which of them
-- hold credentials (registered with the redactor before anything prints).
local sys = require "rb._sys"

local M = {}

--- merge(layers, overrides, specs?) -> params | nil, err
-- layers: tables of defaults, later ones winning (book, then section);
-- overrides: --set strings, converted to the param's type (its spec's, or
-- its default's); specs: {name = {type, choices, ...}} (rb.section/rb.book
-- param_specs, merged). An unknown param, a value of the wrong type or not
-- one of the choices is an error naming what was wrong.
function M.merge(layers, overrides, specs)
  local p = {}
  specs = specs or {}
  for _, layer in ipairs(layers) do
    for k, v in pairs(layer) do p[k] = v end
  end
  for k, v in pairs(overrides or {}) do
    local cur = p[k]
    local ty = specs[k] and specs[k].type or type(cur)
    if cur == nil and not specs[k] then
      local names = {}
      for n in pairs(p) do names[#names + 1] = n end
      for n in pairs(specs) do if p[n] == nil then names[#names + 1] = n end end
      table.sort(names)
      return nil, ("unknown param '%s' (params are: %s)"):format(k, #names > 0 and table.concat(names, ", ") or "none")
    elseif ty == "number" then
      local n = tonumber(v)
      if not n then return nil, ("param '%s' must be a number (got '%s')"):format(k, v) end
      p[k] = n
    elseif ty == "boolean" then
      if v ~= "true" and v ~= "false" then return nil, ("param '%s' must be true or false"):format(k) end
      p[k] = v == "true"
    else
      p[k] = v
    end
    local choices = specs[k] and specs[k].choices
    if choices then
      local ok = false
      for _, c in ipairs(choices) do ok = ok or c == p[k] end
      if not ok then
        local list = {}
        for i, c in ipairs(choices) do list[i] = tostring(c) end
        return nil, ("param '%s' must be one of %s (got '%s')"):format(k, table.concat(list, ", "), v)
      end
    end
  end
  return p
end

--- specs(section) -> the param specs of the book and the section, merged
function M.specs(section)
  local out = {}
  for _, layer in ipairs { section.book and section.book.param_specs or {}, section.param_specs or {} } do
    for k, v in pairs(layer) do out[k] = v end
  end
  return out
end

-- Names that say a param holds a credential (issue: secrets by position).
local SECRET_WORDS = { "password", "passwd", "secret", "token", "bearer", "basic", "auth", "key",
  "credential", "cookie", "session" }

local function secret_name(name)
  local l = name:lower()
  for _, w in ipairs(SECRET_WORDS) do if l:find(w, 1, true) then return true end end
  return false
end
M.secret_name = secret_name

-- Credentials in params are secrets from the start (params are audited in
-- run_start): params named like one or declared secret, passwords inside
-- URLs and key=value DSNs.
function M.register_secrets(params, specs)
  for k, v in pairs(params) do
    if type(v) == "string" and v ~= "" then
      if secret_name(k) or (specs[k] and specs[k].secret) then sys.add_secret(v) end
      local url_pw = v:match("^%a[%w+.-]*://[^/@]-:([^/@]+)@")
      if url_pw then sys.add_secret(url_pw) end
      local dsn_pw = v:match("password%s*=%s*'([^']+)'") or v:match("password%s*=%s*([^%s']+)")
      if dsn_pw then sys.add_secret(dsn_pw) end
    end
  end
end

return M
