// What `airlock run` shows while it works: a live table on a terminal, one line per event
// otherwise, and the final summary. Everything it prints about jobs is already redacted.
import { egressJson, egressLines } from "../egress/summary.js";
import { endReason } from "../pipeline/end-reason.js";
import {
  DESCRIPTIONS_NOTE,
  type JobRow,
  jobEgress,
  jobNotes,
  type RunRow,
} from "../store/index.js";
import type { LastLines } from "../store/log-text.js";

export type ViewState = "pending" | "running" | string;

export interface RunView {
  start(jobId: string): void;
  end(jobId: string, outcome: string, reason: string): void;
  output(jobId: string, text: string): void;
  /** A line from Airlock itself (e.g. "cancelling"), printed without breaking the live table. */
  note(text: string): void;
  close(): void;
}

const ICON: Record<string, string> = {
  pending: "·",
  running: "▶",
  passed: "✔",
  failed: "✘",
  timed_out: "⏱",
  cancelled: "⊘",
  skipped: "↷",
  error: "!",
};

export function formatDuration(ms: number | null | undefined): string {
  if (ms == null) return "-";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
}

/** One line per event, with a timestamp: for logs, CI and pipes. */
export function plainView(
  out: NodeJS.WritableStream,
  showOutput: boolean,
  descriptions: Record<string, string> = {},
  err: NodeJS.WritableStream = process.stderr,
): RunView {
  const started = new Map<string, number>();
  const ts = () => new Date().toISOString().slice(11, 19);
  const partial = new Map<string, string>();
  return {
    start(id) {
      started.set(id, Date.now());
      const what = descriptions[id];
      out.write(`${ts()} start   ${id}${what ? ` — ${what}` : ""}\n`);
    },
    end(id, outcome, reason) {
      const t = started.has(id) ? ` in ${formatDuration(Date.now() - started.get(id)!)}` : "";
      out.write(`${ts()} ${outcome.padEnd(7)} ${id}${t}${reason ? ` (${reason})` : ""}\n`);
    },
    note(text) {
      err.write(`${text}\n`);
    },
    output(id, text) {
      if (!showOutput) return;
      const lines = ((partial.get(id) ?? "") + text).split("\n");
      partial.set(id, lines.pop() ?? "");
      for (const l of lines) out.write(`${id} | ${l}\n`);
    },
    close() {
      for (const [id, rest] of partial) if (rest) out.write(`${id} | ${rest}\n`);
    },
  };
}

/** A table redrawn in place on a terminal: one line per job with its state and elapsed time. */
export function ttyView(
  out: NodeJS.WriteStream,
  jobIds: string[],
  descriptions: Record<string, string> = {},
): RunView {
  const state = new Map<string, { s: string; t0?: number; t1?: number }>(
    jobIds.map((id) => [id, { s: "pending" }]),
  );
  let drawn = 0;
  const width = Math.min(40, Math.max(...jobIds.map((j) => j.length)));
  // Back to the table's first line: from column 0, since the terminal may have echoed "^C".
  const home = () => out.write(drawn ? `\r\x1b[${drawn}A` : "\r");
  const draw = () => {
    home();
    const now = Date.now();
    for (const id of jobIds) {
      const st = state.get(id)!;
      const el = st.t0 ? formatDuration((st.t1 ?? now) - st.t0) : "";
      const what = descriptions[id];
      // The description, dimmed, cut to the terminal's width (a wrapped row breaks the redraw).
      const line = ` ${ICON[st.s] ?? "?"} ${id.padEnd(width)}  ${st.s.padEnd(9)} ${el.padEnd(7)}`;
      const room = (out.columns || 80) - line.length - 3;
      const tail = what && room > 10 ? `  \x1b[2m${clip(what, room)}\x1b[22m` : "";
      out.write(`\x1b[2K${what && tail ? line : line.trimEnd()}${tail}\n`);
    }
    drawn = jobIds.length;
  };
  const timer = setInterval(draw, 200);
  timer.unref();
  draw();
  return {
    start(id) {
      state.set(id, { s: "running", t0: Date.now() });
      draw();
    },
    end(id, outcome) {
      const st = state.get(id)!;
      state.set(id, { s: outcome, t0: st.t0, t1: Date.now() });
      draw();
    },
    output() {},
    note(text) {
      // The note takes the table's place, and the table is drawn again below it.
      home();
      out.write(`\x1b[J${text}\n`);
      drawn = 0;
      draw();
    },
    close() {
      clearInterval(timer);
      draw();
    },
  };
}

