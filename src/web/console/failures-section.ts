// The "Failed tests" section of a run page: every failed test of the jobs' reports with its
// (redacted) message, linked to the lines of the job's log where the test's name — or else the
// first line of its message — appears. Logs are scanned once per job, within a byte bound.
import type { JobRow, TestResult } from "../../store/index.js";
import { stripAnsi } from "../../store/log-text.js";
import { html, pathOf, query, type SafeHtml } from "./html.js";
import { scanLines } from "./log-reader.js";
import { testsOf } from "./model.js";

/** Failed tests shown per job, log lines linked per test, bytes of logs read for one page. */
const MAX_TESTS = 50;
const MAX_LINES = 3;
const MAX_SCAN = 32 << 20;
const MAX_MESSAGE = 4000;

export interface FailedTest {
  test: TestResult;
  /** Log lines where it appears (at most MAX_LINES), first first. */
  lines: number[];
}

export interface JobFailures {
  jobId: string;
  failed: FailedTest[];
  /** Failed tests not listed (over MAX_TESTS). */
  more: number;
}

/** What to look for in the log: the test's name, or the first line of its message. */
function needlesOf(t: TestResult): string[] {
  const first = (t.message ?? "").split("\n", 1)[0]!.trim().slice(0, 200);
  return [t.name.trim(), first].filter((s) => s.length >= 4).map((s) => s.toLowerCase());
}

/** Finds, in one pass over the log, where each failed test shows. */
async function locate(file: string, tests: TestResult[], maxScan: number): Promise<number[][]> {
  const found = tests.map(() => [] as number[]);
  const needles = tests.map(needlesOf);
  let open = tests.length;
  await scanLines(file, { line: 1, byte: 0 }, maxScan, (l) => {
    const text = stripAnsi(l.text).toLowerCase();
    for (let i = 0; i < tests.length; i++) {
      const lines = found[i]!;
      if (lines.length >= MAX_LINES) continue;
      if (needles[i]!.some((n) => text.includes(n))) {
        lines.push(l.n);
        if (lines.length === MAX_LINES) open--;
      }
    }
    return open === 0;
  });
  return found;
}

export async function failuresOf(
  jobs: JobRow[],
  logFile: (jobId: string) => string,
): Promise<JobFailures[]> {
  const out: JobFailures[] = [];
  const failing = jobs.filter((j) => j.tests_failed > 0);
  for (const j of failing) {
    const all = testsOf(j).filter((t) => t.status === "failed");
    if (all.length === 0) continue;
    const tests = all.slice(0, MAX_TESTS);
    // The bytes read for one page are bounded, shared among the failing jobs.
    const lines = await locate(logFile(j.job_id), tests, Math.ceil(MAX_SCAN / failing.length));
    out.push({
      jobId: j.job_id,
      failed: tests.map((test, i) => ({ test, lines: lines[i]! })),
      more: all.length - tests.length,
    });
  }
  return out;
}

const lineHref = (runId: string, jobId: string, n: number) =>
  `${pathOf("runs", runId, "jobs", jobId)}${query({ from: Math.max(1, n - 20) })}#L${n}`;

export function failuresSection(runId: string, failures: JobFailures[]): SafeHtml | "" {
  if (failures.length === 0) return "";
  const item = (jobId: string, f: FailedTest) => {
    const msg = f.test.message ?? "";
    return html`<li class="failure">
<div><span class="suite">${f.test.suite ? `${f.test.suite} › ` : ""}</span><strong>${f.test.name}</strong></div>
${msg ? html`<pre class="msg">${msg.length > MAX_MESSAGE ? `${msg.slice(0, MAX_MESSAGE)}…` : msg}</pre>` : ""}
<p class="where">${
      f.lines.length
        ? html`In the log: ${f.lines.map((n, i) => html`${i ? ", " : ""}<a href="${lineHref(runId, jobId, n)}">line ${n}</a>`)}`
        : html`Not found in the log: <a href="${pathOf("runs", runId, "jobs", jobId)}${query({ q: f.test.name.slice(0, 200) })}">search it</a>`
    }</p></li>`;
  };
  return html`<section aria-labelledby="failures"><h2 id="failures">Failed tests</h2>
${failures.map(
  (j) => html`<h3><a href="${pathOf("runs", runId, "jobs", j.jobId)}">${j.jobId}</a></h3>
<ul class="failures">${j.failed.map((f) => item(j.jobId, f))}</ul>
${j.more ? html`<p>${j.more} more failed tests: see the job's report.</p>` : ""}`,
)}</section>`;
}
