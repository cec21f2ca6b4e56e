-- rb.serve_runs — the runs of `runbook serve`: which alerts start a run,
-- the bounded queue, the worker pool (one `runbook run --investigate-only`
-- process per run, in its own process group, with a time limit), what each
-- run leaves in the reports directory, and the journal that carries accepted
-- but unfinished runs over a restart.
--
-- Admission, per notification (all or nothing):
--   resolved alert            recorded (journal, audit), marks its run resolved
--   firing, no section        dropped{reason="unmapped"} (still answered 200)
--   firing, seen before       deduplicated (same fingerprint and startsAt)
--   firing, same section and target queued or running, or finished less than
--     `cooldown` seconds ago: coalesced into that run
--   otherwise                 a new run, queued
-- Overflow policy: if the new runs do not fit in the queue, the whole
-- notification is refused (503, nothing recorded) and Alertmanager sends it
-- again later; an alert answered 200 is never dropped for lack of room.
local S = require "rb._serve"
local sys = require "rb._sys"
local core = require "rb._core"
local caudit = require "rb._audit"
local alerts = require "rb.serve_alerts"
local cjson = require("cjson").new()
cjson.encode_invalid_numbers("null")

local M = {}
local R = {}
R.__index = R

local JOURNAL = "serve-queue.jsonl"

local function new_id()
  return os.date("!%Y%m%dT%H%M%SZ") .. "-" .. sys.run_id():sub(1, 8)
end

function M.valid_id(id) return type(id) == "string" and id:match("^%d+T%d+Z%-%x+$") ~= nil end

local function write_file(path, text)
  local f, err = caudit.open_private(path, "w")
  if not f then return nil, err end
  local ok, werr = f:write(text)
  f:close()
  return ok, werr
end

local function read_file(path, max)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read(max or "a")
  f:close()
  return s
end

--- new(cfg, metrics, alog) -> runs
function M.new(cfg, metrics, alog)
  local self = setmetatable({ cfg = cfg, m = metrics, alog = alog, by_id = {}, order = {}, queue = {},
    running = {}, nrunning = 0, active = {}, recent = {}, seen = {}, seen_order = {}, seen_head = 1, notifying = {},
    exe = core.exe() }, R)
  return self
end

-- journal ------------------------------------------------------------------

function R:journal(rec)
  if not self.jf then
    local f, err = caudit.open_private(self.cfg.reports .. "/" .. JOURNAL, "a")
    if not f then error("serve journal: " .. err, 0) end
    self.jf = f
  end
  self.jf:write(cjson.encode(rec), "\n")
  self.jf:flush()
end

