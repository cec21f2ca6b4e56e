-- rb.json — JSON for runbooks: lua-cjson (linked into the binary), with
-- decode returning nil, err{kind = "parse"} instead of raising.
local cjson = require "cjson"

local M = {
  encode = cjson.encode,
  null = cjson.null,
  raw = cjson,
}

--- decode(text) -> value | nil, err{kind = "parse", message}
function M.decode(text)
  local ok, v = pcall(cjson.decode, text)
  if ok then return v end
  return nil, setmetatable({ kind = "parse", message = tostring(v) },
    { __tostring = function(e) return "parse error: " .. e.message end })
end

return M
