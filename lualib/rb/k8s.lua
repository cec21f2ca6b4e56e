-- rb.k8s — the kubectl-equivalent Kubernetes calls (reference: docs/lua/k8s.md).
--
-- Extends the C half (engine/bind/k8s.c: kubeconfig/in-cluster client,
-- credentials, the gated Client:request and Client:exec_ws) with kubectl's
-- verbs: discovery and short names, get/describe/logs/top, the pod and
-- service proxy, rollout status, and the writes (scale, patch, set env, set
-- resources, rollout restart, delete, exec). GET is a read; every other verb
-- is a write: refused in investigate, sent with dryRun=All in plan (the plan
-- shows what the server made of it), matched against the approved plan in
-- apply. Module-level functions use the run's targets (--kubeconfig,
-- --context, -n); k8s.client{...} makes an explicit client.
--
-- This file assembles the public API from internal modules, one
-- responsibility each (docs/hacking.md): rb.k8s_util (shared pure helpers),
-- rb.k8s_call (a call and its error), rb.k8s_discovery (resources, names,
-- paths), rb.k8s_read and rb.k8s_logs (reads), rb.k8s_describe (its text),
-- rb.k8s_fields (field paths, undo's before-state, expect's matching),
-- rb.k8s_write (how a write is sent), rb.k8s_edit and rb.k8s_set (writes),
-- rb.k8s_rollout with rb.k8s_history (rollout status/history/undo/restart),
-- rb.k8s_diff (the plan's diff), rb.k8s_table (kubectl's tables).
local M = ...
local rb = require "rb"
local util = require "rb.k8s_util"
local discovery = require "rb.k8s_discovery"
local kfields = require "rb.k8s_fields"
local kwrite = require "rb.k8s_write"
local ktable = require "rb.k8s_table"
local argcheck, opts_of = util.argcheck, util.opts_of

local new_client = M._client
M._client = nil
M.quantity = M._quantity
M._quantity = nil
local Client = M.Client

-- What a plan says the server made of a dry run is this module's own reading
-- (its diff of the dryRun=All answer): a runbook calling client:request cannot
-- supply that text. `simulate = false` (cannot be simulated) stays: it only
-- makes the plan say less. The C request, which takes a simulate function, is
-- kept for rb.k8s_write's writer alone.
local raw_request = Client.request
function Client:request(method, path, opts)
  if type(opts) == "table" and rawget(opts, "simulate") ~= nil then
    local o = {}
    for k, v in next, opts do if k ~= "simulate" then o[k] = v end end
    if rawget(opts, "simulate") == false then o.simulate = false end
    opts = o
  end
  return raw_request(self, method, path, opts)
end

-- ---- clients -------------------------------------------------------------

-- operator: the kubeconfig is the run's target (--kubeconfig, the config's
-- kubeconfig), which the engine set: its exec plugins may run (docs/lua/k8s.md).
local function make_client(opts, operator)
  return new_client {
    kubeconfig = opts.kubeconfig, operator = operator, context = opts.context, namespace = opts.namespace,
    timeout = opts.timeout, connect_timeout = opts.connect_timeout,
  }
end

-- The run's targets (--kubeconfig, --context, -n, the config's).
local function run_targets()
  local kc, ctx, ns = rb.target("kubeconfig"), rb.target("kube_context"), rb.target("namespace")
  if kc == os.getenv("KUBECONFIG") then kc = nil end   -- the environment's list, not --kubeconfig
  return { kubeconfig = kc, context = ctx, namespace = ns }
end

--- k8s.client{kubeconfig, context, namespace, timeout, connect_timeout} -> Client | nil, err
--- k8s.client() -> the configured target's client | nil, err{kind = "config"}
-- kubeconfig: a path, a colon list as in KUBECONFIG, or the text of a
-- kubeconfig; default: KUBECONFIG, then ~/.kube/config, then the in-cluster
-- service account. An exec plugin runs only from the operator's kubeconfig.
function M.client(opts)
  if opts == nil then return make_client(run_targets(), true) end   -- the configured target
  opts = opts_of(opts, 1, "client")
  argcheck(opts.kubeconfig == nil or type(opts.kubeconfig) == "string", 1, "client", "kubeconfig must be a string")
  local kc = opts.kubeconfig
  return make_client(opts, kc ~= nil and kc ~= "" and kc == rb.target("kubeconfig"))
end

-- The run's client: rebuilt when the targets change (--env, --context, -n).
local default, default_key
local function run_client()
  local t = run_targets()
  local key = table.concat({ t.kubeconfig or "", t.context or "", t.namespace or "" }, "\0")
  if default and key == default_key then return default end
  local c, err = make_client(t, true)
  if not c then return nil, err end
  default, default_key = c, key
  return c
end

--- k8s.default() -> Client | nil, err: the client module-level calls use.
M.default = run_client

-- ---- the client methods and module functions -------------------------------

local write = kwrite.writer(raw_request)
local read = require("rb.k8s_read")(M.quantity)
local edit = require("rb.k8s_edit")(write)
local set = require("rb.k8s_set")(write)
local rollout = require("rb.k8s_rollout")(write)

Client.resource, Client.logs = discovery.resource, require("rb.k8s_logs").logs
Client.get, Client.describe, Client.raw, Client.expect = read.get, read.describe, read.raw, read.expect
Client.top_pods, Client.top_nodes, Client.proxy_get = read.top_pods, read.top_nodes, read.proxy_get
Client.scale, Client.patch, Client.delete = edit.scale, edit.patch, edit.delete
Client.apply, Client.exec = edit.apply, edit.exec
Client.set_env, Client.set_resources, Client.set_image = set.set_env, set.set_resources, set.set_image
Client.rollout_pause, Client.rollout_resume = set.rollout_pause, set.rollout_resume
Client.rollout_status, Client.rollout_history = rollout.rollout_status, rollout.rollout_history
Client.rollout_undo, Client.rollout_restart = rollout.rollout_undo, rollout.rollout_restart

M.diff = require("rb.k8s_diff").diff
M.age, M.table = ktable.age, ktable.table
M.fields, M.path_text, M.at, M.restore_patch = kfields.fields, kfields.path_text, kfields.at, kfields.restore_patch
M.canonical_json = kwrite.canonical

-- Module-level functions: the same calls on the run's client.
for _, fname in ipairs { "get", "describe", "logs", "top_pods", "top_nodes", "proxy_get", "rollout_status",
  "scale", "patch", "set_env", "set_resources", "set_image", "rollout_pause", "rollout_resume", "rollout_restart",
  "rollout_history", "rollout_undo",
  "delete", "exec", "raw", "resource", "apply", "expect" } do
  local method = Client[fname]
  M[fname] = function(...)
    local c, err = run_client()
    if not c then return nil, err end
    return method(c, ...)
  end
end

return M
