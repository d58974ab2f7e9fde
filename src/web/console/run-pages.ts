import { jobStatesText, type RunFilter, type RunRow } from "../../store/index.js";
import type { Principal } from "../auth/auth.js";
import { duration, html, page, pathOf, query, type SafeHtml, time } from "./html.js";
import { runDuration, selectionOf, selectionText } from "./model.js";

export const RUN_STATUSES = [
  "queued",
  "running",
  "passed",
  "failed",
  "cancelled",
  "error",
  "interrupted",
] as const;

export const user = (p: Principal) => ({
  actor: p.actor,
  csrf: p.csrf,
  ...(p.notices?.length ? { notices: p.notices } : {}),
});

export function badge(state: string): SafeHtml {
  return html`<span class="badge s-${/^[a-z_]+$/.test(state) ? state : "unknown"}">${state.replace("_", " ")}</span>`;
}

export const shortSha = (sha: string) => sha.slice(0, 12);

export function runsListPage(o: {
  principal: Principal;
  filter: RunFilter;
  rows: RunRow[];
  states: Map<string, Record<string, number>>;
  offset: number;
  limit: number;
  more: boolean;
}): string {
  const f = o.filter;
  const q = (offset: number) =>
    query({ repo: f.repo, pr: f.pr, status: f.status, job: f.job, offset: offset || undefined });
  const rows = o.rows.map(
    (r) => html`<tr>
<td><a href="${pathOf("runs", r.id)}">${r.id}</a></td>
<td>${r.repo}</td>
<td>${r.pr ?? "—"}</td>
<td><code title="${r.sha}">${shortSha(r.sha)}</code></td>
<td>${r.authorized_by ?? "—"}</td>
<td>${selectionText(selectionOf(r))}</td>
<td>${badge(r.status)}</td>
<td>${jobStatesText(o.states.get(r.id))}</td>
<td>${time(r.created_at)}</td>
<td>${duration(runDuration(r))}</td></tr>`,
  );
  const opt = (s: string) =>
    html`<option value="${s}"${f.status === s ? html` selected` : ""}>${s}</option>`;
  return page({
    title: "Runs",
    current: "runs",
    user: user(o.principal),
    body: html`<h1>Runs</h1>
<form class="filters" method="get" action="/runs" role="search" aria-label="Filter runs">
<label>Repository <input name="repo" value="${f.repo ?? ""}" autocomplete="off"></label>
<label>PR <input name="pr" value="${f.pr ?? ""}" inputmode="numeric" pattern="[0-9]*" size="6"></label>
<label>Status <select name="status"><option value="">any</option>${RUN_STATUSES.map(opt)}</select></label>
<label>Job <input name="job" value="${f.job ?? ""}" autocomplete="off"></label>
<button type="submit">Filter</button> <a href="/runs">Clear</a></form>
${
  o.rows.length === 0
    ? html`<p>No runs${f.repo || f.pr || f.status || f.job ? " match these filters" : " yet: start one with <code>airlock run</code>"}.</p>`
    : html`<div class="scroll"><table class="runs"><caption class="sr">Runs, newest first</caption>
<thead><tr><th scope="col">Run</th><th scope="col">Repository</th><th scope="col">PR</th><th scope="col">Head</th><th scope="col">Authorised by</th><th scope="col">Selection</th><th scope="col">Status</th><th scope="col">Jobs</th><th scope="col">Created</th><th scope="col">Duration</th></tr></thead>
<tbody>${rows}</tbody></table></div>`
}
<nav class="pager" aria-label="Pages">${o.offset > 0 ? html`<a href="/runs${q(Math.max(0, o.offset - o.limit))}" rel="prev">Newer</a>` : ""}
${o.more ? html`<a href="/runs${q(o.offset + o.limit)}" rel="next">Older</a>` : ""}</nav>`,
  });
}

export function messagePage(p: Principal, title: string, message: string, back: string): string {
  return page({
    title,
    current: "runs",
    user: user(p),
    body: html`<h1>${title}</h1><p class="notice" role="status">${message}</p><p><a href="${back}">Back to the run</a></p>`,
  });
}

export function notFoundPage(p: Principal | undefined, what: string): string {
  return page({
    title: "Not found",
    ...(p ? { user: user(p) } : {}),
    body: html`<h1>Not found</h1><p>${what}</p><p><a href="/runs">All runs</a></p>`,
  });
}
