-- security_http_spec.lua — rb.http reads only what it says and plans exactly
-- the request it sends (issues 10 item 5, 11 item 1). Every attack is tried
-- against a raw-socket server (tests/spec/support/rawhttp.py) that logs every
-- byte it receives, and each test asserts what arrived there: a smuggled
-- request would be a second request line in the byte stream.
local http = require "rb.http"
local net = require "rb.net"
local gate = require "rb._gate"
local cjson = require "cjson"
local util = require "tests.spec.support.util"

local DIR = util.sh("mktemp -d /tmp/rb-sec-http.XXXXXX")
local LOG = DIR .. "/requests.log"
local PID = util.sh(("python3 tests/spec/support/rawhttp.py %s/port %s >%s/server.log 2>&1 & echo $!")
  :format(DIR, LOG, DIR))
for _ = 1, 50 do
  if util.read_file(DIR .. "/port") ~= "" then break end
  os.execute("sleep 0.1")
end
local PORT = assert(tonumber(util.read_file(DIR .. "/port")), "rawhttp.py did not start")
local BASE = "http://127.0.0.1:" .. PORT

-- What the server received: parsed requests, and request lines in the raw bytes.
local function received()
  local out = {}
  for line in util.read_file(LOG):gmatch("[^\n]+") do out[#out + 1] = cjson.decode(line) end
  return out
end
local function request_lines()
  local n, posts = 0, 0
  for line in (util.read_file(LOG .. ".raw") .. "\n"):gmatch("([^\n]*)\n") do
    local m = line:match("^(%u+) %S+ HTTP/1%.[01]\r?$")
    if m then n = n + 1; if m ~= "GET" and m ~= "HEAD" then posts = posts + 1 end end
  end
  return n, posts
end
local function sha256(s)
  util.write_file(DIR .. "/sha.in", s)
  return (util.sh("sha256sum " .. DIR .. "/sha.in"):match("^(%x+)"))
end
local function refused(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "the call was not refused")
  return err
end

describe("rb.http security", function()
  teardown(function()
    os.execute("kill " .. PID .. " 2>/dev/null")
    os.execute("rm -rf " .. DIR)
  end)
  before_each(function()
    util.write_file(LOG, "")
    util.write_file(LOG .. ".raw", "")
  end)
  after_each(function() gate.set_mode("free"); gate.reset() end)

  describe("control characters smuggle no request", function()
    local smuggle = "v\r\n\r\nPOST /smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
    local cases = {
      { "a CR/LF in a header value", "header 'X-A'", function() return http.get(BASE .. "/a", { headers = { ["X-A"] = smuggle } }) end },
      { "a bare LF in a header value", "header 'X-A'", function() return http.get(BASE .. "/a", { headers = { ["X-A"] = "v\nPOST /smuggled HTTP/1.1" } }) end },
      { "a NUL in a header value", "header 'X-A'", function() return http.get(BASE .. "/a", { headers = { ["X-A"] = "v\0w" } }) end },
      { "a CR/LF in a header name", "not a token", function() return http.get(BASE .. "/a", { headers = { ["X-A: v\r\nPOST /smuggled HTTP/1.1\r\nX-B"] = "w" } }) end },
      { "a CR/LF in the bearer token", "bearer", function() return http.get(BASE .. "/a", { bearer = "tok" .. smuggle }) end },
      { "a CR/LF in the basic user", "basic.user", function() return http.get(BASE .. "/a", { basic = { user = "u" .. smuggle, password = "p" } }) end },
      { "a CR/LF in the basic password", "basic.password", function() return http.get(BASE .. "/a", { basic = { user = "u", password = "p" .. smuggle } }) end },
      { "a CR/LF in the URL path", "URL", function() return http.get(BASE .. "/a HTTP/1.1\r\n\r\nPOST /smuggled HTTP/1.1\r\nX: y") end },
      { "a CR/LF in the URL query", "URL", function() return http.get(BASE .. "/a?x=1\r\n\r\nPOST /smuggled HTTP/1.1\r\n") end },
      { "a TAB in a header value", "header 'X-A'", function() return http.get(BASE .. "/a", { headers = { ["X-A"] = "a\tb" } }) end },
      { "a DEL in the bearer token", "bearer", function() return http.get(BASE .. "/a", { bearer = "tok\127" }) end },
    }
    for _, c in ipairs(cases) do
      it(c[1] .. ": refused naming the field; the server sees only the next request", function()
        local err = refused(c[3])
        assert.equal("request", err.kind)
        assert.matches(c[2], err.message, 1, true)
        assert(http.get(BASE .. "/after"))   -- same connection: a smuggled request would show before it
        local n, posts = request_lines()
        assert.equal(1, n)
        assert.equal(0, posts)
        local got = received()
        assert.equal(1, #got)
        assert.equal("/after", got[1].target)
      end)
    end

    it("a percent-encoded CR/LF stays inside one request", function()
      assert(http.get(BASE .. "/a%0d%0aPOST%20/smuggled?x=%0d%0a"))
      local n, posts = request_lines()
      assert.same({ 1, 0 }, { n, posts })
      assert.equal("/a%0d%0aPOST%20/smuggled?x=%0d%0a", received()[1].target)
    end)
  end)

  describe("reads carry no body and no method override", function()
    local cases = {
      { "GET with a body", function() return http.get(BASE .. "/r", { body = "x=1" }) end, "carries no body" },
      { "GET with json", function() return http.get(BASE .. "/r", { json = { x = 1 } }) end, "carries no body" },
      { "HEAD with a body", function() return http.head(BASE .. "/r", { body = "x" }) end, "carries no body" },
      { "GET with X-HTTP-Method-Override", function() return http.get(BASE .. "/r", { headers = { ["X-HTTP-Method-Override"] = "DELETE" } }) end, "method-override" },
      { "GET with x-http-method (lower case)", function() return http.get(BASE .. "/r", { headers = { ["x-http-method"] = "DELETE" } }) end, "method-override" },
      { "GET with X-METHOD-OVERRIDE", function() return http.get(BASE .. "/r", { headers = { ["X-METHOD-OVERRIDE"] = "PUT" } }) end, "method-override" },
      { "POST with X-HTTP-Method-Override", function() return http.post(BASE .. "/r", { body = "x", headers = { ["X-Http-Method-Override"] = "DELETE" } }) end, "method-override" },
      { "POST with its own Content-Length", function() return http.post(BASE .. "/r", { body = "GET /smuggled HTTP/1.1\r\n\r\n", headers = { ["Content-Length"] = "0" } }) end, "set by the transport" },
      { "GET with Transfer-Encoding", function() return http.get(BASE .. "/r", { headers = { ["Transfer-Encoding"] = "chunked" } }) end, "set by the transport" },
      { "GET with a Host header", function() return http.get(BASE .. "/r", { headers = { Host = "other.example" } }) end, "set by the transport" },
    }
    for _, c in ipairs(cases) do
      it(c[1] .. " is refused and nothing reaches the server", function()
        local err = refused(c[2])
        assert.equal("request", err.kind)
        assert.matches(c[3], err.message, 1, true)
        assert.same({ 0, 0 }, { request_lines() })
      end)
    end

    it("a plain GET still works and sends no body", function()
      assert.equal(200, assert(http.get(BASE .. "/ok")).status)
      local got = received()
      assert.equal(1, #got)
      assert.same({ "GET", "/ok", "" }, { got[1].method, got[1].target, got[1].body })
      assert.is_nil(got[1].headers["content-length"])
    end)
  end)

  describe("in investigate mode", function()
    for _, m in ipairs { "post", "put", "patch", "delete" } do
      it(m .. " is refused and nothing is received", function()
        gate.set_mode("investigate")
        local err = refused(http[m], BASE .. "/w-" .. m, { body = "x" })
        assert.equal("refused", err.kind)
        assert.same({ 0, 0 }, { request_lines() })
        assert(http.get(BASE .. "/read"))   -- reads still go
        assert.same({ 1, 0 }, { request_lines() })
      end)
    end
  end)

  describe("outside a step (load mode) nothing leaves the process", function()
    local function connections()
      local n = 0
      for _ in util.read_file(LOG .. ".conns"):gmatch("[^\n]+") do n = n + 1 end
      return n
    end
    local calls = {
      { "http.get", function() return http.get(BASE .. "/load") end },
      { "http.post", function() return http.post(BASE .. "/load", { body = "x" }) end },
      { "net.tcp_connect", function() return net.tcp_connect("127.0.0.1", PORT) end },
      { "net.http_probe", function() return net.http_probe(BASE .. "/load") end },
      { "net.resolve", function() return net.resolve("localhost") end },
    }
    for _, c in ipairs(calls) do
      it(c[1] .. " is refused and the server sees no connection", function()
        local before = connections()
        gate.set_mode("load")
        local err = refused(c[2])
        gate.set_mode("free")
        assert.equal("refused", err.kind)
        assert.equal(before, connections())
        assert.same({ 0, 0 }, { request_lines() })
      end)
    end
    it("the same tcp_connect in free mode does connect (the count can move)", function()
      local before = connections()
      assert(net.tcp_connect("127.0.0.1", PORT))
      for _ = 1, 20 do
        if connections() > before then break end
        os.execute("sleep 0.05")
      end
      assert.equal(before + 1, connections())
    end)
  end)

  describe("the plan is the request", function()
    -- plans the call, approves it, applies it; returns the plan entry, its args and what arrived
    local function plan_then_apply(f, url, opts)
      gate.set_mode("plan")
      local r = assert(f(url, opts))
      assert.is_true(r.planned)
      assert.same({ 0, 0 }, { request_lines() })
      local plan = gate.plan()
      assert.equal(1, #plan)
      gate.confirm()
      gate.set_mode("apply")
      assert.equal(200, assert(f(url, opts)).status)
      local got = received()
      assert.equal(1, #got)
      return plan[1], cjson.decode(plan[1].args), got[1]
    end

    it("op, target, body, content type and bearer identity are what the server received", function()
      local token = "tok-" .. string.rep("z", 20)
      local p, args, got = plan_then_apply(http.post, BASE .. "/items?x=1", { json = { name = "a" }, bearer = token })
      assert.equal("http", p.binding)
      assert.equal(got.method:lower(), p.op)
      assert.equal(BASE .. got.target, p.target)
      assert.equal(got.body, args.body)
      assert.equal(#got.body, args.bytes)
      assert.equal(got.headers["content-type"], args.content_type)
      local sent = got.headers.authorization:match("^Bearer (.+)$")
      assert.equal(token, sent)
      assert.equal("bearer sha256:" .. sha256(sent):sub(1, 12), args.credential)
      assert.is_nil(p.args:find(token, 1, true))
    end)

    it("a long body is identified by its SHA-256 and shown in full in the details", function()
      local body = string.rep("0123456789", 50)
      local _, args, got = plan_then_apply(http.put, BASE .. "/big", { body = body, headers = { ["Content-Type"] = "text/plain" } })
      assert.equal(body, got.body)
      assert.equal(sha256(got.body), args.body_sha256)
      assert.equal(body, args.body)
      assert.equal(500, args.bytes)
      assert.equal("text/plain", args.content_type)
    end)

    it("the target is the URL as libcurl sends it, userinfo taken out as basic credentials", function()
      local url = ("http://alice:pw-in-url-42@127.0.0.1:%d/a/../b/./c?q=1"):format(PORT)
      local p, args, got = plan_then_apply(http.delete, url)
      assert.equal("/b/c?q=1", got.target)
      assert.equal(BASE .. "/b/c?q=1", p.target)
      assert.equal("basic alice", args.credential)
      local b64 = got.headers.authorization:match("^Basic (.+)$")
      assert.equal("alice:pw-in-url-42", util.sh("printf %s " .. b64 .. " | base64 -d"))
      assert.is_nil(p.target:find("pw-in-url", 1, true))
      assert.is_nil(p.args:find("pw-in-url", 1, true))
    end)

    it("headers are part of the identity: a changed header at apply time is not sent", function()
      gate.set_mode("plan")
      http.post(BASE .. "/h", { body = "x", headers = { ["X-Mode"] = "dry" } })
      gate.confirm()
      gate.set_mode("apply")
      local err = refused(http.post, BASE .. "/h", { body = "x", headers = { ["X-Mode"] = "real" } })
      assert.equal("unplanned", err.kind)
      assert.same({ 0, 0 }, { request_lines() })
    end)

    it("the credential is part of the identity: another token at apply time is not sent", function()
      gate.set_mode("plan")
      http.post(BASE .. "/c", { body = "x", bearer = "token-planned-1" })
      gate.confirm()
      gate.set_mode("apply")
      local err = refused(http.post, BASE .. "/c", { body = "x", bearer = "token-other-22" })
      assert.equal("unplanned", err.kind)
      assert.same({ 0, 0 }, { request_lines() })
    end)

    it("a secret header is shown by fingerprint, never its value", function()
      gate.set_mode("plan")
      http.post(BASE .. "/k", { body = "x", headers = { ["X-Api-Key"] = "key-value-123456" } })
      local p = gate.plan()[1]
      local args = cjson.decode(p.args)
      assert.equal("sha256:" .. sha256("key-value-123456"):sub(1, 12), args.headers["x-api-key"])
      assert.is_nil(p.args:find("key-value-123456", 1, true))
    end)

    for _, bad in ipairs {
      { "#", BASE .. "/p#frag", "'#'" },
      { "a second '?'", BASE .. "/p?a=1?b=2", "second '?'" },
      { "no scheme", "127.0.0.1:" .. PORT .. "/p", "URL" },
      { "another scheme", "file:///etc/passwd", "only http and https" },
    } do
      it("a URL with " .. bad[1] .. " is an error: nothing planned, nothing sent", function()
        gate.set_mode("plan")
        local err = refused(http.post, bad[2], { body = "x" })
        assert.equal("request", err.kind)
        assert.matches(bad[3], err.message, 1, true)
        assert.equal(0, #gate.plan())
        gate.set_mode("free")
        refused(http.get, bad[2])
        assert.same({ 0, 0 }, { request_lines() })
      end)
    end

    it("URL userinfo beside bearer/basic is refused; bearer wins over basic, as sent and as planned", function()
      local err = refused(http.get, "http://u:p@127.0.0.1:" .. PORT .. "/x", { bearer = "tok-abcdef" })
      assert.matches("credentials both in the URL", err.message, 1, true)
      err = refused(http.get, "http://u:p@127.0.0.1:" .. PORT .. "/x", { basic = { user = "v", password = "q" } })
      assert.matches("credentials both in the URL", err.message, 1, true)
      assert.same({ 0, 0 }, { request_lines() })
      local _, args, got = plan_then_apply(http.post, BASE .. "/both",
        { body = "x", bearer = "tok-both-1234", basic = { user = "u", password = "pw-both-1234" } })
      assert.equal("Bearer tok-both-1234", got.headers.authorization)
      assert.equal("bearer sha256:" .. sha256("tok-both-1234"):sub(1, 12), args.credential)
    end)
  end)
end)
