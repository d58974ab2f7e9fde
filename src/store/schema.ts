// Table types for kysely. Each feature adds its tables here and a migration beside it.
import type { Generated } from "kysely";
import type { ApprovalWaitsTable } from "./approval-waits-schema.js";
import type { ApprovalsTable, PrHeadsTable } from "./approvals-schema.js";
import type { EventPayloadsTable, EventsTable } from "./events-schema.js";
import type { OidcKeysTable } from "./oidc-keys-schema.js";
import type { CheckRunIdsTable, OutboxTable, PausesTable } from "./outbox-schema.js";
import type {
  AuditTable,
  SecretKeyringTable,
  SecretKeysTable,
  SecretValuesTable,
} from "./secrets-schema.js";
import type { AdminTokensTable, ConsoleSessionsTable, LoginLinksTable } from "./sessions-schema.js";

/** interrupted: a shutdown of Airlock stopped it; a new attempt of its request continues it. */
export type RunStatus =
  | "queued"
  | "running"
  | "passed"
  | "failed"
  | "cancelled"
  | "error"
  | "interrupted";
export type JobState =
  | "pending"
  | "running"
  | "passed"
  | "failed"
  | "timed_out"
  | "cancelled"
  | "skipped"
  | "error";

export interface RunsTable {
  id: string;
  /** "local" for `airlock run`, "github" for the gateway. */
  source: string;
  repo: string;
  ref: string | null;
  sha: string;
  pr: number | null;
  status: RunStatus;
  /** JSON: { labels: string[], jobs: string[], tags: string[][] } or null for all. */
  selection: string | null;
  authorized_by: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  /** JSON: free-form notes shown with the run (env overrides used, suite ref, ...). */
  notes: string;
}

export interface JobsTable {
  run_id: string;
  job_id: string;
  template: string;
  state: JobState;
  /** Why it ran or was skipped. */
  reason: string;
  needs: string;
  secrets: string;
  restricted: number;
  exit_code: number | null;
  started_at: number | null;
  finished_at: number | null;
  tests_passed: number;
  tests_failed: number;
  tests_skipped: number;
  /** JSON array of redacted per-test results from JUnit reports. */
  tests: string;
  /** JSON: secret set name -> version(s) released to the job. Never values. */
  grants: string;
  /** Redacted executor error, if any. */
  error: string | null;
  /** JSON array of Airlock's closing lines about the job ("killed: out of memory (limit 2 GiB)"). */
  notes: Generated<string>;
  /** JSON EgressRecord: where a job with a network allow list connected (redacted); or null. */
  egress: Generated<string | null>;
  seq: Generated<number>;
}

/** The gateway's run queue (see RunRequestQueue in types.ts). */
export interface RunRequestsTable {
  id: string;
  repo: string;
  pr: number;
  installation_id: number;
  head_sha: string;
  base_sha: string;
  head_ref: string;
  author: string;
  kind: string;
  /** JSON: { labels?, jobs? }, or null for every job of its kind. */
  selection: string | null;
  requested_by: string;
  state: string;
  attempt: number;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  note: string | null;
  /** "shutdown" when a graceful stop interrupted it (that attempt is not spent). */
  interrupted_by: string | null;
  /** Who holds the claim on this row while it is in flight (a gateway process), or null. */
  lease_owner: Generated<string | null>;
  /** Until when (ms) the claim holds unless renewed; past it, another gateway may take it over. */
  lease_until: Generated<number | null>;
  /** Why the gateway running it should stop it; null when nobody asked. */
  stop_reason: Generated<string | null>;
}

/** Test labels of a PR that a trusted sender set. */
export interface PrLabelsTable {
  repo: string;
  pr: number;
  label: string;
  added_by: string;
  added_at: number;
}

/** A public job's place in its pull request's and author's fair share, while it runs. */
export interface JobSlotsTable {
  run_id: string;
  job_id: string;
  /** "owner/repo#number". */
  pr_key: string;
  author: string;
  taken_at: number;
}

export interface Database {
  runs: RunsTable;
  jobs: JobsTable;
  secret_keyring: SecretKeyringTable;
  secret_keys: SecretKeysTable;
  secret_values: SecretValuesTable;
  audit: AuditTable;
  events: EventsTable;
  event_payloads: EventPayloadsTable;
  outbox: OutboxTable;
  check_run_ids: CheckRunIdsTable;
  pr_heads: PrHeadsTable;
  approvals: ApprovalsTable;
  approval_waits: ApprovalWaitsTable;
  run_requests: RunRequestsTable;
  pr_labels: PrLabelsTable;
  console_sessions: ConsoleSessionsTable;
  admin_tokens: AdminTokensTable;
  login_links: LoginLinksTable;
  oidc_keys: OidcKeysTable;
  pauses: PausesTable;
  job_slots: JobSlotsTable;
}
