-- tests/spec/support/util.lua — small helpers the specs share:
--   local util = require "tests.spec.support.util"
local M = {}

--- read_file(path) -> contents, or "" when the file does not exist
function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("a")
  f:close()
  return s
end

--- write_file(path, s)
function M.write_file(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

--- sh(cmd) -> its standard output without trailing white space
function M.sh(cmd)
  local f = assert(io.popen(cmd))
  local out = f:read("a")
  f:close()
  return (out:gsub("%s+$", ""))
end

--- free_port() -> a TCP port on 127.0.0.1 nothing listens on right now
function M.free_port()
  --- count(haystack, needle) -> how many times needle occurs (plain text)
function M.count(haystack, needle)
  local n, i = 0, 1
  while true do
    local s, e = haystack:find(needle, i, true)
    if not s then return n end
    n, i = n + 1, e + 1
  end
end

return M.sh([[python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])']])
end

--- count(haystack, needle) -> how many times needle occurs (plain text)
function M.count(haystack, needle)
  local n, i = 0, 1
  while true do
    local s, e = haystack:find(needle, i, true)
    if not s then return n end
    n, i = n + 1, e + 1
  end
end

return M
