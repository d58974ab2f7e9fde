// Why a job ended as it did, in a few words, for the terminal, --json and the console:
// "exit code 2", "killed by SIGKILL (exit code 137)", "timed out after 5m".
import { constants } from "node:os";
import type { JobRow } from "../store/index.js";

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/** A shell reports a process killed by signal N as exit code 128 + N. */
export function exitCodeText(code: number): string {
  const signal = code > 128 ? SIGNAL_NAMES.get(code - 128) : undefined;
  return signal ? `killed by ${signal} (exit code ${code})` : `exit code ${code}`;
}

export function endReason(j: Pick<JobRow, "state" | "exit_code" | "error" | "reason">): string {
  switch (j.state) {
    case "failed":
      return [j.exit_code !== null ? exitCodeText(j.exit_code) : "", j.error ?? ""]
        .filter(Boolean)
        .join("; ");
    case "timed_out":
      return j.error || "timed out";
    case "skipped":
    case "cancelled":
      return j.reason;
    default:
      return j.error ?? "";
  }
}
