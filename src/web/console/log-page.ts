// The log view of one job: a page of lines with numbers and colours, a pager, search, the
// download link, and (at the tail of a running job) the hook the script uses to stream new lines.
import { type JobRow, jobEgress, type RunRow } from "../../store/index.js";
import type { Principal } from "../auth/auth.js";
import { egressSection } from "./egress-section.js";
import { duration, html, page, pathOf, query, trusted } from "./html.js";
import { lineHtml } from "./lines.js";
import type { LogLine, Page, SearchResult } from "./log-reader.js";
import { FINAL_JOB_STATES, jobDuration } from "./model.js";
import { badge, user } from "./run-pages.js";

export function logPage(o: {
  principal: Principal;
  run: RunRow;
  job: JobRow;
  page: Page;
  from: number;
  pageLines: number;
  search?: { q: string; result: SearchResult };
  /** When each line of the page was written (logs written before timestamps have none). */
  times?: ReadonlyMap<number, number>;
  /** Timestamps shown. */
  stamps?: boolean;
}): string {
  const { run, job, page: pg } = o;
  const base = pathOf("runs", run.id, "jobs", job.job_id);
  const final = FINAL_JOB_STATES.has(job.state);
  const atTail = pg.nextLine > pg.totalLines;
  const live = !final && atTail;
  const prev = Math.max(1, o.from - o.pageLines);
  const ts = o.stamps ? 1 : undefined;
  const hasTimes = (o.times?.size ?? 0) > 0;
  const lastStart = Math.max(1, pg.totalLines - o.pageLines + 2);
  const pager = html`<nav class="pager" aria-label="Log pages">
${o.from > 1 ? html`<a href="${base}${query({ from: 1, ts })}">First</a> <a href="${base}${query({ from: prev, ts })}" rel="prev">Previous</a>` : ""}
${!atTail ? html`<a href="${base}${query({ from: pg.nextLine, ts })}" rel="next">Next</a> <a href="${base}${query({ from: lastStart, ts })}">Last</a>` : ""}
</nav>`;
  const search = o.search;
  const matches = (lines: LogLine[]) =>
    lines.map(
      (l) =>
        html`<li><a href="${base}${query({ from: Math.max(1, l.n - 20) })}#L${l.n}">Line ${l.n}</a><div class="log">${trusted(lineHtml(l))}</div></li>`,
    );
  return page({
    title: `${job.job_id} · run ${run.id}`,
    current: "runs",
    user: user(o.principal),
    body: html`<nav aria-label="Breadcrumb" class="crumbs"><a href="/runs">Runs</a> › <a href="${pathOf("runs", run.id)}">${run.id}</a> › <span aria-current="page">${job.job_id}</span></nav>
<h1>${job.job_id} ${badge(job.state)}</h1>
<p class="meta">${job.restricted ? html`<span class="tag">restricted</span> ` : ""}Duration ${duration(jobDuration(job))} · ${pg.totalLines} lines · ${Math.ceil(pg.size / 1024)} KiB ·
<a href="${base}/log.txt" download>Download the log</a>${
      hasTimes && !search
        ? html` · <a class="stamps-toggle" href="${base}${query({ from: o.from, ts: o.stamps ? undefined : 1 })}">${o.stamps ? "Hide timestamps" : "Show timestamps"}</a>`
        : ""
    }</p>
${egressSection(jobEgress(job))}
<form class="filters" method="get" action="${base}" role="search" aria-label="Search this log">
<label>Search <input type="search" name="q" value="${search?.q ?? ""}" required></label> <button type="submit">Search</button>
${search ? html` <a href="${base}">Close search</a>` : ""}</form>
${
  search
    ? html`<section aria-labelledby="res"><h2 id="res">Lines containing “${search.q}”</h2>
${search.result.matches.length ? html`<ol class="matches">${matches(search.result.matches)}</ol>` : html`<p>No ${o.search?.result.next ? "more " : ""}matches.</p>`}
${search.result.next ? html`<p><a href="${base}${query({ q: search.q, line: search.result.next.line, byte: search.result.next.byte })}">More results</a></p>` : ""}</section>`
    : html`${pager}
<div id="log" class="log${o.stamps ? " stamps" : ""}" role="log" aria-label="Log of ${job.job_id}" data-stream="${live ? `${base}/log/stream${query({ line: pg.nextLine, byte: pg.endByte })}` : ""}">${trusted(pg.lines.map((l) => lineHtml(l, o.times?.get(l.n))).join(""))}</div>
${live ? html`<p id="live" class="live" role="status">Live: new lines appear as the job prints them.</p>` : ""}
${pg.lines.length === 0 && !live ? html`<p>This job printed nothing.</p>` : ""}
${pager}`
}`,
  });
}
