// The public summary of a run, for contributors who may not see logs: job names, states,
// durations and per-test results from JUnit. Built only from those columns: never a log line, an
// executor error, the reasons, the grants or the notes. Failure messages (already redacted) are
// shown for public jobs by default, for restricted jobs only when the repository opted in.
import type { JobRow, RunRow } from "../../store/index.js";
import { duration, html, page } from "./html.js";
import { jobDuration, testsOf } from "./model.js";
import { badge } from "./run-pages.js";
import type { PublicSummaryPolicy } from "./types.js";

export interface PublicJob {
  name: string;
  state: string;
  restricted: boolean;
  durationMs: number | null;
  tests: { suite: string; name: string; status: string; durationMs: number; message?: string }[];
}

/** The only data the public page and its JSON carry. */
export function publicJobs(jobs: JobRow[], policy: PublicSummaryPolicy): PublicJob[] {
  const messages = policy.failureMessages ?? "public-jobs";
  return jobs.map((j) => {
    const showMessages = messages === "all" || (messages === "public-jobs" && !j.restricted);
    return {
      name: j.job_id,
      state: j.state,
      restricted: j.restricted === 1,
      durationMs: jobDuration(j),
      tests: testsOf(j).map((t) => ({
        suite: t.suite,
        name: t.name,
        status: t.status,
        durationMs: t.durationMs,
        ...(showMessages && t.status === "failed" && t.message ? { message: t.message } : {}),
      })),
    };
  });
}

export function publicPage(run: RunRow, jobs: PublicJob[]): string {
  return page({
    title: `Run summary ${run.id}`,
    body: html`<h1>Run summary ${badge(run.status)}</h1>
<p class="meta">${run.repo}${run.pr !== null ? html` · pull request #${run.pr}` : ""} · commit <code>${run.sha.slice(0, 12)}</code></p>
<p>Logs of this run are private to the project's team. This page shows job results and test
results only.</p>
${jobs.map(
  (
    j,
  ) => html`<section class="pjob" aria-label="Job ${j.name}"><h2>${j.name} ${badge(j.state)}${j.restricted ? html` <span class="tag">restricted</span>` : ""}</h2>
<p class="meta">Duration ${duration(j.durationMs)}</p>
${
  j.tests.length
    ? html`<div class="scroll"><table><caption class="sr">Tests of ${j.name}</caption>
<thead><tr><th scope="col">Test</th><th scope="col">Result</th><th scope="col">Time</th></tr></thead>
<tbody>${j.tests.map(
        (t) =>
          html`<tr><td>${t.suite ? html`<span class="suite">${t.suite}</span> ` : ""}${t.name}${t.message ? html`<pre class="msg">${t.message}</pre>` : ""}</td><td>${badge(t.status)}</td><td>${duration(t.durationMs)}</td></tr>`,
      )}</tbody></table></div>`
    : html`<p>No test results reported.</p>`
}</section>`,
)}`,
  });
}
