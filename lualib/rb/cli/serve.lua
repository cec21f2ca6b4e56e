-- rb.cli.serve — `runbook serve [--listen ADDR] [--reports DIR] [--config FILE]`.
local args = require "rb.cli.args"

local HELP = [[
usage: runbook serve [--listen ADDR] [--reports DIR] [--config FILE] [--audit FILE|URL] [--env NAME]

Alertmanager webhook in, investigate-only runs out. Each firing alert is
mapped to a section (the `runbook` annotation export-alerts writes, or the
config's mappings) and run as `runbook run SECTION --investigate-only` in a
process of its own; reports land in DIR/<run-id>/. Never runs a resolve step.

  --listen ADDR    HOST:PORT to listen on (default 127.0.0.1:9095)
  --reports DIR    where runs write their report, JSON and summary (required)
  --config FILE    YAML with a `serve:` mapping (token_file, workers, queue,
                   run_timeout, mappings, notify, tls, ...) and optionally the
                   `environments:` the runs use
  --audit FILE|URL audit log for serve and its runs (postgres://... accepted)
  --env NAME       environment of the config file the runs target

Authentication: RUNBOOK_SERVE_TOKEN (or serve.token_file) as a bearer token,
and/or serve.tls.client_ca for client certificates. Endpoints: POST /alerts,
GET /runs, GET /runs/ID, GET /healthz, GET /metrics. SIGTERM stops accepting,
lets running runs finish within serve.shutdown_grace seconds, then stops them.
See docs/serve.md.
]]

local SPEC = { flags = { help = true }, options = { listen = true, reports = true, config = true, audit = true,
  env = true }, alias = { h = "help" } }

return function(argv)
  local o, pos = args.parse(argv, SPEC)
  if not o then return args.usage(pos, HELP) end
  if o.help then io.stdout:write(HELP); return 0 end
  if #pos > 0 then return args.usage("serve takes no positional arguments", HELP) end
  local cfg, err = require("rb.serve_config").load(o)
  if not cfg then io.stderr:write("runbook: serve: ", err, "\n"); return 2 end
  return require("rb.serve").run(cfg)
end
