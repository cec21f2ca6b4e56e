-- rb.report_json — the run document as JSON text: lists are arrays (an
-- empty list is [], not {}), objects have sorted keys (the same run gives
-- the same text), NaN and infinities are null, strings are valid UTF-8
-- (a byte that is not is written as U+FFFD) with "</" escaped so the text
-- can sit inside HTML. A table is an object when it has a key that is not
-- 1..n, or is empty and marked with M.object(t); else an array.
local M = {}

local OBJECT = {}
--- object(t) -> t, marked to encode as {} when empty
function M.object(t) return setmetatable(t or {}, OBJECT) end

local null = require("cjson").null

local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r",
  ["\t"] = "\\t", ["/"] = "/" }

-- valid UTF-8, each invalid byte replaced by U+FFFD
local function utf8_clean(s)
  if utf8.len(s) then return s end
  local out, i = {}, 1
  while i <= #s do
    local ok, code = pcall(utf8.codepoint, s, i)
    if ok then
      local ch = utf8.char(code)
      out[#out + 1] = ch
      i = i + #ch
    else
      out[#out + 1] = "\u{FFFD}"
      i = i + 1
    end
  end
  return table.concat(out)
end

local function string_text(s)
  s = utf8_clean(s):gsub('[%c"\\]', function(c)
    return ESC[c] or ("\\u%04x"):format(c:byte())
  end)
  return '"' .. s:gsub("</", "<\\/") .. '"'
end

local function number_text(v)
  if math.type(v) == "integer" then return tostring(v) end
  if v ~= v or v == math.huge or v == -math.huge then return "null" end
  local s = ("%.15g"):format(v)
  if tonumber(s) ~= v then s = ("%.17g"):format(v) end
  return s
end

local function is_array(t)
  if getmetatable(t) == OBJECT then return false end
  local n = 0
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 then return false end
    n = n + 1
  end
  return n == #t
end

local encode
local function table_text(t, depth)
  if depth > 64 then error("report JSON: nested too deep", 0) end
  local parts = {}
  if is_array(t) then
    for i = 1, #t do parts[i] = encode(t[i], depth + 1) end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for i, k in ipairs(keys) do
    local v = t[k]
    if v == nil then v = t[tonumber(k)] end
    parts[i] = string_text(k) .. ":" .. encode(v, depth + 1)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

function encode(v, depth)
  local ty = type(v)
  if ty == "string" then return string_text(v) end
  if ty == "number" then return number_text(v) end
  if ty == "boolean" then return tostring(v) end
  if ty == "table" then return table_text(v, depth) end
  if v == nil or v == null then return "null" end
  return string_text(tostring(v))
end

--- encode(value) -> JSON text
function M.encode(v) return encode(v, 1) end

return M
