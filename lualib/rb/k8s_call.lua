-- rb.k8s_call — one API call and its failure: an answer >= 400 becomes
-- err{kind = "k8s", status, reason, message, details} as kubectl words it.
-- Calls go through the client's (gated) request; part of rb.k8s.
local rb = require "rb"
local util = require "rb.k8s_util"
local decode, null = util.decode, util.null

local M = {}

local REASONS = {
  [400] = "BadRequest", [401] = "Unauthorized", [403] = "Forbidden", [404] = "NotFound",
  [405] = "MethodNotAllowed", [409] = "Conflict", [410] = "Gone", [415] = "UnsupportedMediaType",
  [422] = "Invalid", [429] = "TooManyRequests", [500] = "InternalError", [503] = "ServiceUnavailable",
  [504] = "Timeout",
}

local function given(v) return v ~= nil and v ~= null and v ~= "" end

--- status_error(resp, what) -> err: an API answer >= 400 as err{kind = "k8s", status, reason, message, details}
function M.status_error(resp, what)
  local st = decode(resp.body)
  local reason, msg, details
  if type(st) == "table" and st.kind == "Status" then
    reason, msg, details = st.reason, st.message, st.details
  end
  reason = given(reason) and reason or REASONS[resp.status] or "Unknown"
  if not given(msg) then
    msg = (resp.body or ""):sub(1, 300):gsub("%s+$", "")
    if msg == "" then msg = "status " .. resp.status end
  end
  return rb.error("k8s", ("k8s: %s: %s (%s, %d)"):format(what, msg, reason, resp.status),
    { status = resp.status, reason = reason, details = details ~= null and details or nil })
end

--- call(c, method, path, opts, what) -> response | nil, err
function M.call(c, method, path, opts, what)
  local resp, err = c:request(method, path, opts)
  if not resp then return nil, err end
  if resp.status >= 400 then return nil, M.status_error(resp, what or (method .. " " .. path)) end
  return resp
end

--- object(c, path, what, opts) -> the decoded JSON object at path | nil, err
function M.object(c, path, what, opts)
  local resp, err = M.call(c, "GET", path, opts, what)
  if not resp then return nil, err end
  local v = decode(resp.body)
  if type(v) ~= "table" then return nil, rb.error("parse", "k8s: " .. what .. ": answer is not JSON") end
  return v
end

return M
