-- chains — what the lock-contention sections share: how a blocking chain
-- (conn:blocking_locks) is shown, which heads to act on, and waiting for a
-- chain to clear.
local rb = require "rb"

local M = {}

local function short(q) return (tostring(q or ""):gsub("%s+", " "):sub(1, 160)) end

--- describe(chain) -> lines for ctx:log
function M.describe(c)
  local out = { ("pid %d (%s, %s, transaction open %.0f s) blocks %d session(s), the longest waiting %.0f s: %s")
    :format(c.pid, c.user or "?", c.state or "?", c.xact_age_s or 0, #c.blocked, c.max_wait_s, short(c.query)) }
  for _, b in ipairs(c.blocked) do
    out[#out + 1] = ("  %spid %d (%s) waiting since %s (%.0f s): %s"):format(string.rep("  ", b.depth - 1), b.pid,
      b.user or "?", b.waiting_since or "?", b.waiting_s or 0, short(b.query))
  end
  return out
end

--- to_act_on(db, min_wait) -> the chains whose sessions waited at least min_wait seconds
function M.to_act_on(db, min_wait)
  local out = {}
  for _, c in ipairs(assert(db:blocking_locks())) do
    if c.max_wait_s >= min_wait then out[#out + 1] = c end
  end
  return out
end

--- wait_gone(db, heads, seconds) -> how many of the heads still block after up to seconds
function M.wait_gone(db, heads, seconds)
  local left
  for _ = 1, math.max(1, math.floor(seconds * 4)) do
    local now, still = {}, 0
    for _, c in ipairs(assert(db:blocking_locks())) do now[c.pid] = true end
    for _, h in ipairs(heads) do if now[h.pid] then still = still + 1 end end
    left = still
    if left == 0 then break end
    rb.sleep(0.25)
  end
  return left
end

return M
