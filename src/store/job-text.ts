// Reading stored job fields for people: closing notes, the connection record and per-state counts.
import type { EgressRecord } from "../egress/record.js";
import type { JobRow } from "./types.js";

/** A job's closing notes (see JobsTable.notes). */
/** Why a job ended that was running (or waiting) when its gateway died. */
export const JOB_INTERRUPTED = "Airlock stopped while the job was running";
/** Why a job ended that Airlock gave up on after its gateway died under it too often. */
export const JOB_GAVE_UP = "interrupted too often";

export function jobNotes(j: Pick<JobRow, "notes">): string[] {
  try {
    const n = JSON.parse(j.notes) as unknown;
    return Array.isArray(n) ? n.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

/** A job's connection record, or null when it had no allow list (or the row is damaged). */
export function jobEgress(j: Pick<JobRow, "egress">): EgressRecord | null {
  if (!j.egress) return null;
  try {
    const r = JSON.parse(j.egress) as EgressRecord;
    return Array.isArray(r?.entries) ? r : null;
  } catch {
    return null;
  }
}

const STATE_ORDER = [
  "passed",
  "failed",
  "timed_out",
  "error",
  "cancelled",
  "skipped",
  "running",
  "pending",
];

/** "2 passed, 1 timed out": a run's jobs counted by state, as jobStates gives them. */
export function jobStatesText(states: Record<string, number> | undefined): string {
  if (!states) return "no jobs";
  const rank = (s: string) => STATE_ORDER.indexOf(s) + 1 || 99;
  return Object.entries(states)
    .sort(([a], [b]) => rank(a) - rank(b))
    .map(([s, n]) => `${n} ${s.replace("_", " ")}`)
    .join(", ");
}
