// Table types for stored webhook deliveries (intake → processing loop).
import type { Generated } from "kysely";

export type EventState =
  /** Stored, waiting for (another) processing attempt. */
  | "pending"
  /** Claimed by the processing loop; reset to pending when the process restarts. */
  | "processing"
  | "done"
  /** The handler failed on every attempt; `error` holds the redacted reason. */
  | "failed"
  /** The payload lacked fields the gateway needs; `error` says which. Never processed. */
  | "rejected";

export interface EventsTable {
  /** Arrival order; the loop claims the lowest ready seq first. */
  seq: Generated<number>;
  /** X-GitHub-Delivery: unique per delivery, so a redelivery is recognised. */
  delivery_id: string;
  /** X-GitHub-Event. */
  name: string;
  action: string | null;
  state: EventState;
  attempts: number;
  received_at: number;
  /** Earliest time of the next attempt (ms since epoch), for backoff. */
  next_attempt_at: number;
  finished_at: number | null;
  error: string | null;
  /** Who holds the claim on this row while it is in flight (a gateway process), or null. */
  lease_owner: Generated<string | null>;
  /** Until when (ms) the claim holds unless renewed; past it, another gateway may take it over. */
  lease_until: Generated<number | null>;
}

/** Bodies live apart from the event rows, so state changes rewrite a small row, not 25 MB. */
export interface EventPayloadsTable {
  seq: number;
  /** The delivery's JSON body as received. */
  payload: string;
}
