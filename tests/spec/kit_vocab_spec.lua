-- One vocabulary across rb.pg, rb.redis, rb.prom and rb.json: the one error
-- constructor (rb.json.error: the same rb.Error values the bindings return,
-- redacted), the one null, prom.client() with and without a configured
-- target, client:target()/:close()/<close>, the timeout rule in rb.prom, and
-- rb.thresholds.read against the lab's Prometheus.
local rb = require "rb"
local json = require "rb.json"
local pg = require "rb.pg"
local prom = require "rb.prom"
local thresholds = require "rb.thresholds"
local util = require "tests.spec.support.util"

local PROM = os.getenv("RB_TEST_PROM_URL")
local RUNBOOK = os.getenv("RUNBOOK") or "build/runbook"
local function q(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

-- Runs code in a fresh `runbook lua` with env (a shell prefix); its output.
local function child(env, code)
  local script = os.tmpname()
  util.write_file(script, code)
  local out = util.sh(("env -u RUNBOOK_CONFIG -u PROMETHEUS_URL %s %s lua %s 2>&1"):format(env, q(RUNBOOK), q(script)))
  os.remove(script)
  return out
end

describe("one vocabulary", function()
  describe("rb.json.error", function()
    it("makes the rb.Error the bindings return, fields kept, strings redacted", function()
      local secret = "kit-vocab-secret-" .. os.time()
      rb.secret(secret)
      local err = json.error("config", "no server for " .. secret, { detail = "see " .. secret, status = 503,
        kind = "other", message = "ignored" })
      assert.equal("config", err.kind)
      assert.equal("no server for [REDACTED]", err.message)
      assert.equal("see [REDACTED]", err.detail)
      assert.equal(503, err.status)
      assert.equal("config error: no server for [REDACTED]", tostring(err))
      local _, perr = pg.connect("host=127.0.0.1 port=1 dbname=x connect_timeout=1")
      assert.equal(getmetatable(perr), getmetatable(err))
      assert.equal("rb.Error", getmetatable(err).__name)
      local _, derr = json.decode("{")
      assert.equal(getmetatable(err), getmetatable(derr))
      assert.equal("parse", derr.kind)
    end)

    it("raises on a kind that is not a lower-case word, or a missing message", function()
      assert.has_error(function() json.error("Config", "x") end)
      assert.has_error(function() json.error("", "x") end)
      assert.has_error(function() json.error("config") end)
      assert.has_error(function() json.error("config", "x", "fields") end)
    end)

    it("one null: rb.pg's NULL is rb.json.null", function()
      assert.equal(json.null, pg.null)
    end)
  end)

  describe("prom.client", function()
    it("with nothing configured is nil, err{kind = 'config'}, and so are the module calls", function()
      local out = child("", [[
local prom = require "rb.prom"
local c, err = prom.client()
local v, verr = prom.value("1")
local r, errs = prom.query_many { "1", "2" }
io.write(tostring(c), " ", err.kind, " ", tostring(v), " ", verr.kind, " ", #r, " ", errs[2].kind)]])
      assert.equal("nil config nil config 0 config", out)
    end)

    it("with a configured target gives that server's client", function()
      if not PROM then return pending("RB_TEST_PROM_URL unset") end
      local out = child("PROMETHEUS_URL=" .. q(PROM), [[
local c <close> = assert(require("rb.prom").client())
io.write(c:target(), " ", assert(c:value("1 + 1")))]])
      assert.equal(PROM .. " 2", out)
    end)

    it("has target() and close(), also as <close>; a closed client raises", function()
      local c = prom.client { url = "http://127.0.0.1:1/prom" }
      assert.equal("http://127.0.0.1:1/prom", c:target())
      do
        local d <close> = c
      end
      assert.has_error(function() c:query("up") end, "rb.prom: query on a closed client")
      c:close()   -- idempotent
    end)

    it("reads timeouts with the one rule", function()
      local ok, err = pcall(prom.client, { url = "http://127.0.0.1:1", timeout = 0 })
      assert.is_false(ok)
      assert.matches("bad option 'timeout' to 'client' %(seconds expected", tostring(err))
      assert.has_error(function() prom.client { url = "http://127.0.0.1:1", connect_timeout = 86401 } end)
    end)
  end)

  describe("rb.thresholds.read", function()
    local ctx = {
      params = { job = "rb-lab-target" },
      thresholds = {
        targets_up = { title = "targets up", query = 'count(up{job="{{job}}"})', warn = 1, crit = 5 },
        no_query = { title = "no query", warn = 1, crit = 2 },
        no_data = { title = "no data", query = 'up{job="no-such-job"}', warn = 1, crit = 2 },
      },
    }

    it("evaluates a book threshold's query with the step's params", function()
      if not PROM then return pending("RB_TEST_PROM_URL unset") end
      local c = prom.client(PROM)
      local v, level, err = thresholds.read(ctx, "targets_up", { prom = c })
      assert.is_nil(err)
      assert.equal(1, v)
      assert.equal("warning", level)
      local _, l2, e2 = thresholds.read(ctx, "no_data", { prom = c })
      assert.equal("unknown", l2)
      assert.equal("no data", e2)
    end)

    it("is unknown with why when there is no query or no server", function()
      local v, level, err = thresholds.read(ctx, "no_query")
      assert.is_nil(v)
      assert.equal("unknown", level)
      assert.equal("no query", err)
      if rb.target("prometheus") == nil then
        local _, l2, e2 = thresholds.read(ctx, "targets_up")
        assert.equal("unknown", l2)
        assert.matches("no Prometheus server configured", e2)
      end
    end)

    it("raises on a threshold the book does not have", function()
      assert.has_error(function() thresholds.read(ctx, "nope") end, "bad argument #2 to 'read' (no threshold 'nope' in the book)")
      assert.has_error(function() thresholds.read({}, "targets_up") end)
    end)
  end)
end)