--- recover() -> n: runs accepted by an earlier server and not finished are queued again.
function R:recover()
  local text = read_file(self.cfg.reports .. "/" .. JOURNAL) or ""
  local pending, order = {}, {}
  for line in text:gmatch("[^\n]+") do
    local ok, rec = pcall(cjson.decode, line)
    if ok and type(rec) == "table" and type(rec.id) == "string" then
      if rec.t == "queued" and not pending[rec.id] then pending[rec.id] = rec; order[#order + 1] = rec.id
      elseif rec.t == "end" then pending[rec.id] = false end
    end
  end
  local f, err = caudit.open_private(self.cfg.reports .. "/" .. JOURNAL, "w")
  if not f then error("serve journal: " .. err, 0) end
  f:close()
  local n = 0
  for _, id in ipairs(order) do
    local rec = pending[id]
    if rec then
      local run = self:new_run(rec.section, rec.target, rec.alerts or {}, rec.alertname, id)
      run.recovered = true
      n = n + 1
    end
  end
  return n
end

-- admission ------------------------------------------------------------------

--- cooling(key) -> the run that finished for key less than cfg.cooldown seconds ago
function R:cooling(key)
  local r = self.recent[key]
  if r and sys.clock_ms() < r["until"] then return r.run end
  self.recent[key] = nil
end

function R:cool(run)
  if self.cfg.cooldown == 0 or run.outcome == "interrupted" then return end
  local now = sys.clock_ms()
  for k, r in pairs(self.recent) do if now >= r["until"] then self.recent[k] = nil end end
  self.recent[run.key] = { run = run, ["until"] = now + self.cfg.cooldown * 1000 }
end

function R:remember(fp)
  if self.seen[fp] then return end
  local order = self.seen_order
  order[#order + 1] = fp
  self.seen[fp] = true
  if #order - self.seen_head + 1 > self.cfg.seen_alerts then
    self.seen[order[self.seen_head]] = nil
    order[self.seen_head] = nil
    self.seen_head = self.seen_head + 1
  end
end

function R:new_run(section, target, fps, alertname, recovered_from)
  local run = { id = new_id(), section = section, target = target, key = section .. "|" .. target,
    state = "queued", alerts = fps, alertname = alertname, created = sys.time(), recovered_from = recovered_from }
  self.by_id[run.id] = run
  self.order[#self.order + 1] = run.id
  self.queue[#self.queue + 1] = run
  self.active[run.key] = run
  self:journal { t = "queued", id = run.id, section = section, target = target, alerts = fps, alertname = alertname }
  if recovered_from then self:journal { t = "end", id = recovered_from, state = "requeued" } end
  return run
end

local function classify(self, list, decided)
  local need, new = 0, {}
  for _, a in ipairs(list) do
    local d = { alert = a, fp = a.fingerprint .. "@" .. a.startsAt }
    if a.status == "resolved" then d.kind = "resolved"
    else
      d.section, d.why = alerts.section(a, self.cfg.mappings)
      if not d.section then d.kind = "unmapped"
      else
        d.target = alerts.target(a, self.cfg.target_labels)
        d.key = d.section .. "|" .. d.target
        if self.seen[d.fp] then d.kind = "duplicate"
        elseif self.active[d.key] or self:cooling(d.key) or new[d.key] then d.kind = "coalesced"
        else d.kind = "new"; new[d.key] = true; need = need + 1 end
      end
    end
    decided[#decided + 1] = d
  end
  return need
end

local function apply(self, d, made)
  local a, m = d.alert, self.m
  if d.kind == "resolved" then
    for _, run in pairs(self.active) do
      for _, fp in ipairs(run.alerts) do if fp == a.fingerprint then run.resolved = sys.time() end end
    end
  elseif d.kind == "unmapped" then m:add("alerts_dropped_total", { reason = "unmapped" })
  elseif d.kind == "duplicate" then m:add("alerts_deduplicated_total")
  else
    self:remember(d.fp)
    local run = self.active[d.key] or self:cooling(d.key)
    if d.kind == "coalesced" then
      m:add("alerts_deduplicated_total")
      run.alerts[#run.alerts + 1] = a.fingerprint
    else
      run = self:new_run(d.section, d.target, { a.fingerprint }, a.labels.alertname)
      made[#made + 1] = run.id
    end
    d.run = run.id
  end
end

--- admit(payload) -> summary | nil, "queue_full"
function R:admit(p)
  local decided = {}
  local need = classify(self, p.alerts, decided)
  if #self.queue + need > self.cfg.queue then
    self.m:add("alerts_dropped_total", { reason = "queue_full" }, #p.alerts)
    return nil, "queue_full"
  end
  local made, record = {}, {}
  for _, d in ipairs(decided) do
    self.m:add("alerts_received_total", { status = d.alert.status })
    apply(self, d, made)
    record[#record + 1] = { alertname = d.alert.labels.alertname, status = d.alert.status,
      fingerprint = d.alert.fingerprint, startsAt = d.alert.startsAt, section = d.section, run = d.run,
      disposition = d.kind, why = d.why }
  end
  self.alog:event("alert", { group = p.group_key, alerts = record })
  return { runs = made, alerts = record }
end

-- workers --------------------------------------------------------------------

function R:argv(run)
  local c = self.cfg
  local argv = { self.exe, "run", run.section, "--investigate-only", "--output", "json",
    "--report-dir", run.dir }
  if c.audit then argv[#argv + 1] = "--audit"; argv[#argv + 1] = c.audit end
  if c.config_file then argv[#argv + 1] = "--config"; argv[#argv + 1] = c.config_file end
  if c.env then argv[#argv + 1] = "--env"; argv[#argv + 1] = c.env end
  for _, kv in ipairs(c.set_list) do argv[#argv + 1] = "--set"; argv[#argv + 1] = kv end
  -- Hook (approvals issue): a second child `runbook plan SECTION -o DIR/plan`
  -- for the section's resolve steps belongs here, after this investigation.
  return argv
end

function R:start(run)
  run.dir = self.cfg.reports .. "/" .. run.id
  local ok, err = core.mkdir_private(run.dir)
  local pid
  if ok then pid, err = S.spawn(self:argv(run), run.dir .. "/run.json", run.dir .. "/run.log") end
  run.started, run.t0 = sys.time(), sys.clock_ms()
  if not pid then
    run.error = err
    return self:finish(run, 2, 0)
  end
  run.pid, run.state = pid, "running"
  self.running[pid] = run
  self.nrunning = self.nrunning + 1
end

--- dispatch(): starts queued runs while workers are free
function R:dispatch()
  while self.nrunning < self.cfg.workers and #self.queue > 0 and not self.closing do
    self:start(table.remove(self.queue, 1))
  end
  self.m:set("queue_depth", #self.queue)
  self.m:set("runs_running", self.nrunning)
end

local OUTCOME = { [0] = "ok", [1] = "failed", [2] = "error", [3] = "interrupted", [4] = "critical", [5] = "unknown" }

local function findings_of(doc)
  local by = {}
  for _, f in ipairs(type(doc) == "table" and type(doc.findings) == "table" and doc.findings or {}) do
    if type(f) == "table" and type(f.level) == "string" then by[f.level] = (by[f.level] or 0) + 1 end
  end
  return by
end

function R:summary(run)
  return { id = run.id, section = run.section, target = run.target, state = run.state, exit = run.exit,
    outcome = run.outcome, findings = run.findings or {}, run = run.child_run, alerts = run.alerts,
    alertname = run.alertname, error = run.error, created = run.created, started = run.started,
    finished = run.finished, seconds = run.seconds, resolved = run.resolved, recovered_from = run.recovered_from,
    report = run.dir and { markdown = run.id .. "/report.md", json = run.id .. "/report.json",
      html = run.id .. "/report.html", output = run.id .. "/run.json", log = run.id .. "/run.log" } }
end

function R:finish(run, code, sig)
  local m = self.m
  run.finished = sys.time()
  run.seconds = (sys.clock_ms() - (run.t0 or sys.clock_ms())) / 1000
  run.exit = code >= 0 and code or nil
  run.outcome = run.timed_out and "timeout" or run.interrupted and "interrupted"
    or (sig ~= 0 and "killed") or OUTCOME[code] or "failed"
  run.state = (run.outcome == "ok" or run.outcome == "critical" or run.outcome == "unknown") and "done"
    or run.outcome
  if run.dir then
    local text = read_file(run.dir .. "/run.json", 16 * 1048576)
    local ok, doc = pcall(cjson.decode, text or "")
    run.findings = findings_of(ok and doc)
    run.child_run = ok and type(doc) == "table" and doc.run or nil
    write_file(run.dir .. "/summary.json", cjson.encode(self:summary(run)) .. "\n")
  end
  for level, n in pairs(run.findings or {}) do m:add("findings_total", { level = level }, n) end
  m:add("runs_total", { section = run.section, outcome = run.outcome })
  m:observe(run.seconds)
  if self.active[run.key] == run then self.active[run.key] = nil end
  self:cool(run)
  if run.outcome ~= "interrupted" then self:journal { t = "end", id = run.id, state = run.state } end
  self:notify(run)
  self:evict()
end

function R:evict()
  while #self.order > self.cfg.keep_runs do
    local id = self.order[1]
    local run = self.by_id[id]
    if run.state == "queued" or run.state == "running" then break end
    table.remove(self.order, 1)
    self.by_id[id] = nil
  end
end

function R:notify(run)
  local n = self.cfg.notify
  if not n then return end
  local f = run.findings or {}
  local link = n.public_url and (n.public_url:gsub("/$", "") .. "/runs/" .. run.id) or (run.dir or run.id)
  local text = ("runbook: %s%s — %s (exit %s): %d critical, %d warning, %d unknown. Report: %s"):format(
    run.section, run.target ~= "" and (" [" .. run.target .. "]") or "", run.outcome, tostring(run.exit),
    f.critical or 0, f.warning or 0, f.unknown or 0, link)
  local pid = S.notify(n.url, cjson.encode { text = text }, (n.timeout or 5) * 1000)
  if pid then self.notifying[pid] = run.id end
end

--- reap(): finished children, and the time limit of the running ones
function R:reap()
  while true do
    local pid, code, sig = S.reap()
    if not pid then break end
    local run = self.running[pid]
    if run then
      self.running[pid] = nil
      self.nrunning = self.nrunning - 1
      self:finish(run, code, sig)
    elseif self.notifying[pid] then
      self.m:add("notifications_total", { ok = tostring(code == 0) })
      self.notifying[pid] = nil
    end
  end
  local now = sys.clock_ms()
  for pid, run in pairs(self.running) do
    if not run.killing and now - run.t0 > self.cfg.run_timeout * 1000 then
      run.timed_out, run.killing = true, now
      S.kill(pid, "TERM")
    elseif run.killing and now - run.killing > self.cfg.kill_grace * 1000 then
      S.kill(pid, "KILL")
    end
  end
end

--- shutdown(): no new runs; running ones get shutdown_grace seconds, then
--- are stopped (TERM, then KILL) and left in the journal to run again.
function R:shutdown()
  self.closing = true
  local deadline = sys.clock_ms() + self.cfg.shutdown_grace * 1000
  while self.nrunning > 0 and sys.clock_ms() < deadline do
    self:reap()
    sys.sleep_ms(50)
  end
  local stopped = {}
  for pid, run in pairs(self.running) do
    run.interrupted, run.killing = true, sys.clock_ms()
    stopped[#stopped + 1] = run.id
    S.kill(pid, "TERM")
  end
  while self.nrunning > 0 do
    self:reap()
    sys.sleep_ms(50)
  end
  return stopped, #self.queue
end

--- list() -> summaries, newest first
function R:list()
  local out = {}
  for i = #self.order, 1, -1 do out[#out + 1] = self:summary(self.by_id[self.order[i]]) end
  return out
end

--- get(id) -> summary | nil (runs evicted from memory are read from their summary.json)
function R:get(id)
  if self.by_id[id] then return self:summary(self.by_id[id]) end
  if not M.valid_id(id) then return nil end
  local text = read_file(self.cfg.reports .. "/" .. id .. "/summary.json", 1048576)
  local ok, doc = pcall(cjson.decode, text or "")
  return ok and doc or nil
end

return M
