-- tests/spec/support/k8s_lab.lua — the lab's Kubernetes API stand-in as the
-- specs see it: its /__lab/ endpoints (reset, state, fault, ...), its request
-- log (what reached it since the last reset) and the real kubectl on it.
--   local klab = require "tests.spec.support.k8s_lab"
local util = require "tests.spec.support.util"
local http = require "rb.http"
local cjson = require "cjson"
local assert = require "luassert"   -- busted gives it to spec files only

local M = {}
local URL, CA, LOG = os.getenv("RB_TEST_K8S_URL"), os.getenv("RB_TEST_K8S_CA"), os.getenv("RB_TEST_K8S_LOG")

--- lab(what) -> body of GET /__lab/WHAT (200 asserted)
function M.lab(what)
  local r = assert(http.get(URL .. "/__lab/" .. what, { ca_file = CA, timeout = 10 }))
  assert.equal(200, r.status)
  return r.body
end

--- requests() -> the request log's entries (decoded), API requests only
function M.requests()
  local out = {}
  for line in util.read_file(LOG):gmatch("[^\n]+") do out[#out + 1] = cjson.decode(line) end
  return out
end

--- writes() -> the entries that are not GET
function M.writes()
  local out = {}
  for _, r in ipairs(M.requests()) do if r.method ~= "GET" then out[#out + 1] = r end end
  return out
end

--- kubectl(args) -> its output (stdout and stderr, trailing space trimmed), namespace tmi
function M.kubectl(args)
  return util.sh("HOME=/tmp timeout 30 kubectl --kubeconfig " .. os.getenv("RB_TEST_K8S_KUBECONFIG")
    .. " -n tmi " .. args .. " 2>&1")
end

return M
