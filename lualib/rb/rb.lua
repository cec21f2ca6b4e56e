-- rb — the authoring API (DESIGN §3): rb.section, rb.book, rb.secret,
-- rb.target. Sections declare steps; the runner (rb.runner) runs them with a
-- ctx (rb.ctx). Misuse raises with the caller's file:line.
local base = require "rb._base"
local secret = require "rb._secret"

local rb = { _VERSION = "runbook 0.1.0" }

local Section = {}
Section.__index = Section
Section.__name = "rb.Section"

local RISKS = { low = true, medium = true, high = true }
local SECTION_FIELDS = { id = true, title = true, symptoms = true, params = true, description = true,
  indicators = true }
local STEP_OPTIONS = { risk = true, description = true, changes = true, verify = true, verify_timeout = true }
local PARAM_FIELDS = { default = true, description = true, type = true, choices = true, secret = true }
local PARAM_TYPES = { string = true, number = true, boolean = true }
local INDICATOR_FIELDS = { name = true, title = true, query = true, warn = true, crit = true, unit = true,
  higher_is_worse = true, ["for"] = true, window = true }

local function argcheck(cond, level, fmt, ...)
  if not cond then error(fmt:format(...), level + 1) end
end

local function check_strings(list, what, level)
  argcheck(type(list) == "table", level + 1, "%s must be a list of strings", what)
  for i, s in ipairs(list) do
    argcheck(type(s) == "string", level + 1, "%s[%d] must be a string", what, i)
  end
end

-- Where the calling runbook line is, for `list`/`show` and lint messages:
-- the first frame outside this file. A runbook that ends with a tail call
-- (`return rb.section{...}`) has no frame left: then the file being loaded.
local getinfo, getregistry = debug.getinfo, debug.getregistry
local SELF = getinfo(1, "S").source
local function caller_line()
  for level = 3, 30 do
    local info = getinfo(level, "Sl")
    if not info then break end
    if info.what ~= "C" and info.source ~= SELF then
      return info.short_src .. ":" .. (info.currentline or 0)
    end
  end
  local file = getregistry()["rb.loading"]
  return file and (file .. ":1") or "?"
end

