-- rb.k8s_logs — kubectl logs: one pod's log, or every pod of a deployment or
-- label selector, each line prefixed "[pod/NAME/CONTAINER] ", bounded per pod
-- and in total. Reads through the client; part of rb.k8s (client:logs).
local util = require "rb.k8s_util"
local call = require("rb.k8s_call").call
local ns_of = require("rb.k8s_discovery").ns_of
local argcheck, opts_of, escape, query_string = util.argcheck, util.opts_of, util.escape, util.query_string

local M = {}

local LOG_POD_BYTES, LOG_TOTAL_BYTES = 256 * 1024, 1024 * 1024
local UNIT = { s = 1, m = 60, h = 3600, [""] = 1 }

-- The query of a pods/NAME/log request (kubectl logs' flags).
local function log_query(opts, argn, fname)
  local since = opts.since_seconds or opts.since
  if type(since) == "string" then
    local n, unit = since:match("^(%d+)([smh]?)$")
    argcheck(n, argn, fname, "since must be seconds or like 30s, 5m, 2h")
    since = tonumber(n) * UNIT[unit]
  end
  argcheck(since == nil or (math.tointeger(since) and since > 0), argn, fname, "since_seconds must be a positive integer")
  local tail = opts.tail_lines or opts.tail
  argcheck(tail == nil or (math.tointeger(tail) and tail >= 0), argn, fname, "tail_lines must be an integer >= 0")
  return {
    container = opts.container, tailLines = tail, sinceSeconds = since, limitBytes = opts.limit_bytes,
    previous = opts.previous and "true" or nil, timestamps = opts.timestamps and "true" or nil,
  }
end

local function pod_log(c, pod, ns, q, timeout)
  local path = "/api/v1/namespaces/" .. escape(ns) .. "/pods/" .. escape(pod) .. "/log"
  local resp, err = call(c, "GET", path, { query = query_string(q), accept = "*/*", timeout = timeout },
    ('logs pod "%s"'):format(pod))
  if not resp then return nil, err end
  return resp.body
end

-- The pods a logs{deployment | selector} call reads, by name.
local function log_pods(c, opts)
  local sel = opts.selector
  if opts.deployment then
    local d, err = c:get("deployments", opts.deployment, { namespace = opts.namespace })
    if not d then return nil, err end
    sel = util.selector_text(d.spec.selector)
  end
  local pods, err = c:get("pods", nil, { namespace = opts.namespace, selector = sel })
  if not pods then return nil, err end
  table.sort(pods, function(a, b) return a.metadata.name < b.metadata.name end)
  return pods
end

-- Each line of text as "[pod/NAME/CONTAINER] line", at most max bytes of text.
local function prefixed(out, prefix, text, max)
  local cut = #text > max
  if cut then text = text:sub(1, max) end
  for line in text:gmatch("[^\n]+") do out[#out + 1] = prefix .. line end
  return cut
end

-- The options of logs{...}, checked: the per-pod and total byte bounds.
local function bounds(opts)
  argcheck((opts.deployment == nil) ~= (opts.selector == nil), 1, "logs", "deployment or selector expected (one of them)")
  argcheck(opts.deployment == nil or type(opts.deployment) == "string", 1, "logs", "deployment must be a name")
  argcheck(opts.selector == nil or type(opts.selector) == "string", 1, "logs", "selector must be a string")
  local per = opts.limit_bytes or LOG_POD_BYTES
  local total = opts.max_bytes or LOG_TOTAL_BYTES
  argcheck(math.tointeger(per) and per > 0, 1, "logs", "limit_bytes must be a positive integer")
  argcheck(math.tointeger(total) and total > 0, 1, "logs", "max_bytes must be a positive integer")
  return per, total
end

-- Reads one container's log into st.out (st: out, info, used, total, per, q);
-- returns its row of info.pods.
local function read_container(c, st, pod, cname, timeout)
  local row = { name = pod.metadata.name, container = cname, bytes = 0 }
  if st.used >= st.total then
    row.truncated, st.info.truncated = true, true
    return row
  end
  st.q.container = cname
  local text, err = pod_log(c, pod.metadata.name, pod.metadata.namespace, st.q, timeout)
  if not text then
    row.error, st.first_err = err.message, st.first_err or err
    return row
  end
  local max = math.min(st.per, st.total - st.used)
  row.truncated = prefixed(st.out, ("[pod/%s/%s] "):format(pod.metadata.name, cname), text, max)
  row.bytes = math.min(#text, max)
  st.used = st.used + row.bytes
  st.info.truncated = st.info.truncated or row.truncated
  return row
end

-- logs{deployment = NAME | selector = "app=x", container, tail_lines,
-- since_seconds, previous, limit_bytes (per pod), max_bytes (total), namespace}
-- -> text, {pods = {{name, container, bytes, truncated, error}}, truncated} | nil, err
local function logs_of_pods(c, opts)
  local per, total = bounds(opts)
  local st = { out = {}, info = { pods = {} }, used = 0, per = per, total = total, q = log_query(opts, 1, "logs") }
  st.q.limitBytes = per
  local pods, err = log_pods(c, opts)
  if not pods then return nil, err end
  for _, pod in ipairs(pods) do
    for _, ctr in ipairs(opts.container and { { name = opts.container } } or pod.spec.containers or {}) do
      st.info.pods[#st.info.pods + 1] = read_container(c, st, pod, ctr.name, opts.timeout)
    end
  end
  if st.first_err and st.used == 0 then return nil, st.first_err end
  return #st.out > 0 and (table.concat(st.out, "\n") .. "\n") or "", st.info
end

--- client:logs(pod, {container, tail_lines, since_seconds, previous, timestamps, limit_bytes, namespace}) -> text | nil, err
--- client:logs{deployment = NAME | selector = "app=x", ...} -> text, info | nil, err (every matching pod, prefixed)
-- since_seconds: seconds, or "30s" / "5m" / "2h" (tail and since are the older names).
function M.logs(c, pod, opts)
  if type(pod) == "table" and opts == nil then return logs_of_pods(c, pod) end
  pod = select(2, util.split_ref(pod, nil, "pod"))
  argcheck(type(pod) == "string", 1, "logs", "pod name expected")
  opts = opts_of(opts, 2, "logs")
  return pod_log(c, pod, ns_of(c, opts), log_query(opts, 2, "logs"), opts.timeout)
end

return M
