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
local SECTION_FIELDS = { id = true, title = true, symptoms = true, params = true, description = true }

local function argcheck(cond, level, fmt, ...)
  if not cond then error(fmt:format(...), level + 1) end
end

local function check_strings(list, what, level)
  argcheck(type(list) == "table", level + 1, "%s must be a list of strings", what)
  for i, s in ipairs(list) do
    argcheck(type(s) == "string", level + 1, "%s[%d] must be a string", what, i)
  end
end

-- Where the calling runbook line is, for `list`/`show` and lint messages.
local getinfo = debug.getinfo
local function caller_line(level)
  local info = getinfo(level + 1, "Sl")
  return info and (info.short_src .. ":" .. (info.currentline or 0)) or "?"
end

--- rb.section{id, title, symptoms?, params?} -> section
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
  return setmetatable({
    id = spec.id, title = spec.title, description = spec.description,
    symptoms = spec.symptoms or {}, params = spec.params or {},
    steps = {}, defined_at = caller_line(2),
  }, Section)
end

local function add_step(self, kind, title, fn, opts)
  argcheck(getmetatable(self) == Section, 3, "use S:%s(...), not S.%s(...)", kind, kind)
  argcheck(type(title) == "string" and title ~= "", 3, "step title must be a non-empty string")
  argcheck(type(fn) == "function", 3, "step '%s' needs a function(ctx)", title)
  for _, s in ipairs(self.steps) do
    argcheck(s.title ~= title, 3, "duplicate step title '%s' in section '%s'", title, self.id)
  end
  local step = { kind = kind, title = title, fn = fn, defined_at = caller_line(3) }
  if opts ~= nil then
    argcheck(type(opts) == "table", 3, "step options must be a table")
    argcheck(opts.risk == nil or RISKS[opts.risk], 3, "risk must be low, medium or high (got %s)", tostring(opts.risk))
    step.risk, step.description, step.changes = opts.risk, opts.description, opts.changes
  end
  if kind == "resolve" then step.risk = step.risk or "medium" end
  self.steps[#self.steps + 1] = step
  return step
end

--- S:investigate(title, fn): a read-only diagnostic step.
function Section:investigate(title, fn, opts) return add_step(self, "investigate", title, fn, opts) end
--- S:resolve(title, fn, {risk, description, changes}): a step that may change things.
function Section:resolve(title, fn, opts) return add_step(self, "resolve", title, fn, opts) end

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
  return setmetatable({
    id = spec.id, title = spec.title, params = spec.params or {}, thresholds = th,
    section_ids = spec.sections or {}, description = spec.description,
  }, Book)
end

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
