local rb = require "rb"
local S = rb.section { id = "probe", title = "Probe", symptoms = { "test" } }
S:investigate("Value", function(ctx)
  -- spin for spin_ms so a run takes a known time (no sleep in the sandbox)
  local ms = tonumber(ctx.params.spin_ms) or 0
  local t0 = os.clock()
  while (os.clock() - t0) * 1000 < ms do end
  ctx:check { name = "value", value = tonumber(ctx.params.value), warn = 50, crit = 80 }
end)
S:resolve("Never from serve", function(ctx) error("a resolve step ran under serve") end)
return S