/** The final table: job, result, duration, tests, why; under a job that did not pass, its last log line. */
export function summaryTable(jobs: JobRow[], lastLines: LastLines = new Map()): string {
  const rows = jobs.map((j) => [
    j.job_id,
    j.state,
    formatDuration(durationOf(j)),
    j.tests_passed + j.tests_failed + j.tests_skipped > 0
      ? `${j.tests_passed} passed, ${j.tests_failed} failed${j.tests_skipped ? `, ${j.tests_skipped} skipped` : ""}`
      : "",
    // A limit that ended the job says more than its exit code: Airlock's notes come first.
    [...jobNotes(j), endReason(j)].filter(Boolean).join("; "),
  ]);
  const head = ["JOB", "RESULT", "DURATION", "TESTS", "NOTE"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  const out = [fmt(head)];
  jobs.forEach((j, i) => {
    out.push(fmt(rows[i]!));
    const last = lastLines.get(j.job_id);
    if (last) out.push(`  └ ${last}`);
  });
  return out.join("\n");
}

const durationOf = (j: JobRow): number | null =>
  j.started_at && j.finished_at ? j.finished_at - j.started_at : null;

/** `airlock run --json`: the run and its jobs, machine-readable. */
export function resultJson(run: RunRow, jobs: JobRow[], lastLines: LastLines = new Map()) {
  const notes = JSON.parse(run.notes) as Record<string, unknown>;
  const descriptions = (notes[DESCRIPTIONS_NOTE] ?? {}) as Record<string, string>;
  return {
    run: run.id,
    status: run.status,
    sha: run.sha,
    ref: run.ref,
    notes,
    jobs: jobs.map((j) => ({
      id: j.job_id,
      description: descriptions[j.job_id] ?? null,
      result: j.state,
      reason: j.reason,
      exitCode: j.exit_code,
      /** Why it ended so: "exit code 2", "timed out after 5m", the skip reason, an error. */
      endReason: endReason(j),
      lastLine: lastLines.get(j.job_id) ?? null,
      durationMs: durationOf(j),
      secrets: JSON.parse(j.grants),
      tests: { passed: j.tests_passed, failed: j.tests_failed, skipped: j.tests_skipped },
      error: j.error,
      notes: jobNotes(j),
      egress: egressOrNull(j),
    })),
  };
}

function egressOrNull(j: JobRow) {
  const r = jobEgress(j);
  return r ? egressJson(r) : null;
}

/** The end of `airlock run`: the table, notes from secret grants, the suite, where the logs are. */
export function summaryText(run: RunRow, jobs: JobRow[], lastLines: LastLines = new Map()): string {
  const lines = [summaryTable(jobs, lastLines), ""];
  const notes = JSON.parse(run.notes) as Record<string, unknown>;
  for (const [key, value] of Object.entries(notes)) {
    if (key.startsWith("grants:") && Array.isArray(value)) {
      for (const n of value) lines.push(`note: ${key.slice(7)}: ${n}`);
    }
  }
  for (const j of jobs) {
    const r = jobEgress(j);
    if (r) lines.push(...egressLines(j.job_id, r));
  }
  const suite = notes.suite as { ref?: string; sha?: string } | undefined;
  if (suite?.ref && suite.sha) lines.push(`suite: ${suite.ref} (${suite.sha.slice(0, 12)})`);
  const where = `${run.sha.slice(0, 12)}${run.ref ? ` on ${run.ref}` : ""}`;
  lines.push(`run ${run.id} ${run.status} (${where}); logs: airlock logs ${run.id} [JOB]`);
  return `${lines.join("\n")}\n`;
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** `airlock run --plan`: what would run, in order, why, and what each job is for. */
export function planText(
  jobs: { id: string; needs: string[]; secrets: string[]; description?: string }[],
  reasons: Record<string, string>,
): string {
  const lines: string[] = [];
  for (const j of jobs) {
    lines.push(`${j.id}${j.secrets.length ? ` (restricted: ${j.secrets.join(", ")})` : ""}`);
    if (j.description) lines.push(`  ${j.description}`);
    if (j.needs.length) lines.push(`  needs ${j.needs.join(", ")}`);
    if (reasons[j.id]) lines.push(`  why: ${reasons[j.id]}`);
  }
  lines.push(
    "",
    `${jobs.length} job${jobs.length === 1 ? "" : "s"} would run; nothing was started`,
  );
  return `${lines.join("\n")}\n`;
}
