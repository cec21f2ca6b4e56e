-- rb.report_html — the run document as one self-contained HTML file: inline
-- CSS, a few lines of inline JS (sorting tables by a header click; the page
-- reads the same without it), inline SVG (rb.svg), no external resource at
-- all (a Content-Security-Policy of default-src 'none' makes the browser
-- refuse one if it ever slipped in), printable. Every text is escaped here;
-- the caller (rb.report.render) passes the whole page through the redactor.
--
-- Sections: header (section, who, when, mode, exit, audit file and the
-- run's first/last hash), findings (sortable, levels coloured), timeline
-- (steps on a time axis, fixes marked), each step (start, duration, checks,
-- notes, charts, logs, plan with SQL/target/diff, approval and result,
-- verification before -> after, profiles and flame graphs), audit events.
local svg = require "rb.svg"
local fmt = require "rb.report_fmt"
local facts = require "rb.report_facts"
local rjson = require "rb.report_json"

local sys = require "rb._sys"

local M = {}
-- every text is redacted on its own (the redactor sees it as it was written),
-- then escaped; the whole page is redacted once more by rb.report.render
local function esc(s) return svg.esc(sys.redact(tostring(s))) end
local function redact(s) return s and sys.redact(tostring(s)) end

-- Flame graphs are inlined only when small and free of anything active.
M.MAX_INLINE_SVG = 4 * 1024 * 1024
M.MAX_TEXT_LINES = 400   -- goroutine dumps and logs shown in full up to this
M.LAZY_STEPS = 40        -- past this many steps, off-screen steps are laid out lazily

local CSS = [[
:root{--crit:#c62828;--warn:#b26a00;--good:#2e7d32;--unk:#6d6d6d;--line:#ddd}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1100px;
padding:16px 24px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;border-bottom:2px solid #333;margin-top:28px}
h3{font-size:16px;margin:0}code,pre{font:12px/1.4 ui-monospace,Menlo,Consolas,monospace}
pre{background:#f6f8fa;border:1px solid var(--line);padding:8px;overflow-x:auto;white-space:pre-wrap}
table{border-collapse:collapse;margin:8px 0;width:100%}th,td{border:1px solid var(--line);padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f0f0f0}table.sortable th{cursor:pointer}
table.sortable th:after{content:" \2195";color:#aaa}td.num{text-align:right;white-space:nowrap}
.lvl{font-weight:bold;text-transform:uppercase;font-size:12px;padding:1px 6px;border-radius:3px;color:#fff}
.lvl-critical .lvl,.lvl.critical{background:var(--crit)}.lvl-warning .lvl,.lvl.warning{background:var(--warn)}
.lvl-good .lvl,.lvl.good{background:var(--good)}.lvl-unknown .lvl,.lvl.unknown{background:var(--unk)}
tr.lvl-critical{background:#fdecea}tr.lvl-warning{background:#fff4e0}
dl.head{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}dl.head dt{color:#555}
dl.head dd{margin:0}.banner{padding:6px 10px;margin:8px 0;border-radius:4px;font-weight:bold}
.banner.dry{background:#e3f2fd;color:#0d47a1}.banner.bad{background:#fdecea;color:var(--crit)}
.banner.ok{background:#e8f5e9;color:var(--good)}
section.step{border:1px solid var(--line);border-left:5px solid #90a4ae;padding:8px 12px;margin:14px 0;
page-break-inside:avoid}section.step.failed{border-left-color:var(--crit)}
section.step.resolve{border-left-color:#1f77b4}
body.long section.step{content-visibility:auto;contain-intrinsic-size:auto 320px}.meta{color:#555;font-size:13px;margin:2px 0 8px}
ol.plan li{margin-bottom:8px}.diff .add{color:#1b5e20;background:#e8f5e9}.diff .del{color:#b71c1c;background:#fdecea}
.diff .hunk{color:#6a1b9a}figure{margin:8px 0}svg{max-width:100%;height:auto}
.counts span{margin-right:12px}table.audit-events td:first-child{white-space:nowrap}ul.attachments{list-style:none;padding-left:0}.hash{font-size:11px;word-break:break-all}
@media print{body{max-width:none;padding:0}section.step{break-inside:avoid;content-visibility:visible}details{display:block}
details>summary{display:none}a{color:inherit;text-decoration:none}}
]]

local JS = [[
document.querySelectorAll("table.sortable").forEach(function(t){
  t.querySelectorAll("th").forEach(function(th,i){
    th.addEventListener("click",function(){
      var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows),asc=th.dataset.dir!=="asc";
      t.querySelectorAll("th").forEach(function(h){delete h.dataset.dir});th.dataset.dir=asc?"asc":"desc";
      rows.sort(function(a,b){
        var x=a.cells[i].dataset.sort!==undefined?a.cells[i].dataset.sort:a.cells[i].textContent,
            y=b.cells[i].dataset.sort!==undefined?b.cells[i].dataset.sort:b.cells[i].textContent,
            nx=parseFloat(x),ny=parseFloat(y),c;
        if(!isNaN(nx)&&!isNaN(ny)&&String(nx)===String(x).trim()&&String(ny)===String(y).trim())c=nx-ny;
        else c=String(x).localeCompare(String(y));
        return asc?c:-c});
      rows.forEach(function(r){body.appendChild(r)})})})});
]]

local CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
  .. "form-action 'none'; base-uri 'none'"

local RANK = { critical = 4, warning = 3, unknown = 2, good = 1 }

local function lvl(level)
  level = level or "unknown"
  return ('<span class="lvl %s">%s</span>'):format(esc(level), esc(level))
end

local function num_cell(v, unit)
  local sort = type(v) == "number" and v == v and ("%.17g"):format(v) or ""
  return ('<td class="num" data-sort="%s">%s</td>'):format(esc(sort), esc(fmt.num(v, unit)))
end

local function findings_table(out, list, id, with_step)
  if #list == 0 then return end
  out[#out + 1] = ('<table class="findings sortable"%s><thead><tr>%s<th>check</th><th>value</th><th>warn</th>'
    .. '<th>crit</th><th>level</th><th>detail</th></tr></thead><tbody>'):format(id and (' id="' .. id .. '"') or "",
      with_step and "<th>step</th>" or "")
  for _, f in ipairs(list) do
    out[#out + 1] = ('<tr class="finding lvl-%s" data-name="%s">%s<td>%s</td>%s%s%s<td data-sort="%d">%s</td><td>%s</td></tr>')
      :format(esc(f.level or "unknown"), esc(f.name or ""), with_step and ("<td>" .. esc(f.step or "") .. "</td>") or "",
        esc(f.name or "?"), num_cell(f.value, f.unit), f.boolean and "<td></td>" or num_cell(f.warn, f.unit),
        f.boolean and "<td></td>" or num_cell(f.crit, f.unit), RANK[f.level] or 0, lvl(f.level), esc(f.detail or ""))
  end
  out[#out + 1] = "</tbody></table>"
end

local function counts(d)
  local n = { critical = 0, warning = 0, good = 0, unknown = 0 }
  for _, f in ipairs(d.findings or {}) do n[f.level] = (n[f.level] or 0) + 1 end
  return ('<p class="counts"><span>%s %d</span><span>%s %d</span><span>%s %d</span><span>%s %d</span></p>')
    :format(lvl("critical"), n.critical, lvl("warning"), n.warning, lvl("unknown"), n.unknown, lvl("good"), n.good)
end

local function dl(out, rows)
  out[#out + 1] = '<dl class="head">'
  for _, r in ipairs(rows) do
    if r[2] then out[#out + 1] = ("<dt>%s</dt><dd>%s</dd>"):format(esc(r[1]), r[2]) end
  end
  out[#out + 1] = "</dl>"
end

local function header(out, d, audit, pfx)
  out[#out + 1] = ('<header><h1>%s%s</h1>'):format(esc(d.section or "?"), d.title and (" — " .. esc(d.title)) or "")
  if d.dry_run then out[#out + 1] = '<div class="banner dry">DRY RUN — nothing was changed</div>' end
  local bad = d.exit and d.exit ~= 0
  out[#out + 1] = ('<div class="banner %s">exit %s: %s</div>'):format(bad and "bad" or "ok", esc(fmt.num(d.exit)),
    esc(facts.exit_text(d.exit)))
  dl(out, {
    { "run", ("<code>%s</code>"):format(esc(d.run or "?")) },
    { "who", esc(("%s@%s"):format(d.user or "?", d.host or "?")) },
    { "when", esc(("%s → %s (%s)"):format(fmt.time(d.started), fmt.time(d.ended),
      d.started and d.ended and fmt.duration((d.ended - d.started) * 1000) or "n/a")) },
    { "mode", esc(facts.mode(d)) },
    { "params", next(d.params or {}) and ("<code>%s</code>"):format(esc(rjson.encode(d.params))) or nil },
    { "audit", ("<code>%s</code> (verify: <code>runbook audit verify %s</code>)"):format(esc(d.audit or "?"),
      esc(d.audit or "?")) },
    { "first hash", audit and audit.first and ('<code class="hash" id="%sfirst-hash">%s</code>'):format(pfx, esc(audit.first)) },
    { "last hash", audit and audit.last and ('<code class="hash" id="%slast-hash">%s</code> (%d events)')
      :format(pfx, esc(audit.last), #audit.events) },
    { "run directory", d.dir and ("<code>%s</code>"):format(esc(d.dir)) },
    { "source", d.rebuilt and "rebuilt from the audit log alone: logs, charts and diffs are not in it" },
  })
  out[#out + 1] = counts(d) .. "</header>"
end

local function step_rows(d, prefix)
  local rows = {}
  for i, s in ipairs(d.steps or {}) do
    local t0 = s.started
    rows[#rows + 1] = { label = (prefix or "") .. s.title, t0 = t0, t1 = t0 and s.ms and t0 + s.ms / 1000 or t0,
      class = s.ok == false and "failed" or s.applied and "applied" or s.plan and "planned" or "ok",
      title = ("%s: %s, %s"):format(s.title, facts.status(s), fmt.duration(s.ms)), n = i }
  end
  return rows
end

local function timeline(out, d, audit, pfx)
  local rows = step_rows(d)
  if #rows == 0 then return end
  out[#out + 1] = ('<h2 id="%stimeline">Timeline</h2><figure class="timeline">'):format(pfx)
  out[#out + 1] = svg.timeline(rows, { title = "steps of run " .. tostring(d.run), markers = facts.markers(d, audit) })
  out[#out + 1] = "</figure>"
end

local function diff_block(text)
  local lines = {}
  for line in (text .. "\n"):gmatch("(.-)\n") do
    local c = line:sub(1, 1)
    local cls = (line:match("^%+%+%+") or line:match("^%-%-%-")) and "hunk" or c == "+" and "add"
      or c == "-" and "del" or line:match("^@@") and "hunk"
    lines[#lines + 1] = cls and ('<span class="%s">%s</span>'):format(cls, esc(line)) or esc(line)
  end
  return '<pre class="diff">' .. table.concat(lines, "\n") .. "</pre>"
end

local function action(out, i, a, result)
  out[#out + 1] = ('<li class="action" data-binding="%s" data-op="%s" data-target="%s"><code>%s.%s %s</code>%s')
    :format(esc(a.binding or ""), esc(a.op or ""), esc(a.target or ""), esc(a.binding or "?"), esc(a.op or "?"),
      esc(a.target or ""), a.simulable == false and " <em>(cannot be simulated: shown as planned, not validated)</em>" or "")
  local sql = facts.sql(a)
  if sql then out[#out + 1] = ('<pre class="sql">%s</pre>'):format(esc(sql))
  elseif a.args ~= nil then
    out[#out + 1] = ('<details><summary>arguments</summary><pre class="args">%s</pre></details>'):format(esc(rjson.encode(a.args)))
  end
  if a.simulated then out[#out + 1] = diff_block(a.simulated) end
  if result then
    out[#out + 1] = ('<div class="result %s">result: %s%s%s</div>'):format(result.ok and "ok" or "failed",
      result.ok and "ok" or "<b>FAILED</b>", result.ms and (" in " .. esc(fmt.duration(result.ms))) or "",
      result.error and (": " .. esc(result.error)) or "")
  end
  out[#out + 1] = "</li>"
end

local function plan(out, s, d, audit)
  if not s.plan then return end
  out[#out + 1] = ('<h4>Plan (%d action%s)</h4>'):format(#s.plan, #s.plan == 1 and "" or "s")
  if #s.plan == 0 then out[#out + 1] = "<p>No changes planned.</p>" end
  local results = facts.results(audit, s.title)
  out[#out + 1] = '<ol class="plan">'
  for i, a in ipairs(s.plan) do action(out, i, a, results[i]) end
  out[#out + 1] = "</ol>"
  out[#out + 1] = ('<p class="approval">Approved: <b>%s</b>. Applied: <b>%s</b>.</p>'):format(
    esc(facts.approval(s, d)), s.applied and "yes" or "no")
end

local function verify(out, v)
  if not v or not v.after then return end
  out[#out + 1] = ('<h4>Verification: %s</h4><table class="verify"><thead><tr><th>check</th><th>before</th>'
    .. '<th>after</th><th>level</th></tr></thead><tbody>'):format(v.ok and "the fix holds" or "<b>NOT verified</b>")
  for _, r in ipairs(facts.before_after(v)) do
    out[#out + 1] = ('<tr class="lvl-%s"><td>%s</td>%s%s<td>%s%s</td></tr>'):format(esc(r.level or "unknown"),
      esc(r.name or "?"), num_cell(r.before, r.unit), num_cell(r.after, r.unit), lvl(r.level),
      r.err and (" " .. esc(r.err)) or "")
  end
  out[#out + 1] = "</tbody></table>"
end

local function read_file(path, max)
  local f = io.open(path, "rb")
  if not f then return nil, "cannot be read" end
  local data = f:read(max + 1)
  f:close()
  if data and #data > max then return nil, "too large to inline" end
  return data or ""
end

-- The engine's flame graph SVG, inline; nil, why when it is not safe to.
function M.inline_svg(text)
  text = text:gsub("^%s*<%?xml.-%?>%s*", ""):gsub("^<!DOCTYPE.->%s*", "")
  local l = text:lower()
  if not l:find("^<svg[%s>]") then return nil, "not an SVG document" end
  for _, bad in ipairs { "<script", "foreignobject", "href", "url%(", "<!entity", "<iframe", "<style",
    "<image", "<use", "%son%a+%s*=", "javascript:" } do
    if l:find(bad) then return nil, "holds active content" end
  end
  -- colons as character references, as esc() does (function names like a::b)
  return (text:gsub(":", "&#58;"))
end

local function attachment(out, a)
  local name = esc(a.name or "?")
  local where = ('<code>%s</code>'):format(esc(a.path or "?"))
  if a.kind == "pprof" then
    out[#out + 1] = ('<li class="attachment pprof">profile <a href="file://%s">%s</a>: %s — '
      .. '<code>go tool pprof %s</code></li>'):format(esc(a.path or ""), name, where, esc(a.path or ""))
    return
  end
  local data, why = read_file(a.path or "", a.kind == "svg" and M.MAX_INLINE_SVG or 256 * 1024)
  if a.kind == "svg" and data then
    local inl, bad = M.inline_svg(data)
    if inl then
      out[#out + 1] = ('<li class="attachment svg"><figure class="flamegraph" data-name="%s">%s<figcaption>%s (%s)'
        .. '</figcaption></figure></li>'):format(name, inl, name, where)
      return
    end
    why = bad
  elseif a.kind == "goroutines" and data then
    local lines, n = {}, 0
    for line in data:gmatch("[^\n]*") do
      n = n + 1
      if n <= M.MAX_TEXT_LINES then lines[#lines + 1] = line end
    end
    out[#out + 1] = ('<li class="attachment goroutines"><details><summary>%s (%s)</summary><pre>%s%s</pre></details></li>')
      :format(name, where, esc(table.concat(lines, "\n")), n > M.MAX_TEXT_LINES and "\n…" or "")
    return
  end
  out[#out + 1] = ('<li class="attachment">%s: %s%s</li>'):format(name, where, why and (" (" .. esc(why) .. ")") or "")
end

-- a chart with its texts redacted (rb.svg escapes, it does not redact)
local function redacted_chart(c)
  local series = {}
  for i, x in ipairs(c.series or {}) do series[i] = { name = redact(x.name), points = x.points, total = x.total } end
  return { title = redact(c.title), unit = redact(c.unit), warn = c.warn, crit = c.crit, series = series,
    points = not c.series and c.points or nil }
end

local function charts(out, s, markers)
  for _, c in ipairs(s.charts or {}) do
    out[#out + 1] = ('<figure class="chart" data-title="%s">%s</figure>'):format(esc(c.title or ""),
      svg.chart(redacted_chart(c), { markers = markers }))
  end
end

local function step(out, i, s, d, audit, markers, pfx)
  local failed = s.ok == false
  out[#out + 1] = ('<section class="step %s%s" id="%sstep-%d" data-title="%s">'):format(esc(s.kind or "investigate"),
    failed and " failed" or "", pfx, i, esc(s.title or ""))
  out[#out + 1] = ('<h3>%s: %s%s</h3>'):format(s.kind == "resolve" and "Resolve" or "Investigate", esc(s.title or "?"),
    s.kind == "resolve" and s.risk and (" <small>(risk " .. esc(s.risk) .. ")</small>") or "")
  out[#out + 1] = ('<p class="meta">started %s · took %s · %s</p>'):format(esc(fmt.time(s.started)),
    esc(fmt.duration(s.ms)), esc(facts.status(s)))
  findings_table(out, s.findings or {})
  if s.notes and #s.notes > 0 then
    out[#out + 1] = '<ul class="notes">'
    for _, n in ipairs(s.notes) do out[#out + 1] = "<li>" .. esc(n) .. "</li>" end
    out[#out + 1] = "</ul>"
  end
  charts(out, s, markers)
  if s.logs and #s.logs > 0 then out[#out + 1] = '<pre class="logs">' .. esc(table.concat(s.logs, "\n")) .. "</pre>" end
  plan(out, s, d, audit)
  verify(out, s.verify)
  if s.attachments and #s.attachments > 0 then
    out[#out + 1] = '<h4>Saved files</h4><ul class="attachments">'
    for _, a in ipairs(s.attachments) do attachment(out, a) end
    out[#out + 1] = "</ul>"
  end
  if failed then out[#out + 1] = ('<p class="error"><b>Failed:</b> %s</p>'):format(esc(s.error or "?")) end
  out[#out + 1] = "</section>"
end

local function audit_table(out, audit, pfx)
  if not audit or #audit.events == 0 then return end
  out[#out + 1] = ('<h2 id="%saudit">Audit events (%d)</h2><table id="%saudit-events" class="audit-events sortable">'
    .. '<thead><tr><th>time (UTC)</th><th>event</th><th>step</th><th>what</th><th>line</th></tr></thead><tbody>')
    :format(pfx, #audit.events, pfx)
  for _, e in ipairs(audit.events) do
    out[#out + 1] = ('<tr class="ev-%s" title="hash %s"><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class="num">%s</td></tr>')
      :format(esc(e.event or "?"), esc(e.hash or ""), esc(e.ts or "?"), esc(e.event or "?"), esc(e.step or ""),
        esc(facts.event_text(e)), esc(e.line or ""))
  end
  out[#out + 1] = "</tbody></table>"
end

-- one run's body (used alone and by the several-runs page)
-- pfx: a prefix for element ids, so several runs can share one page
local function run_body(out, d, audit, pfx)
  header(out, d, audit, pfx)
  out[#out + 1] = ('<h2 id="%sfindings-h">Findings</h2>'):format(pfx)
  findings_table(out, d.findings or {}, pfx .. "findings", true)
  if #(d.findings or {}) == 0 then out[#out + 1] = "<p>No checks recorded.</p>" end
  timeline(out, d, audit, pfx)
  out[#out + 1] = ('<h2 id="%ssteps">Steps</h2>'):format(pfx)
  local markers = facts.markers(d, audit)
  for i, s in ipairs(d.steps or {}) do step(out, i, s, d, audit, markers, pfx) end
  audit_table(out, audit, pfx)
end

-- long: many steps; those off screen are laid out lazily (content-visibility)
local function page(title, body, long)
  return table.concat({ "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
    ('<meta http-equiv="Content-Security-Policy" content="%s">'):format(CSP),
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    ("<title>%s</title>"):format(esc(title)), "<style>" .. CSS .. "</style></head>",
    long and '<body class="long">' or "<body>",
    body, "<footer><p class=\"meta\">runbook report · generated " .. esc(fmt.time(os.time())) .. "</p></footer>",
    "<script>" .. JS .. "</script></body></html>", "" }, "\n")
end

--- render(doc, {audit}) -> HTML text of one run
function M.render(d, opts)
  local out = {}
  run_body(out, d, opts.audit, "")
  return page(("runbook %s — run %s"):format(d.section or "?", d.run or "?"), table.concat(out, "\n"),
    #(d.steps or {}) > M.LAZY_STEPS)
end

--- render_many({ {doc, audit}, ... }, title) -> one page: every run on one
--- timeline, then each run's report
function M.render_many(runs, title)
  local rows, marks = {}, {}
  for _, r in ipairs(runs) do
    local d = r.doc
    rows[#rows + 1] = { label = ("%s %s"):format(tostring(d.run):sub(1, 8), d.section or "?"), t0 = d.started,
      t1 = d.ended, class = "run", title = ("run %s: exit %s"):format(d.run, tostring(d.exit)) }
    for _, sr in ipairs(step_rows(d, "  ")) do rows[#rows + 1] = sr end
    for _, m in ipairs(facts.markers(d, r.audit)) do marks[#marks + 1] = m end
  end
  local out = { ("<h1>%s</h1>"):format(esc(title)), ('<p>%d run(s).</p><ul class="runs">'):format(#runs) }
  for i, r in ipairs(runs) do
    out[#out + 1] = ('<li><a href="#run-%d">%s</a> %s — %s, exit %s</li>'):format(i, esc(r.doc.run or "?"),
      esc(r.doc.section or "?"), esc(fmt.time(r.doc.started)), esc(fmt.num(r.doc.exit)))
  end
  out[#out + 1] = '</ul><figure class="timeline">' .. svg.timeline(rows, { title = title, markers = marks }) .. "</figure>"
  for i, r in ipairs(runs) do
    out[#out + 1] = ('<article class="run" id="run-%d">'):format(i)
    run_body(out, r.doc, r.audit, ("r%d-"):format(i))
    out[#out + 1] = "</article>"
  end
  local n = 0
  for _, r in ipairs(runs) do n = n + #(r.doc.steps or {}) end
  return page(title, table.concat(out, "\n"), n > M.LAZY_STEPS)
end

return M