-- params: NAME = default, or NAME = {default, description?, type?, choices?, secret?}.
-- Returns the defaults and the specs (every param has one: type from its default).
local function params_of(params, level)
  local defaults, specs = {}, {}
  for name, v in pairs(params or {}) do
    argcheck(type(name) == "string", level + 1, "param names must be strings")
    local sp
    if type(v) == "table" then
      for k in pairs(v) do
        argcheck(PARAM_FIELDS[k], level + 1, "param '%s': unknown field '%s' (fields: default, description, type, choices, secret)", name, tostring(k))
      end
      sp = { default = v.default, description = v.description, type = v.type or type(v.default),
        choices = v.choices, secret = v.secret }
    else
      sp = { default = v, type = type(v) }
    end
    argcheck(PARAM_TYPES[sp.type], level + 1, "param '%s': type must be string, number or boolean (got %s)", name, tostring(sp.type))
    argcheck(sp.default == nil or type(sp.default) == sp.type, level + 1, "param '%s': default must be a %s", name, sp.type)
    if sp.choices ~= nil then
      argcheck(type(sp.choices) == "table" and #sp.choices > 0, level + 1, "param '%s': choices must be a non-empty list", name)
      local ok = sp.default == nil
      for _, c in ipairs(sp.choices) do
        argcheck(type(c) == sp.type, level + 1, "param '%s': every choice must be a %s", name, sp.type)
        ok = ok or c == sp.default
      end
      argcheck(ok, level + 1, "param '%s': default %s is not one of its choices", name, tostring(sp.default))
    end
    defaults[name], specs[name] = sp.default, sp
  end
  return defaults, specs
end

local function check_indicators(list, level)
  argcheck(type(list) == "table", level + 1, "indicators must be a list")
  for i, t in ipairs(list) do
    argcheck(type(t) == "table", level + 1, "indicators[%d] must be a table", i)
    for k in pairs(t) do argcheck(INDICATOR_FIELDS[k], level + 1, "indicators[%d]: unknown field '%s'", i, tostring(k)) end
    argcheck(type(t.name) == "string" and type(t.query) == "string", level + 1, "indicators[%d] needs a name and a query (PromQL)", i)
    argcheck(type(t.warn) == "number" or type(t.crit) == "number", level + 1, "indicator '%s' needs warn and/or crit", t.name)
  end
end

--- rb.section{id, title, symptoms?, params?, indicators?} -> section
function rb.section(spec)
  argcheck(type(spec) == "table", 2, "rb.section expects a table")
  argcheck(type(spec.id) == "string" and spec.id:match("^[a-z0-9][a-z0-9._-]*$"), 2,
    "section id must be a lower-case name like 'high-memory' (got %s)", tostring(spec.id))
  argcheck(type(spec.title) == "string" and spec.title ~= "", 2, "section '%s' needs a title", spec.id)
  check_strings(spec.symptoms or {}, "symptoms", 2)
  argcheck(spec.params == nil or type(spec.params) == "table", 2, "params must be a table")
  for k in pairs(spec) do
    if not SECTION_FIELDS[k] then error(("unknown field '%s' in rb.section"):format(tostring(k)), 2) end
  end
  if spec.indicators ~= nil then check_indicators(spec.indicators, 2) end
  local params, param_specs = params_of(spec.params, 2)
  return setmetatable({
    id = spec.id, title = spec.title, description = spec.description,
    symptoms = spec.symptoms or {}, params = params, param_specs = param_specs,
    indicators = spec.indicators, steps = {}, defined_at = caller_line(),
  }, Section)
end

local function add_step(self, kind, title, fn, opts)
  argcheck(getmetatable(self) == Section, 3, "use S:%s(...), not S.%s(...)", kind, kind)
  argcheck(type(title) == "string" and title ~= "", 3, "step title must be a non-empty string")
  argcheck(type(fn) == "function", 3, "step '%s' needs a function(ctx)", title)
  for _, s in ipairs(self.steps) do
    argcheck(s.title ~= title, 3, "duplicate step title '%s' in section '%s'", title, self.id)
  end
  local step = { kind = kind, title = title, fn = fn, defined_at = caller_line() }
  if opts ~= nil then
    argcheck(type(opts) == "table", 3, "step options must be a table")
    for k in pairs(opts) do
      argcheck(STEP_OPTIONS[k], 3, "step '%s': unknown option '%s' (options: changes, description, risk, verify, verify_timeout)", title, tostring(k))
    end
    argcheck(opts.risk == nil or RISKS[opts.risk], 3, "risk must be low, medium or high (got %s)", tostring(opts.risk))
    argcheck(opts.verify == nil or kind == "resolve", 3, "step '%s': verify belongs to resolve steps", title)
    if opts.verify ~= nil then
      argcheck(type(opts.verify) == "table", 3, "step '%s': verify must be a list of checks", title)
      for i, v in ipairs(opts.verify) do
        argcheck(type(v) == "table" and (type(v.threshold) == "string" or type(v.query) == "string"), 3,
          "step '%s': verify[%d] needs a threshold name or a query", title, i)
      end
    end
    argcheck(opts.verify_timeout == nil or (type(opts.verify_timeout) == "number" and opts.verify_timeout > 0), 3,
      "step '%s': verify_timeout must be a positive number of seconds", title)
    step.risk, step.description, step.changes = opts.risk, opts.description, opts.changes
    step.verify, step.verify_timeout = opts.verify, opts.verify_timeout
  end
  if kind == "resolve" then step.risk = step.risk or "medium" end
  self.steps[#self.steps + 1] = step
  return step
end

-- Options may come before the body (S:resolve(title, opts, fn)) or after it.
local function fn_opts(a, b)
  if type(a) == "table" and type(b) == "function" then return b, a end
  return a, b
end

--- S:investigate(title, fn, opts?) or S:investigate(title, opts, fn): a read-only diagnostic step.
function Section:investigate(title, a, b)
  local fn, o = fn_opts(a, b)
  local step = add_step(self, "investigate", title, fn, o)   -- not a tail call: file:line levels
  return step
end
--- S:resolve(title, fn, opts?) or S:resolve(title, opts, fn): a step that may change things.
-- opts: risk, description, changes, verify = { {threshold = NAME} | {name, query, warn, crit, unit?} ... },
-- verify_timeout (seconds, default 60).
function Section:resolve(title, a, b)
  local fn, o = fn_opts(a, b)
  local step = add_step(self, "resolve", title, fn, o)
  return step
end

function Section:steps_of(kind)
  local out = {}
  for _, s in ipairs(self.steps) do if s.kind == kind then out[#out + 1] = s end end
  return out
end

rb.Section = Section

local Book = {}
Book.__index = Book
Book.__name = "rb.Book"
rb.Book = Book

--- rb.book{id, title, params?, thresholds?, sections = {"section-id", ...}} -> book
function rb.book(spec)
  argcheck(type(spec) == "table", 2, "rb.book expects a table")
  argcheck(type(spec.id) == "string" and spec.id:match("^[a-z0-9][a-z0-9._-]*$"), 2,
    "book id must be a lower-case name (got %s)", tostring(spec.id))
  argcheck(type(spec.title) == "string", 2, "book '%s' needs a title", spec.id)
  check_strings(spec.sections or {}, "sections", 2)
  local th = spec.thresholds or {}
  argcheck(type(th) == "table", 2, "thresholds must be a table")
  for name, t in pairs(th) do
    argcheck(type(t) == "table" and type(t.warn) == "number" and type(t.crit) == "number", 2,
      "threshold '%s' needs numeric warn and crit", tostring(name))
  end
  argcheck(spec.policy == nil or type(spec.policy) == "table", 2, "policy must be a table")
  local params, param_specs = params_of(spec.params, 2)
  return setmetatable({
    id = spec.id, title = spec.title, params = params, param_specs = param_specs, thresholds = th,
    section_ids = spec.sections or {}, description = spec.description, policy = spec.policy,
  }, Book)
end

--- rb.error(kind, message, fields?) -> err: the one error constructor (engine/errors.c):
-- the same rb.Error values every binding returns as `nil, err` ({kind, message, ...}, __tostring).
function rb.error(kind, message, fields) return secret.error(kind, message, fields) end   -- lazy: no engine load at `list`

--- rb.secret(s): registers s with the redactor; returns s.
function rb.secret(s)
  argcheck(type(s) == "string", 2, "rb.secret expects a string")
  secret.add(s)
  return s
end

--- rb.sleep(seconds): waits (a SIGINT ends the wait and stops the run).
function rb.sleep(seconds)
  argcheck(type(seconds) == "number" and seconds >= 0, 2, "rb.sleep expects a number of seconds")
  base.sleep_ms(seconds * 1000)
end

-- Targets of the current run (--env/--config, else environment variables),
-- kept by the engine (rb._base) so every runbook world reads the same ones.
local ENV_FALLBACK = {
  prometheus = "PROMETHEUS_URL", postgres = "DATABASE_URL", redis = "REDIS_URL",
  kubeconfig = "KUBECONFIG", kube_context = "KUBE_CONTEXT", namespace = "KUBE_NAMESPACE",
}

--- rb.target(name) -> value | nil: a target of the current environment.
function rb.target(name)
  argcheck(type(name) == "string", 2, "rb.target expects a name")
  local v = base.target(name)
  if v == nil and ENV_FALLBACK[name] then v = os.getenv(ENV_FALLBACK[name]) end
  return v
end

-- Engine side: the runner installs the targets of --env/--config (refused
-- from runbook code, which sees rb without its _-prefixed fields anyway).
function rb._set_targets(t) base.set_targets(t or {}) end

return rb
