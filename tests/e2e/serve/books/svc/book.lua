-- A small book for tests/e2e/serve*.sh: sections that finish quickly with a
-- known level, and one that hangs (the server's time limit must stop it).
local rb = require "rb"
return rb.book {
  id = "svc", title = "Serve test book",
  params = { value = "10", spin_ms = "0" },
  thresholds = {},
  sections = { "probe", "hang" },
}
