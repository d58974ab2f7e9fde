// What Airlock shows on a pull request: one check run per job, and the gate `airlock/all-tests`
// (`airlock/approval` is approval-check.ts). Public output only: status, conclusion, duration,
// test counts, and test names with their redacted failure messages from JUnit reports. Never log
// lines (DESIGN.md invariant 5); the full record is on the private run page that details_url
// points to.
import type { CheckConclusion, CheckRunState } from "../forge/types.js";
import {
  JOB_GAVE_UP,
  JOB_INTERRUPTED,
  type JobRow,
  jobNotes,
  type RunRow,
  type TestResult,
} from "../store/index.js";
import type { GateDecision } from "./gate.js";

export const GATE_CHECK = "airlock/all-tests";
export const CONFIG_CHECK = "airlock/configuration";
export const jobCheckName = (jobId: string) => `airlock/${jobId}`;

/** GitHub's limit for output.summary and output.text. */
export const OUTPUT_MAX_CHARS = 65_535;
const TITLE_MAX = 200;
/** Failed tests shown with their message; more are listed by name only. */
const MAX_FAILURES_WITH_MESSAGE = 50;
const MESSAGE_MAX_CHARS = 2_000;

export interface RenderOptions {
  /** Airlock's public base URL, e.g. "https://airlock.example.org". */
  publicUrl?: string;
  /** Applied once more to every test name and message before it leaves Airlock. */
  redact?: (text: string) => string;
  now?: () => number;
}

/** The private run page; its path segments are encoded. */
export function runPageUrl(publicUrl: string | undefined, runId: string, jobId?: string) {
  if (!publicUrl) return undefined;
  const base = `${publicUrl.replace(/\/+$/, "")}/runs/${encodeURIComponent(runId)}`;
  return jobId ? `${base}#job-${encodeURIComponent(jobId)}` : base;
}

// ---- safe markdown --------------------------------------------------------------------------

