local rb = require "rb"
local S = rb.section { id = "hang", title = "Hang", symptoms = { "test" } }
S:investigate("Forever", function(ctx)
  while true do end
end)
return S
