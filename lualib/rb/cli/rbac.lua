-- rb.cli.rbac — `runbook rbac BOOK`: the least-privilege Role(s) the book's
-- steps need (rb.rbac: a static scan of its files).
local args = require "rb.cli.args"
local loader = require "rb.loader"
local core = require "rb._core"
local rbac = require "rb.rbac"

local HELP = [[
usage: runbook rbac BOOK [-n NAMESPACE] [--service-account NAME] [--sa-namespace NS] [--no-binding]

Prints Kubernetes RBAC (YAML) for BOOK, derived from a static scan of its
section and lib/ files for rb.k8s calls (and rb.pprof.fetch through the pod
proxy), and of manifests/ for k8s.apply:
  Role runbook-BOOK-investigate   the reads (get/list/logs/top/proxy/describe)
  ClusterRole ...-cluster         cluster-scoped reads (nodes), when any
  Role runbook-BOOK-resolve       the writes of resolve steps (with the get each
                                  plan's before-state needs) — printed, never bound
  RoleBinding(s)                  investigate role(s) to the service account
What a static scan cannot name (a kind in a variable, k8s.raw, get_many) is
reported on stderr with file:line; add those rules by hand.

  -n, --namespace NS        namespace of the Roles (default: the book's `namespace` param, else default)
  --service-account NAME    subject of the bindings (default runbook)
  --sa-namespace NS         its namespace (default: the Roles' namespace)
  --no-binding              print the Roles only
]]

local function read(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- every *.lua (and, for manifests, *.yaml/*.yml/*.json) under dir, sorted
local function files(dir, pattern, out, prefix)
  out = out or {}
  for _, name in ipairs(core.listdir(dir) or {}) do
    local p = dir .. "/" .. name
    local kind = core.kind(p)
    if kind == "dir" then files(p, pattern, out, (prefix or "") .. name .. "/")
    elseif kind == "file" and name:match(pattern) then out[#out + 1] = { path = p, name = (prefix or "") .. name } end
  end
  table.sort(out, function(a, b) return a.name < b.name end)
  return out
end

return function(argv)
  local o, pos = args.parse(argv, { flags = { help = true, ["no-binding"] = true },
    options = { namespace = true, ["service-account"] = true, ["sa-namespace"] = true },
    alias = { h = "help", n = "namespace" } })
  if not o then return args.usage(pos, HELP) end
  if o.help then io.stdout:write(HELP); return 0 end
  if #pos ~= 1 then return args.usage("rbac needs one BOOK", HELP) end
  local book, err = loader.find_book(pos[1])
  if not book then io.stderr:write("runbook: ", err, "\n"); return 2 end
  local dir = book.file:match("^(.*)/[^/]+$") or "."
  local calls, warns = {}, {}
  for _, f in ipairs(files(dir, "%.lua$")) do
    local c, w = rbac.scan(f.name, read(f.path) or "")
    table.move(c, 1, #c, #calls + 1, calls)
    table.move(w, 1, #w, #warns + 1, warns)
  end
  local kinds = {}
  for _, f in ipairs(files(dir .. "/manifests", "%.[jy][sa]?ml?$")) do
    for _, k in ipairs(rbac.manifest_kinds(read(f.path) or "")) do kinds[#kinds + 1] = k end
  end
  local rules, rwarns = rbac.rules(calls, kinds)
  table.move(rwarns, 1, #rwarns, #warns + 1, warns)
  for _, w in ipairs(warns) do io.stderr:write("runbook: warning: ", w, "\n") end
  local ns = o.namespace or (book.params and book.params.namespace) or "default"
  io.stdout:write(rbac.render(book.id, rules, { namespace = ns, service_account = o.service_account or "runbook",
    sa_namespace = o.sa_namespace or ns, bind = not o.no_binding }))
  return 0
end