/** Untrusted text as an inline code span: nothing in it is rendered, linked or mentioned. */
export function code(text: string): string {
  const flat = text.replace(/[\r\n]+/g, " ");
  const longest = Math.max(0, ...(flat.match(/`+/g) ?? []).map((m) => m.length));
  const fence = "`".repeat(longest + 1);
  return `${fence} ${flat} ${fence}`;
}

/** Untrusted text as a fenced block that no line of it can close. */
export function block(text: string): string {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((m) => m.length));
  const fence = "`".repeat(longest + 1);
  return `${fence}text\n${text.replace(/\r\n?/g, "\n")}\n${fence}`;
}

/** Cuts `text` to GitHub's limit at a line boundary, saying what was left out and where to look. */
export function fitOutput(text: string, more: string, max = OUTPUT_MAX_CHARS): string {
  if (text.length <= max) return text;
  const note = `\n\n… cut to fit GitHub's limit. ${more}`;
  let cut = text.slice(0, max - note.length);
  const nl = cut.lastIndexOf("\n");
  if (nl > cut.length / 2) cut = cut.slice(0, nl);
  // Do not leave a code fence open: the note would render as code.
  const fences = cut.match(/^`{3,}/gm) ?? [];
  if (fences.length % 2 === 1) cut += `\n${fences[fences.length - 1]}`;
  return (cut + note).slice(0, max);
}

export const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${sec}s`;
  return `${sec}s`;
}

const iso = (ms: number | null) => (ms === null ? undefined : new Date(ms).toISOString());

// ---- job checks -----------------------------------------------------------------------------

const CONCLUSION: Record<string, CheckConclusion> = {
  passed: "success",
  failed: "failure",
  timed_out: "timed_out",
  cancelled: "cancelled",
  skipped: "skipped",
  error: "failure",
};

function parseTests(job: JobRow): TestResult[] {
  try {
    const t = JSON.parse(job.tests) as unknown;
    return Array.isArray(t) ? (t as TestResult[]) : [];
  } catch {
    return [];
  }
}

/** The companion suite a restricted job ran against (recorded in the run's notes). */
function suiteLine(run: RunRow, job: JobRow): string {
  if (!job.restricted) return "";
  try {
    const s = (JSON.parse(run.notes) as { suite?: { ref?: unknown; sha?: unknown } }).suite;
    if (typeof s?.ref !== "string" || typeof s.sha !== "string") return "";
    return `**Suite:** ${code(s.ref)} at ${code(s.sha.slice(0, 12))}`;
  } catch {
    return "";
  }
}

/** Airlock's closing notes (fixed texts: a limit that ended the job, a truncated log). */
function notesBlock(notes: string[]): string {
  return notes.length ? `**Airlock:**\n${notes.map((n) => `- ${clip(n, 300)}`).join("\n")}` : "";
}

/** The check run of one job. */
export function renderJobCheck(run: RunRow, job: JobRow, opts: RenderOptions = {}): CheckRunState {
  const redact = opts.redact ?? ((s: string) => s);
  const details = runPageUrl(opts.publicUrl, run.id, job.job_id);
  const base: CheckRunState = {
    name: jobCheckName(job.job_id),
    head_sha: run.sha,
    status: "queued",
    external_id: `${run.id}/${job.job_id}`,
    ...(details ? { details_url: details } : {}),
  };
  const kind = job.restricted ? "restricted (uses secrets)" : "public";
  if (job.state === "pending") {
    return { ...base, output: { title: "Queued", summary: `A ${kind} job, waiting to start.` } };
  }
  const started = iso(job.started_at);
  if (job.state === "running") {
    return {
      ...base,
      status: "in_progress",
      ...(started ? { started_at: started } : {}),
      output: { title: "Running", summary: `A ${kind} job, running.` },
    };
  }

  const tests = parseTests(job);
  const duration =
    job.started_at !== null && job.finished_at !== null
      ? formatDuration(job.finished_at - job.started_at)
      : undefined;
  const counts = `${job.tests_passed} passed, ${job.tests_failed} failed, ${job.tests_skipped} skipped`;
  // A job its gateway's death ended (and Airlock gave up on) did not fail: the title says so.
  const interrupted = job.reason === JOB_INTERRUPTED || job.reason === JOB_GAVE_UP;
  const stateWord = interrupted ? "interrupted" : job.state.replace("_", " ");
  const title = clip(
    [
      stateWord[0]!.toUpperCase() + stateWord.slice(1),
      duration ? `in ${duration}` : "",
      tests.length ? `— ${counts}` : "",
    ]
      .filter(Boolean)
      .join(" "),
    TITLE_MAX,
  );

  const more = details
    ? `The full results are on the [private run page](${details}).`
    : "The full results are on Airlock's private run page.";
  const summary = [
    `A ${kind} job.`,
    suiteLine(run, job),
    duration ? `**Duration:** ${duration}` : "",
    tests.length ? `**Tests:** ${counts}` : "**Tests:** no JUnit report",
    job.state === "error" ? "Airlock could not run this job to the end." : "",
    notesBlock(jobNotes(job).map(redact)),
    more,
  ]
    .filter(Boolean)
    .join("\n\n");

  const failed = tests.filter((t) => t.status === "failed");
  const parts: string[] = [];
  if (failed.length) {
    parts.push(`### Failed tests (${failed.length})`);
    failed.forEach((t, i) => {
      const name = code(redact(`${t.suite ? `${t.suite} › ` : ""}${t.name}`));
      if (i < MAX_FAILURES_WITH_MESSAGE && t.message) {
        parts.push(`- ${name}\n\n${block(clip(redact(t.message), MESSAGE_MAX_CHARS))}`);
      } else parts.push(`- ${name}`);
    });
  }
  const passed = tests.filter((t) => t.status === "passed");
  if (passed.length) {
    parts.push(`### Passed tests (${passed.length})`);
    for (const t of passed)
      parts.push(`- ${code(redact(t.name))} (${formatDuration(t.durationMs)})`);
  }
  const skipped = tests.filter((t) => t.status === "skipped");
  if (skipped.length) {
    parts.push(`### Skipped tests (${skipped.length})`);
    for (const t of skipped) parts.push(`- ${code(redact(t.name))}`);
  }
  const text = parts.length ? fitOutput(parts.join("\n"), more) : undefined;

  const finished = iso(job.finished_at) ?? new Date((opts.now ?? Date.now)()).toISOString();
  return {
    ...base,
    status: "completed",
    conclusion: CONCLUSION[job.state] ?? "failure",
    ...(started ? { started_at: started } : {}),
    completed_at: finished,
    output: { title, summary: fitOutput(summary, more), ...(text ? { text } : {}) },
  };
}

// ---- gate check -----------------------------------------------------------------------------

export function renderGateCheck(
  headSha: string,
  gate: GateDecision,
  opts: RenderOptions & { runId?: string } = {},
): CheckRunState {
  const details = opts.runId ? runPageUrl(opts.publicUrl, opts.runId) : undefined;
  const output = { title: clip(gate.title, TITLE_MAX), summary: fitOutput(gate.summary, "") };
  const base = {
    name: GATE_CHECK,
    head_sha: headSha,
    ...(details ? { details_url: details } : {}),
  };
  if (gate.state === "pending") return { ...base, status: "in_progress", output };
  return {
    ...base,
    status: "completed",
    conclusion: gate.state === "success" ? "success" : "failure",
    completed_at: new Date((opts.now ?? Date.now)()).toISOString(),
    output,
  };
}

// ---- configuration check --------------------------------------------------------------------

/**
 * The pull request's own `.airlock.yml` was refused (too large, too deep, invalid): one failing
 * check that says why. Its problems are the PR author's text, shown as code.
 */
export function renderConfigCheck(
  headSha: string,
  problems: string[],
  opts: RenderOptions = {},
): CheckRunState {
  const first = problems[0] ?? "the file is invalid";
  // "configuration rejected: …" reads as the title; other problems say it in the summary.
  const why = first.replace(/^.*?configuration rejected: /, "");
  return {
    name: CONFIG_CHECK,
    head_sha: headSha,
    status: "completed",
    conclusion: "failure",
    completed_at: new Date((opts.now ?? Date.now)()).toISOString(),
    output: {
      title: clip(`configuration rejected: ${why}`, TITLE_MAX),
      summary: fitOutput(
        `The pull request's .airlock.yml cannot be used; its public jobs run from the base branch's definition until it is fixed.\n\n${block(problems.slice(0, 20).join("\n"))}`,
        "",
      ),
    },
  };
}
