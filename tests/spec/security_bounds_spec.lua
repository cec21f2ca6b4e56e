-- security_bounds_spec.lua — hostile input is bounded (issue 11, class 4):
-- each bomb is attempted for real and must be rejected within a second with
-- the process's peak RSS staying under a stated bound, measured from
-- /proc/self/status (VmHWM, reset before each case by /proc/self/clear_refs).
-- Bounds: pprof decoding max_memory 256 MiB (+ one inflate window), so 300 MB
-- of growth; YAML and JSON bombs are refused by counting, before any
-- expansion, so 50 MB. Time is CPU time (os.clock): the bound is on the work
-- a bomb causes, not on how loaded the machine is.
local pprof = require "rb.pprof"
local yaml = require "rb.yaml"
local json = require "rb.json"
local util = require "tests.spec.support.util"

local function status(field)
  local s = util.read_file("/proc/self/status")
  return tonumber(s:match(field .. ":%s*(%d+) kB")) or 0
end

local function reset_peak()
  local f = io.open("/proc/self/clear_refs", "w")
  if f then f:write("5"); f:close() end
end

-- Runs fn, returns its results plus seconds taken and peak RSS growth in MB.
local function bounded(fn)
  collectgarbage(); collectgarbage()
  reset_peak()
  local before = status("VmRSS")
  local t0 = os.clock()
  local r = table.pack(pcall(fn))
  local cpu = os.clock() - t0
  local grew = (status("VmHWM") - before) // 1024
  return r, cpu, grew
end

