// Reading stored job logs as text: escape sequences, and a log's last line (what a failed job
// said last, shown beside its result).
import { open } from "node:fs/promises";
import type { LogStore } from "./logs.js";
import type { JobRow } from "./types.js";

/** CSI ... final byte; OSC ... BEL or ST; other two-byte escapes. */
export const ESCAPE = /\x1b\[([0-?]*)[ -/]*([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?/g;
export const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g;

/** The line without escape sequences or control characters. */
export function stripAnsi(line: string): string {
  return line.replace(ESCAPE, "").replace(CONTROL, "");
}

const TAIL_BYTES = 8192;
export const MAX_LAST_LINE = 300;

/**
 * The job's last non-empty output line in a stored (redacted) log, without escapes; Airlock's
 * own closing lines ("airlock: …") are passed over. "" when there is none.
 */
export async function lastLogLine(file: string): Promise<string> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(file, "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "";
    throw e;
  }
  try {
    const { size } = await fh.stat();
    const from = Math.max(0, size - TAIL_BYTES);
    const buf = Buffer.alloc(size - from);
    await fh.read(buf, 0, buf.length, from);
    const lines = buf.toString("utf8").split(/\r?\n|\r/);
    if (from > 0) lines.shift(); // cut mid-line
    for (let i = lines.length - 1; i >= 0; i--) {
      const l = stripAnsi(lines[i]!).trim();
      if (l && !l.startsWith("airlock: ")) {
        return l.length > MAX_LAST_LINE ? `${l.slice(0, MAX_LAST_LINE - 1)}…` : l;
      }
    }
    return "";
  } finally {
    await fh.close();
  }
}

/** Jobs' last log lines, by job id. */
export type LastLines = ReadonlyMap<string, string>;

/** The last log line of every job that ran and did not pass. */
export async function lastLinesOf(
  logs: Pick<LogStore, "pathOf">,
  runId: string,
  jobs: Pick<JobRow, "job_id" | "state" | "started_at">[],
): Promise<LastLines> {
  const out = new Map<string, string>();
  for (const j of jobs) {
    if (j.state === "passed" || j.started_at === null) continue;
    const line = await lastLogLine(logs.pathOf(runId, j.job_id));
    if (line) out.set(j.job_id, line);
  }
  return out;
}
