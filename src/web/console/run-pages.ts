// The runs list and the run page. Every value goes through `html`, which escapes it.

import type { ArtifactManifest } from "../../artifacts/store.js";
import { endReason } from "../../pipeline/end-reason.js";
import {
  DESCRIPTIONS_NOTE,
  type JobRow,
  jobNotes,
  jobStatesText,
  type RunFilter,
  type RunRow,
} from "../../store/index.js";
import type { LastLines } from "../../store/log-text.js";
import type { Principal } from "../auth/auth.js";
import { artifactsSection } from "./artifacts-section.js";
import { duration, html, page, pathOf, query, type SafeHtml, time } from "./html.js";
import {
  descriptionsOf,
  forgeLinks,
  grantsOf,
  jobDuration,
  levels,
  needsOf,
  notesOf,
  runDuration,
  selectionOf,
  selectionText,
} from "./model.js";
import type { AuditItem } from "./types.js";

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

const shortSha = (sha: string) => sha.slice(0, 12);

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

/** A run note as words, never as JSON: lists joined, objects as "key: value" pairs. */
export function noteValue(v: unknown): string {
  if (typeof v === "string") return v;
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "number") return String(v);
  if (v === null || v === undefined) return "—";
  if (Array.isArray(v)) return v.map(noteValue).join("; ");
  if (typeof v === "object") {
    return Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${noteLabel(k).toLowerCase()}: ${noteValue(x)}`)
      .join(", ");
  }
  return String(v);
}

/** "public_summary" as "Public summary", "grants:unit" as "Secrets for unit". */
export function noteLabel(key: string): string {
  if (key.startsWith("grants:")) return `Secrets for ${key.slice(7)}`;
  const words = key.replace(/[_-]+/g, " ").trim();
  return words ? words[0]!.toUpperCase() + words.slice(1) : key;
}

function jobItem(
  run: RunRow,
  j: JobRow,
  lastLine: string | undefined,
  description: string | undefined,
): SafeHtml {
  const grants = grantsOf(j);
  const needs = needsOf(j);
  const tests = j.tests_passed + j.tests_failed + j.tests_skipped;
  // "exit code 2", "timed out after 5m", an error; the skip reason is "Why" already.
  const ended = j.state === "skipped" ? "" : endReason(j);
  return html`<li class="job">
<div class="jobhead"><a href="${pathOf("runs", run.id, "jobs", j.job_id)}">${j.job_id}</a> ${badge(j.state)}
${j.restricted ? html`<span class="tag" title="declares secret sets">restricted</span>` : ""}
<span class="dur">${duration(jobDuration(j))}</span></div>
${description ? html`<p class="desc">${description}</p>` : ""}
<dl class="facts">
${j.reason ? html`<dt>Why</dt><dd>${j.reason}</dd>` : ""}
${needs.length ? html`<dt>Needs</dt><dd>${needs.join(", ")}</dd>` : ""}
${
  grants.length
    ? html`<dt>Secrets granted</dt><dd>${grants.map((g) => html`<span class="grant">${g.set}${g.versions ? html` (${g.versions})` : ""}</span> `)}</dd>`
    : ""
}
${tests ? html`<dt>Tests</dt><dd>${j.tests_passed} passed, ${j.tests_failed} failed, ${j.tests_skipped} skipped</dd>` : ""}
${ended ? html`<dt>Ended</dt><dd class="${j.state === "passed" ? "" : "err"}">${ended}</dd>` : ""}
${lastLine ? html`<dt>Last line</dt><dd><a class="lastline" href="${pathOf("runs", run.id, "jobs", j.job_id)}${query({ q: lastLine.slice(0, 200) })}"><code>${lastLine}</code></a></dd>` : ""}
${jobNotes(j).map((n) => html`<dt>Note</dt><dd>${n}</dd>`)}
</dl></li>`;
}

function actionForm(
  run: RunRow,
  p: Principal,
  action: string,
  label: string,
  extra?: SafeHtml,
): SafeHtml {
  return html`<form method="post" action="${pathOf("runs", run.id, action)}">
<input type="hidden" name="_csrf" value="${p.csrf ?? ""}">${extra ?? ""}<button type="submit">${label}</button></form>`;
}

export function runPage(o: {
  principal: Principal;
  run: RunRow;
  jobs: JobRow[];
  lastLines?: LastLines;
  audit: AuditItem[];
  artifacts?: ArtifactManifest[];
  githubWebUrl?: string;
}): string {
  const { run, jobs, principal: p } = o;
  const links = forgeLinks(run, o.githubWebUrl);
  const notes = Object.entries(notesOf(run)).filter(([k]) => k !== DESCRIPTIONS_NOTE);
  const descriptions = descriptionsOf(run);
  const running = run.status === "queued" || run.status === "running";
  const anyFailed = jobs.some((j) =>
    ["failed", "timed_out", "error", "cancelled"].includes(j.state),
  );
  const stages = levels(jobs);
  // Actions act through the pull request (as its comments do): a local run has none, and each
  // button is there only when it can do something.
  const pr = run.pr !== null;
  const filtered = !selectionOf(run).all;
  const actions = [
    pr
      ? actionForm(
          run,
          p,
          "approve",
          `Approve ${shortSha(run.sha)} and run restricted jobs`,
          html`<input type="hidden" name="sha" value="${run.sha}">`,
        )
      : "",
    pr && running ? actionForm(run, p, "cancel", "Cancel run") : "",
    pr && anyFailed && !running ? actionForm(run, p, "rerun-failed", "Re-run failed jobs") : "",
    pr && filtered ? actionForm(run, p, "run-all", "Run all tests") : "",
  ].filter((a) => a !== "");
  return page({
    title: `Run ${run.id}`,
    current: "runs",
    user: user(p),
    body: html`<nav aria-label="Breadcrumb" class="crumbs"><a href="/runs">Runs</a> › <span aria-current="page">${run.id}</span></nav>
<h1>Run ${run.id} ${badge(run.status)}</h1>
<dl class="facts run">
<dt>Repository</dt><dd>${run.repo}</dd>
${run.pr !== null ? html`<dt>Pull request</dt><dd>${links.pr ? html`<a href="${links.pr}">#${run.pr}</a>` : html`#${run.pr}`}</dd>` : ""}
<dt>Commit</dt><dd><code>${links.commit ? html`<a href="${links.commit}">${run.sha}</a>` : run.sha}</code></dd>
${run.ref ? html`<dt>Ref</dt><dd>${run.ref}</dd>` : ""}
<dt>Source</dt><dd>${run.source}</dd>
<dt>Authorised by</dt><dd>${run.authorized_by ?? "nobody (public jobs only)"}</dd>
<dt>Selection</dt><dd>${selectionText(selectionOf(run))}</dd>
<dt>Created</dt><dd>${time(run.created_at)}</dd>
<dt>Duration</dt><dd>${duration(runDuration(run))}</dd>
${notes.map(([k, v]) => html`<dt>${noteLabel(k)}</dt><dd>${noteValue(v)}</dd>`)}
</dl>
${actions.length ? html`<section aria-labelledby="acts"><h2 id="acts">Actions</h2><div class="actions">${actions}</div></section>` : ""}
<section aria-labelledby="jobs"><h2 id="jobs">Jobs</h2>
${jobs.length === 0 ? html`<p>This run has no jobs.</p>` : ""}
<ol class="levels">${stages.map(
      (level, i) =>
        html`<li><h3>Stage ${i + 1}</h3><ul class="jobs">${level.map((j) => jobItem(run, j, o.lastLines?.get(j.job_id), descriptions[j.job_id]))}</ul></li>`,
    )}</ol></section>
${artifactsSection(run.id, o.artifacts ?? [])}
${
  o.audit.length
    ? html`<section aria-labelledby="hist"><h2 id="hist">History</h2><ul class="audit">${o.audit.map(
        (a) =>
          html`<li>${time(a.at)} — ${a.actor}: ${a.action}${a.jobId ? html` (${a.jobId})` : ""}${a.set ? html` ${a.set}` : ""}${a.detail ? html` — ${a.detail}` : ""}</li>`,
      )}</ul><p><a href="/audit${query({ run: run.id })}">This run in the audit log</a></p></section>`
    : ""
}
<p><a href="${pathOf("public", "runs", run.id)}">Public summary</a> (shown only if the repository enabled it)</p>`,
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
