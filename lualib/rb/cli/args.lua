-- rb.cli.args — getopt-style parsing shared by the subcommands:
-- --flag, --opt VALUE, --opt=VALUE, short aliases (-n), repeatable options,
-- positionals; "--" ends options. Unknown options are usage errors.
local M = {}

--- parse(args, spec) -> opts, positionals | nil, err
-- spec = { flags = {name = true}, options = {name = true}, repeat = {name = true},
--          alias = {n = "namespace"} }
function M.parse(args, spec)
  local opts, pos, i = {}, {}, 1
  local alias = spec.alias or {}
  while i <= #args do
    local a = args[i]
    if a == "--" then
      table.move(args, i + 1, #args, #pos + 1, pos)
      break
    end
    local name, value = a:match("^%-%-([%w-]+)=(.*)$")
    if not name then name = a:match("^%-%-([%w-]+)$") or (a:match("^%-(%a)$") and alias[a:sub(2)]) end
    if a:match("^%-(%a)$") and not alias[a:sub(2)] then return nil, ("unknown option '%s'"):format(a) end
    if name then
      local key = name:gsub("-", "_")
      if spec.flags and spec.flags[name] then
        if value then return nil, ("option --%s takes no value"):format(name) end
        opts[key] = true
      elseif (spec.options and spec.options[name]) or (spec["repeat"] and spec["repeat"][name]) then
        if not value then
          i = i + 1
          value = args[i]
          if value == nil then return nil, ("option --%s needs a value"):format(name) end
        end
        if spec["repeat"] and spec["repeat"][name] then
          opts[key] = opts[key] or {}
          table.insert(opts[key], value)
        else
          opts[key] = value
        end
      else
        return nil, ("unknown option '%s'"):format(a)
      end
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return opts, pos
end

--- simple(argv, help) -> positionals | nil, exit status: for commands whose
--- only option is --help (list, show, check).
function M.simple(argv, help)
  local o, pos = M.parse(argv, { flags = { help = true }, alias = { h = "help" } })
  if not o then return nil, M.usage(pos, help) end
  if o.help then io.stdout:write(help); return nil, 0 end
  return pos
end

--- sets(list) -> {key = value} | nil, err: the values of a repeated --set KEY=VALUE.
function M.sets(list)
  local out = {}
  for _, kv in ipairs(list or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if not k then return nil, ("--set expects KEY=VALUE (got '%s')"):format(kv) end
    out[k] = v
  end
  return out
end

--- usage(err, help): prints an error and the command's help; returns 2.
function M.usage(err, help)
  io.stderr:write("runbook: ", err, "\n\n", help)
  return 2
end

return M
