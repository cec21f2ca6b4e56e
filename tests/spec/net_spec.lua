-- net_spec.lua — rb.net against 127.0.0.1 only: the lab Prometheus port
-- (tests/lab/services/prom.sh), a closed port and a listener that never answers.
local net = require "rb.net"
local gate = require "rb._gate"

local URL = assert(os.getenv("RB_TEST_PROM_URL"), "RB_TEST_PROM_URL unset: run through tests/run")
local PORT = assert(tonumber(os.getenv("RB_TEST_PROM_PORT")))
local CLOSED_URL = os.getenv("RB_TEST_PROM_CLOSED_URL")
local CLOSED_PORT = assert(tonumber(CLOSED_URL:match(":(%d+)$")))

describe("rb.net", function()
  it("resolves localhost from the hosts file", function()
    local r = assert(net.resolve("localhost"))
    local found = false
    for _, a in ipairs(r.addresses) do found = found or a == "127.0.0.1" or a == "::1" end
    assert.is_true(found, table.concat(r.addresses, " "))
    assert.is_true(r.ms >= 0)
    local seen = {}
    for _, a in ipairs(r.addresses) do
      assert.is_nil(seen[a], "listed twice: " .. a)
      seen[a] = true
    end
  end)

  -- glibc rejects a name with an empty label before it sends any query
  -- (checked with strace: no socket but nscd's), so this stays on the machine
  it("a name that cannot resolve is a dns error", function()
    local r, err = net.resolve("bad..name")
    assert.is_nil(r)
    assert.equal("dns", err.kind)
    assert.matches("bad..name", err.message, 1, true)
    r, err = net.tcp_connect("bad..name", 80)
    assert.is_nil(r)
    assert.equal("dns", err.kind)
  end)

  it("connects to the Prometheus port and says how long it took", function()
    local r = assert(net.tcp_connect("127.0.0.1", PORT, { timeout = 2 }))
    assert.equal("127.0.0.1", r.address)
    assert.is_true(r.ms >= 0 and r.ms < 2000)
  end)

  it("a refused port is a conn error", function()
    local r, err = net.tcp_connect("127.0.0.1", CLOSED_PORT, { timeout = 2 })
    assert.is_nil(r)
    assert.equal("conn", err.kind)
    assert.matches("refused", err.message)
  end)

  it("probes an HTTP endpoint with ordered phase timings", function()
    local p = assert(net.http_probe(URL .. "/-/ready"))
    assert.equal(200, p.status)
    assert.is_nil(p.tls_ms)   -- plain http: no handshake
    assert.is_true(0 <= p.dns_ms, "dns")
    assert.is_true(p.dns_ms <= p.connect_ms, "dns <= connect")
    assert.is_true(p.connect_ms <= p.first_byte_ms, "connect <= first byte")
    assert.is_true(p.first_byte_ms <= p.total_ms, "first byte <= total")
    assert.is_true(p.total_ms > 0)
    assert.is_nil(p.reused)
  end)

  it("each probe opens its own connection", function()
    for _ = 1, 2 do
      local p = assert(net.http_probe(URL .. "/-/ready"))
      assert.is_nil(p.reused)
      assert.is_true(p.connect_ms > 0 and p.dns_ms <= p.connect_ms, "connect_ms " .. p.connect_ms)
    end
  end)

  it("a probe of a silent listener times out within the bound", function()
    local p, err = net.http_probe(os.getenv("RB_TEST_PROM_SILENT_URL"), { timeout = 1 })
    assert.is_nil(p)
    assert.equal("timeout", err.kind)
  end)

  it("a probe of a closed port is a conn error", function()
    local _, err = net.http_probe(CLOSED_URL)
    assert.equal("conn", err.kind)
  end)

  it("its calls are reads: allowed in investigate mode", function()
    gate.set_mode("investigate")
    local ok, r = pcall(net.tcp_connect, "127.0.0.1", PORT)
    gate.set_mode("free")
    assert.is_true(ok, tostring(r))
    assert.is_truthy(r.ms)
  end)

  it("misuse raises", function()
    assert.has_error(function() net.tcp_connect("127.0.0.1", 70000) end)
    assert.has_error(function() net.tcp_connect("127.0.0.1") end)
    assert.has_error(function() net.resolve() end)
    assert.has_error(function() net.http_probe(URL, { timeout = -1 }) end)
  end)
end)
