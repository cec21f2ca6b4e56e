-- rb.cli.lua — `runbook lua FILE [ARGS]` / `runbook lua -e CODE`: run a plain
-- Lua script with the standard library and every rb.* module, as the `lua`
-- interpreter would (arg table, shebang line skipped). No runner: the gate is
-- in free mode, so writes go through — this is the ad-hoc and busted path.
local HELP = [[
usage: runbook lua [--env NAME] [--config FILE] FILE [ARGS]
       runbook lua [--env NAME] [--config FILE] -e CODE [ARGS]
Runs a Lua 5.4 script with the standard library and every rb.* module
(require "rb.http", "rb.pg", ...). Busted specs: runbook lua /usr/bin/busted SPECDIR.
The targets (rb.target, the default clients of rb.prom, rb.pg, ...) come from
--config/--env, else $RUNBOOK_CONFIG (or ~/.config/runbook/config.yaml) with
its default environment, as for `runbook run`.
]]

-- --env/--config before the script name are runbook's; everything after is the script's.
local function own_options(args)
  local o, i = {}, 1
  while args[i] == "--env" or args[i] == "--config" do
    if not args[i + 1] then return nil, args[i] .. " needs a value" end
    o[args[i]:sub(3)] = args[i + 1]
    i = i + 2
  end
  return o, table.move(args, i, #args, 1, {})
end

return function(argv)
  local o, args = own_options(argv)
  if not o then io.stderr:write("runbook: ", args, "\n", HELP); return 2 end
  local targets, terr = require("rb.config").load(o.config, o.env)
  if not targets then io.stderr:write("runbook: ", terr, "\n"); return 2 end
  require("rb")._set_targets(targets)
  local file = args[1]
  if file == nil or file == "-h" or file == "--help" then
    io.stdout:write(HELP)
    return file == nil and 2 or 0
  end
  local chunk, err, first
  if file == "-e" then
    chunk, err = load(args[2] or "", "=(command line)", "t")
    first = 3
  else
    chunk, err = loadfile(file, "t")
    first = 2
  end
  if not chunk then
    io.stderr:write("runbook: ", err, "\n")
    return 2
  end
  local a = { [0] = file == "-e" and "-e" or file }
  for i = first, #args do a[#a + 1] = args[i] end
  _G.arg = a
  require("rb._sys").install_signals(require("rb._world").active_slot())
  -- the operator's own script: its binding calls are not gated by a runner
  -- (sections it runs through rb.testing still run in worlds of their own)
  require("rb._gate").set_mode("free")
  -- a script that raises exits 1 (2 is for usage and load errors)
  local results = table.pack(xpcall(chunk, function(e)
    local msg = type(e) == "string" and e or tostring(e)
    return debug.traceback(msg, 2)
  end, table.unpack(a)))
  if not results[1] then
    io.stderr:write("runbook: ", require("rb._sys").redact(results[2]), "\n")
    return 1
  end
  if math.type(results[2]) == "integer" then return results[2] end
  return 0
end
