-- rb.cli.show — `runbook show SECTION`: symptoms, params, steps, and what
-- each resolve step may change (its risk, description and declared changes).
local args = require "rb.cli.args"
local loader = require "rb.loader"

local HELP = [[
usage: runbook show SECTION

Shows a section: symptoms, params with their values, steps, and for each
resolve step its risk and what it may change. Nothing is run.
]]

return function(argv)
  local pos, status = args.simple(argv, HELP)
  if not pos then return status end
  if #pos ~= 1 then return args.usage("show needs one SECTION", HELP) end
  local s, err = loader.resolve(pos[1])
  if not s then io.stderr:write("runbook: ", err, "\n"); return 2 end
  print(("%s%s — %s"):format(s.book and (s.book.id .. "/") or "", s.id, s.title))
  print("file: " .. s.file)
  if s.description then print("\n" .. s.description) end
  if #s.symptoms > 0 then
    print("\nsymptoms:")
    for _, x in ipairs(s.symptoms) do print("  - " .. x) end
  end
  local runner = require "rb.runner"
  local specs = runner.specs(s)
  local params, names = {}, {}
  for k, v in pairs(s.book and s.book.params or {}) do params[k] = v end
  for k, v in pairs(s.params) do params[k] = v end
  for k in pairs(specs) do names[#names + 1] = k end
  table.sort(names)
  if #names > 0 then
    print("\nparams (override with --set KEY=VALUE):")
    for _, k in ipairs(names) do
      local sp = specs[k]
      local v = params[k]
      -- a credential's default is not shown (a secret by its name or declared so)
      if type(v) == "string" and v ~= "" and (runner.secret_name(k) or sp.secret) then v = "[REDACTED]" end
      local choices = sp.choices and (" one of " .. table.concat((function()
        local t = {}
        for i, c in ipairs(sp.choices) do t[i] = tostring(c) end
        return t
      end)(), "|")) or ""
      print(("  %-24s %s  (%s%s)"):format(k, v == nil and "(no default)" or tostring(v), sp.type, choices))
      if sp.description then print("      " .. sp.description) end
    end
  end
  print("\nsteps:")
  for i, st in ipairs(s.steps) do
    print(("  %d. %-11s %s"):format(i, st.kind, st.title))
    if st.kind == "resolve" then
      print(("       risk: %s"):format(st.risk))
      if st.description then print("       " .. st.description) end
      for _, c in ipairs(st.changes or {}) do print("       may change: " .. c) end
      for _, v in ipairs(st.verify or {}) do
        print("       verified after: " .. (v.threshold and ("threshold " .. v.threshold) or (v.name or v.query)))
      end
      if not st.description and not st.changes then
        print("       may change: see `runbook run " .. pos[1] .. " --dry-run --step '" .. st.title .. "'`")
      end
    end
  end
  return 0
end
