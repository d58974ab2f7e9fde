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
  /** Who holds the claim on this row while it is in flight (a gateway process), or null. */
  lease_owner: Generated<string | null>;
  /** Until when (ms) the claim holds unless renewed; past it, another gateway may take it over. */
  lease_until: Generated<number | null>;
  /**
   * Set by the holder just before it sends a write to GitHub: until when (ms) that write may still
   * land. Another gateway takes the item over only once this and the lease both ran out.
   */
  write_until: Generated<number | null>;
}

/**
 * The GitHub id of the current check run of each (repo, commit, name), so that it is updated in
 * place until a completed one is run again.
 */
export interface CheckRunIdsTable {
  repo: string;
  head_sha: string;
  name: string;
  /** Null while a create is in flight or its answer was lost: look it up before creating again. */
  check_run_id: number | null;
  /** "checks", or "status" once checks were refused and commit statuses are used instead. */
  via: string;
  /** The status last sent ("queued", "in_progress", "completed"); null when not known. */
  last_status: string | null;
  /** While the create of a re-run's check run is in flight: the completed check run it replaces. */
  replaces_id: number | null;
  /** The outbox item that last wrote the row: its own retry does not count as a re-run. */
  outbox_seq: number | null;
  updated_at: number;
}

/** A pause of outbound writes shared by every gateway (a spent rate limit), by name. */
export interface PausesTable {
  /** "github": the App's writes. */
  name: string;
  /** Until when (ms) nothing is sent. */
  until_at: number;
  reason: string | null;
  updated_at: number;
}
