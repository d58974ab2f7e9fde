// The console's one script and one style sheet, served from memory (no build step, no files to
// copy). The script only adds comfort: folding sections, live lines, jumping to a line, short
// filter links. Every page works without it. It inserts only HTML the server rendered and escaped.

export const CONSOLE_JS = `"use strict";
(function () {
  function foldFrom(start, open) {
    var depth = 0;
    for (var el = start.nextElementSibling; el; el = el.nextElementSibling) {
      var g = el.getAttribute("data-group");
      if (g === "start") depth++;
      if (g === "end") { if (depth === 0) { el.hidden = !open; break; } depth--; }
      el.hidden = !open;
      if (open && g === "start") {
        var b = el.querySelector(".tog");
        if (b) b.setAttribute("aria-expanded", "true");
      }
    }
  }
  document.addEventListener("click", function (ev) {
    var t = ev.target;
    if (!(t instanceof Element) || !t.classList.contains("tog")) return;
    var open = t.getAttribute("aria-expanded") !== "true";
    t.setAttribute("aria-expanded", open ? "true" : "false");
    t.setAttribute("aria-label", open ? "Fold section" : "Unfold section");
    t.textContent = open ? "\\u25BE" : "\\u25B8";
    foldFrom(t.closest(".l"), open);
  });

  // Filter forms leave their empty fields out of the address: a filtered view's link stays short.
  document.addEventListener("submit", function (ev) {
    var f = ev.target;
    if (!(f instanceof HTMLFormElement) || !f.classList.contains("filters") || f.method !== "get") return;
    var q = new URLSearchParams();
    new FormData(f).forEach(function (v, k) { if (v !== "") q.append(k, String(v)); });
    ev.preventDefault();
    var s = q.toString();
    location.assign(f.action.split("?")[0] + (s ? "?" + s : ""));
  });

  var log = document.getElementById("log");
  if (!log) return;

  var m = /^#L(\\d+)$/.exec(location.hash);
  if (m && !document.getElementById("L" + m[1])) {
    var u = new URL(location.href);
    u.searchParams.set("from", String(Math.max(1, Number(m[1]) - 20)));
    u.searchParams.delete("q");
    location.replace(u.pathname + u.search + location.hash);
    return;
  }

  var src = log.getAttribute("data-stream");
  if (!src || typeof EventSource === "undefined") return;
  var status = document.getElementById("live");
  var es = new EventSource(src);
  es.addEventListener("lines", function (ev) {
    var atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
    var lines = JSON.parse(ev.data);
    var html = "";
    for (var i = 0; i < lines.length; i++) html += lines[i].html;
    log.insertAdjacentHTML("beforeend", html);
    if (atBottom) window.scrollTo(0, document.body.scrollHeight);
  });
  es.addEventListener("end", function () {
    es.close();
    if (status) status.textContent = "The job has finished.";
  });
  es.addEventListener("error", function () {
    if (status && es.readyState === 2) status.textContent = "Live updates stopped: reload the page.";
  });
})();
`;