-- gzip of a unit (the bytes `head`, then `zeros` zero bytes) repeated n
-- times, made by python3 in chunks so the inflated size is never held whole.
local function gzip_repeat(head, n, zeros)
  local hex = head:gsub(".", function(c) return ("%02x"):format(c:byte()) end)
  local path = os.tmpname()
  util.sh(([[python3 -c '
import gzip, sys
u = bytes.fromhex("%s") + bytes(%d); n = %d; per = max(1, (1 << 20) // len(u)); chunk = u * per
with gzip.open(sys.argv[1], "wb", 6) as f:
    while n > 0:
        k = min(n, per); f.write(chunk[:k * len(u)]); n -= k
' %s]]):format(hex, zeros or 0, n, path))
  local body = util.read_file(path)
  os.remove(path)
  return body
end

describe("pprof bombs", function()
  it("rejects 5M empty samples (a 10 KB gzip) at max_samples", function()
    local bomb = gzip_repeat("\18\0", 5 * 1024 * 1024)
    assert.is_true(#bomb < 100 * 1024)
    local r, cpu, grew = bounded(function() return pprof.parse(bomb) end)
    assert.is_true(r[1])
    assert.is_nil(r[2])
    assert.equal("parse", r[3].kind)
    assert.truthy(tostring(r[3]):find("max_samples", 1, true), tostring(r[3]))
    assert.is_true(cpu < 1, ("took %.2f s"):format(cpu))
    assert.is_true(grew < 300, ("RSS grew %d MB"):format(grew))
  end)

  it("rejects a gzip bomb of 128 MB of skipped fields at max_bytes", function()
    -- field 15 of 65530 zero bytes, repeated: 128 MB inflated from about 128 KB
    local bomb = gzip_repeat("\122\250\255\3", 2048, 65530)
    assert.is_true(#bomb < 256 * 1024)
    local r, cpu, grew = bounded(function() return pprof.parse(bomb) end)
    assert.is_nil(r[2])
    assert.truthy(tostring(r[3]):find("max_bytes", 1, true), tostring(r[3]))
    assert.is_true(cpu < 1, ("took %.2f s"):format(cpu))
    assert.is_true(grew < 300, ("RSS grew %d MB"):format(grew))
  end)

  it("rejects 20M empty mappings (960 MB decoded) as a bomb, and honours a lower max_memory", function()
    local bomb = gzip_repeat("\26\0", 20 * 1024 * 1024)
    local r, cpu, grew = bounded(function() return pprof.parse(bomb) end)
    assert.is_nil(r[2])
    assert.truthy(tostring(r[3]):find("a decompression bomb", 1, true), tostring(r[3]))
    assert.is_true(cpu < 1, ("took %.2f s"):format(cpu))
    assert.is_true(grew < 300, ("RSS grew %d MB"):format(grew))
    r, cpu, grew = bounded(function() return pprof.parse(bomb, { max_memory = 8 * 1024 * 1024 }) end)
    assert.truthy(tostring(r[3]):find("8388608 bytes of memory", 1, true), tostring(r[3]))
    assert.is_true(grew < 40, ("RSS grew %d MB with max_memory 8 MB"):format(grew))
  end)

  it("honours max_samples from the options, and refuses bad options", function()
    local three = gzip_repeat("\18\0", 3)
    local p, err = pprof.parse(three, { max_samples = 2 })
    assert.is_nil(p)
    assert.truthy(tostring(err):find("more than 2 samples", 1, true))
    assert.has_error(function() pprof.parse(three, { max_samples = 0 }) end)
    assert.has_error(function() pprof.parse(three, "big") end)
  end)
end)

-- A YAML "billion laughs": 10 aliases per level, 9 levels = 10^9 nodes.
local function laughs(levels)
  local lines = { 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]' }
  for i = 1, levels do
    local prev = "*l" .. (i - 1)
    lines[#lines + 1] = ("l%d: &l%d [%s]"):format(i, i, (prev .. ", "):rep(9) .. prev)
  end
  return table.concat(lines, "\n")
end

describe("YAML bombs", function()
  it("rejects an alias bomb on decode within a second", function()
    local r, cpu, grew = bounded(function() return yaml.decode(laughs(9)) end)
    assert.is_nil(r[2])
    assert.truthy(tostring(r[3]):find("max_nodes", 1, true), tostring(r[3]))
    assert.is_true(cpu < 1 and grew < 50, ("%.2f s, %d MB"):format(cpu, grew))
  end)

  it("decodes aliases that stay within max_nodes, and max_nodes is an option", function()
    local doc = assert(yaml.decode(laughs(2)))
    assert.equal("lol", doc.l2[10][10][10])
    local v, err = yaml.decode(laughs(2), { max_nodes = 50 })
    assert.is_nil(v)
    assert.truthy(tostring(err):find("more than 50 nodes", 1, true))
  end)

  it("refuses a self-referencing alias and an alias to no anchor", function()
    local v, err = yaml.decode("a: &a [1, *a]")
    assert.is_nil(v)
    assert.truthy(tostring(err):find("cycle", 1, true))
    v, err = yaml.decode("a: *nowhere")
    assert.is_nil(v)
    assert.truthy(tostring(err):find("names no anchor", 1, true))
  end)

  it("rejects encoding a shared-table bomb before writing anything", function()
    local t = { "lol" }
    for _ = 1, 40 do t = { t, t } end           -- 2^40 nodes once expanded
    local r, cpu, grew = bounded(function() return yaml.encode(t) end)
    assert.is_false(r[1])
    assert.truthy(tostring(r[2]):find("max_nodes", 1, true), tostring(r[2]))
    assert.is_true(cpu < 1 and grew < 50, ("%.2f s, %d MB"):format(cpu, grew))
  end)

  it("refuses a cycle and a too-deep document both ways", function()
    local c = {}; c.me = c
    assert.has_error(function() yaml.encode(c) end, "rb.yaml.encode: a table contains itself (a cycle cannot be written as YAML)")
    local v, err = yaml.decode(("["):rep(200) .. ("]"):rep(200))
    assert.is_nil(v)
    assert.truthy(tostring(err):find("max_depth", 1, true))
  end)
end)

describe("JSON bounds", function()
  it("rejects 100000 levels of nesting at once", function()
    local deep = ("["):rep(100000) .. ("]"):rep(100000)
    local r, cpu, grew = bounded(function() return json.decode(deep) end)
    assert.is_nil(r[2])
    assert.equal("parse", r[3].kind)
    assert.truthy(tostring(r[3]):find("nested", 1, true), tostring(r[3]))
    assert.is_true(cpu < 1 and grew < 50, ("%.2f s, %d MB"):format(cpu, grew))
  end)

  it("allows MAX_DEPTH levels and lets a call choose its depth", function()
    local n = json.MAX_DEPTH
    assert.truthy(json.decode(("["):rep(n) .. ("]"):rep(n)))
    assert.is_nil(json.decode(("["):rep(n + 1) .. ("]"):rep(n + 1)))
    assert.is_nil(json.decode("[[[1]]]", { max_depth = 2 }))
    assert.truthy(json.decode(("["):rep(n + 1) .. ("]"):rep(n + 1), { max_depth = n + 1 }))
  end)

  it("rejects encoding a shared-table bomb within a second", function()
    local t = { "lol" }
    for _ = 1, 40 do t = { t, t } end
    local r, cpu, grew = bounded(function() return json.encode(t) end)
    assert.is_false(r[1])
    assert.truthy(tostring(r[2]):find("max_nodes", 1, true), tostring(r[2]))
    assert.is_true(cpu < 1 and grew < 50, ("%.2f s, %d MB"):format(cpu, grew))
  end)

  it("keeps its settings from runbook code: no raw cjson handle", function()
    assert.is_nil(json.raw)
    assert.equal('{"a":[1,2]}', json.encode { a = { 1, 2 } })
  end)
end)
