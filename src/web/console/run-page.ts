// The run page: the run's facts, the buttons that can act on it, its failed tests linked to the
// log, its jobs by stage (matrix jobs grouped), the timeline, artifacts and history. Every value
// goes through `html`, which escapes it.
import type { ArtifactManifest } from "../../artifacts/store.js";
import { endReason } from "../../pipeline/end-reason.js";
import {
  DESCRIPTIONS_NOTE,
  type JobRow,
  jobNotes,
  jobStatesText,
  type RunRow,
} from "../../store/index.js";
import type { LastLines } from "../../store/log-text.js";
import type { Principal } from "../auth/auth.js";
import { artifactsSection } from "./artifacts-section.js";
import { failuresSection, type JobFailures } from "./failures-section.js";
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
import { badge, shortSha, user } from "./run-pages.js";
import { timelineSection } from "./timeline.js";
import type { AuditItem } from "./types.js";

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

/** Jobs of one stage, matrix instances (several jobs of one template) together. */
function stageItems(run: RunRow, level: JobRow[], item: (j: JobRow) => SafeHtml): SafeHtml[] {
  const byTemplate = new Map<string, JobRow[]>();
  for (const j of level) byTemplate.set(j.template, [...(byTemplate.get(j.template) ?? []), j]);
  const out: SafeHtml[] = [];
  const shown = new Set<string>();
  for (const j of level) {
    const group = byTemplate.get(j.template)!;
    if (group.length < 2) {
      out.push(item(j));
      continue;
    }
    if (shown.has(j.template)) continue;
    shown.add(j.template);
    const states: Record<string, number> = {};
    for (const g of group) states[g.state] = (states[g.state] ?? 0) + 1;
    const failed = group.some((g) => ["failed", "timed_out", "error"].includes(g.state));
    out.push(html`<li class="matrix"><details${failed || group.length <= 6 ? html` open` : ""}><summary><strong>${j.template}</strong> <span class="tag">matrix</span> ${group.length} jobs: ${jobStatesText(states)}</summary>
<ul class="jobs" aria-label="Matrix ${j.template} of run ${run.id}">${group.map(item)}</ul></details></li>`);
  }
  return out;
}

/**
 * Whether approving the commit would start something: a pull request's run that no one
 * authorised and that left restricted jobs out. An authorised run shows no Approve.
 */
function waitsForApproval(run: RunRow, jobs: JobRow[]): boolean {
  if (run.pr === null || run.authorized_by !== null) return false;
  const withheld = notesOf(run).withheld;
  return (
    selectionOf(run).public ||
    (Array.isArray(withheld) && withheld.length > 0) ||
    jobs.some((j) => j.restricted && j.started_at === null)
  );
}

export function runPage(o: {
  principal: Principal;
  run: RunRow;
  jobs: JobRow[];
  lastLines?: LastLines;
  failures?: JobFailures[];
  audit: AuditItem[];
  artifacts?: ArtifactManifest[];
  githubWebUrl?: string;
  now?: number;
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
  const sel = selectionOf(run);
  // Actions act through the pull request (as its comments do): a local run has none, and each
  // button is there only when it can do something.
  const pr = run.pr !== null;
  const filtered = sel.labels.length + sel.jobs.length + sel.tags.length > 0;
  const actions = [
    waitsForApproval(run, jobs)
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
  const item = (j: JobRow) => jobItem(run, j, o.lastLines?.get(j.job_id), descriptions[j.job_id]);
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
<dt>Selection</dt><dd>${selectionText(sel)}</dd>
<dt>Created</dt><dd>${time(run.created_at)}</dd>
<dt>Duration</dt><dd>${duration(runDuration(run))}</dd>
${notes.map(([k, v]) => html`<dt>${noteLabel(k)}</dt><dd>${noteValue(v)}</dd>`)}
</dl>
${actions.length ? html`<section aria-labelledby="acts"><h2 id="acts">Actions</h2><div class="actions">${actions}</div></section>` : ""}
${failuresSection(run.id, o.failures ?? [])}
<section aria-labelledby="jobs"><h2 id="jobs">Jobs</h2>
${jobs.length === 0 ? html`<p>This run has no jobs.</p>` : ""}
<ol class="levels">${stages.map(
      (level, i) =>
        html`<li><h3>Stage ${i + 1}</h3><ul class="jobs">${stageItems(run, level, item)}</ul></li>`,
    )}</ol></section>
${timelineSection(run, jobs, o.now)}
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