export const CONSOLE_CSS = `:root{--fg:#1b1f24;--bg:#fff;--muted:#57606a;--line:#d0d7de;--link:#0550ae;--focus:#bf5700}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--link)}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.skip{position:absolute;left:-999px;top:0;background:#fff;padding:.5em}
.skip:focus{left:.5em;z-index:10}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.top{display:flex;flex-wrap:wrap;gap:.5em 1.5em;align-items:center;padding:.6em 1em;background:#24292f;color:#fff}
.top a{color:#fff}
.notice{margin:0;padding:.6em 1em;background:#fff8c5;color:#3b2300;border-bottom:2px solid #d4a72c;font-weight:600}
.brand{font-weight:700;text-decoration:none}
.top nav ul{display:flex;gap:1em;list-style:none;margin:0;padding:0}
.top [aria-current=page]{text-decoration:underline 3px}
.signout{margin-left:auto;display:flex;gap:.5em;align-items:center}
main{padding:1em;max-width:80rem;margin:0 auto}
h1{font-size:1.5rem;margin:.3em 0 .6em}
h2{font-size:1.2rem}
h3{font-size:1rem;margin:.4em 0}
code,pre,.log{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
button,.button,input,select{font:inherit;padding:.35em .7em;border:1px solid var(--line);border-radius:6px;background:#f6f8fa;color:var(--fg)}
button,.button{cursor:pointer;text-decoration:none;display:inline-block}
input{background:#fff;max-width:100%}
.stack{display:flex;flex-direction:column;gap:.5em;max-width:28rem}
.filters{display:flex;flex-wrap:wrap;gap:.6em 1em;align-items:end;margin-bottom:1em}
.filters label{display:flex;flex-direction:column;font-size:.9rem;color:var(--muted)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{text-align:left;padding:.4em .6em;border-bottom:1px solid var(--line);vertical-align:top}
.badge{display:inline-block;padding:0 .5em;border-radius:1em;font-size:.85rem;font-weight:600;background:#eaeef2;color:#24292f}
.s-passed{background:#dafbe1;color:#116329}
.s-failed,.s-error,.s-timed_out{background:#ffebe9;color:#a40e26}
.s-running,.s-queued,.s-pending{background:#fff8c5;color:#6c4400}
.s-cancelled,.s-skipped,.s-interrupted{background:#eaeef2;color:#57606a}
.tag{font-size:.8rem;border:1px solid #8250df;color:#8250df;border-radius:4px;padding:0 .4em}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2em 1em;margin:.5em 0}
.facts dt{color:var(--muted)}
.facts dd{margin:0;overflow-wrap:anywhere}
.levels{padding-left:1.2em}
.jobs{list-style:none;padding:0;display:grid;gap:.6em}
.job{border:1px solid var(--line);border-radius:6px;padding:.6em .8em}
.jobhead{display:flex;flex-wrap:wrap;gap:.5em;align-items:center}
.desc{margin:.3em 0 0;color:var(--muted)}
.dur{color:var(--muted);margin-left:auto}
.err{color:#a40e26;white-space:pre-wrap}
.grant{font-family:ui-monospace,monospace;font-size:.9rem}
.actions{display:flex;flex-wrap:wrap;gap:.6em}
.notice{padding:.6em .8em;border-radius:6px;background:#ddf4ff}
.notice.error{background:#ffebe9}
.meta{color:var(--muted)}
.pager{display:flex;gap:1em;margin:.6em 0}
.log{background:#0d1117;color:#e6edf3;font-size:.85rem;line-height:1.45;padding:.5em 0;border-radius:6px;overflow-x:auto}
.l{display:flex;white-space:pre-wrap;overflow-wrap:anywhere;padding-right:.8em}
.l:target{background:#3b2e00}
.l .n{flex:none;width:4.5em;text-align:right;padding-right:1em;color:#7d8590;text-decoration:none;user-select:none}
.l .t{flex:1}
.grp .t{font-weight:700}
.tog{background:none;border:0;color:#e6edf3;padding:0 .3em;line-height:1}
.ge{display:none}
.l[hidden]{display:none}
.cut{color:#d29922}
.matches{list-style:none;padding:0}
.matches .log{padding:.2em 0}
.live{color:var(--muted);font-size:.9rem}
.msg{white-space:pre-wrap;background:#f6f8fa;padding:.4em;margin:.3em 0 0;font-size:.85rem}
.suite{color:var(--muted)}
.failures{list-style:none;padding:0;display:grid;gap:.6em}
.failure{border-left:3px solid #cf222e;padding:.2em .8em}
.failure .msg{max-height:16em;overflow:auto}
.where{margin:.3em 0 0;font-size:.9rem}
.matrix{list-style:none}
.matrix summary{cursor:pointer;padding:.3em 0}
.matrix .jobs{margin-left:1em}
.timeline th,.timeline td{white-space:nowrap}
.timeline .axis{width:45%;min-width:12em}
.timeline th.axis span{float:right}
.bar{display:block;width:100%;height:1em}
.bar .needs{fill:#d0d7de}
.bar .queued{fill:#eac54f}
.bar .ran{fill:#8c959f}
.bar .s-passed{fill:#2da44e}
.bar .s-failed,.bar .s-error,.bar .s-timed_out{fill:#cf222e}
.bar .s-running{fill:#bf8700}
.ts{display:none;color:#7d8590;flex:none;padding-right:1em;user-select:none}
.stamps .ts{display:inline}
.f0{color:#484f58}.f1{color:#ff7b72}.f2{color:#3fb950}.f3{color:#d29922}.f4{color:#58a6ff}.f5{color:#bc8cff}.f6{color:#39c5cf}.f7{color:#b1bac4}
.f8{color:#6e7681}.f9{color:#ffa198}.f10{color:#56d364}.f11{color:#e3b341}.f12{color:#79c0ff}.f13{color:#d2a8ff}.f14{color:#56d4dd}.f15{color:#fff}
.b0{background:#484f58}.b1{background:#b62324}.b2{background:#196c2e}.b3{background:#7d4e00}.b4{background:#0d419d}.b5{background:#6e40c9}.b6{background:#1b7c83}.b7{background:#6e7681}
.b8{background:#6e7681}.b9{background:#da3633}.b10{background:#2ea043}.b11{background:#bb8009}.b12{background:#1f6feb}.b13{background:#8957e5}.b14{background:#3192aa}.b15{background:#b1bac4}
.bo{font-weight:700}.di{opacity:.7}.it{font-style:italic}.un{text-decoration:underline}
.field{display:flex;flex-direction:column;font-size:.9rem;color:var(--muted)}
.field.buttons{flex-direction:row;align-items:center;gap:.6em}
.hint{flex-basis:100%;margin:0;font-size:.85rem;color:var(--muted)}
.audit td{overflow-wrap:break-word}
.audit-filters select{max-width:24rem}
.inbox td{vertical-align:top}.inbox .paths,.inbox .rules{margin:0;padding-left:1.1em}.inbox form{margin:0}
.audit td:first-child,.audit td:nth-child(2),.audit td a,.audit .nw{white-space:nowrap}
@media (max-width:40rem){.audit-filters .field{flex:1 1 100%}.audit-filters input,.audit-filters select{width:100%}
.cards thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.cards,.cards tbody,.cards tr,.cards td{display:block;width:100%}
.cards tr{border:1px solid var(--line);border-radius:6px;margin:0 0 .6em;padding:.3em .6em}
.cards td{display:grid;grid-template-columns:6.5em 1fr;gap:.6em;border:0;padding:.15em 0;overflow-wrap:anywhere}
.cards td::before{content:attr(data-label);color:var(--muted)}
.cards td a,.cards .nw{white-space:normal}
.cards td:empty{display:none}}
@media (max-width:40rem){main{padding:.6em}.l .n{width:3em;padding-right:.5em}.facts{grid-template-columns:1fr}.facts dt{font-weight:600}}
`;
