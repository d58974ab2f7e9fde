// Table types for the outbox: every write to GitHub is a row here before it is sent.
import type { Generated } from "kysely";

export type OutboxState =
  /** Waiting for (another) delivery attempt. */
  | "pending"
  /** Being sent; reset to pending when the process restarts. */
  | "delivering"
  | "done"
  /** Replaced by a newer full state for the same target before it was sent. */
  | "superseded"
  /** Refused by GitHub for good, or retried past the deadline; `last_error` says why. */
  | "failed";

export interface OutboxTable {
  seq: Generated<number>;
  /** "check_run", "status", "comment", "remove_label". */
  kind: string;
  /** Unique: enqueuing the same key twice stores one row. */
  idempotency_key: string;
  /** Rows with the same ordering key are delivered one at a time, in seq order. */
  ordering_key: string;
  /** "owner/name". */
  repo: string;
  installation_id: number;
  /** JSON of the request's content. */
  payload: string;
  state: OutboxState;
  attempts: number;
  created_at: number;
  next_attempt_at: number;
  finished_at: number | null;
  last_error: string | null;
}

/** The GitHub id of each check run Airlock created, so that it is updated in place. */
export interface CheckRunIdsTable {
  repo: string;
  head_sha: string;
  name: string;
  /** Null while a create is in flight or its answer was lost: look it up before creating again. */
  check_run_id: number | null;
  /** "checks", or "status" once checks were refused and commit statuses are used instead. */
  via: string;
  updated_at: number;
}
