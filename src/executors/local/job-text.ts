// What the local executor says about a job: set-up failures (the job's error) and notes in its log.
import type { JobIO } from "../types.js";

/** A job that could not be set up or started: its message becomes the job's error. */
export class JobSetupError extends Error {}

/** An `airlock:` line in the job's log, apart from its output. */
export function note(req: JobIO, text: string): void {
  if (req.output.writable) req.output.write(`\nairlock: ${text}\n`);
}

export function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function formatMs(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${s % 60}s`;
}
