// The Store: every durable record of Airlock behind one interface, with SQLite (embedded default)
// and PostgreSQL behind it (src/store/kysely/, one set of queries over both). Nothing outside
// src/store/ sees a driver, a dialect or a synchronous transaction: callers get a Store, and
// `transaction(fn)` hands `fn` the same Store bound to one transaction.
//
// Queues (webhook events, the outbox, run requests) are claimed with one statement that moves a
// row to its in-flight state under a lease (LeaseRepo: who holds it, until when); on PostgreSQL
// the row is chosen with FOR UPDATE SKIP LOCKED, so several gateways sharing one database never
// claim the same row. A claim is settled only by its holder; a claim whose lease ran out (its
// gateway died) is taken over by the next gateway that claims.
//
// Each repository's interface lives in ./repos/, by what it keeps; this module re-exports them all.
import type { OidcKeyRepo, SecretRepo, SessionRepo } from "./repos/access.js";
import type { ApprovalRepo, ApprovalWaitRepo, PrLabelRepo } from "./repos/approvals.js";
import type { AuditRepo } from "./repos/audit.js";
import type { CheckRunRepo, EventQueue, OutboxQueue, PauseRepo } from "./repos/queues.js";
import type { JobSlotRepo, RunRequestQueue } from "./repos/requests.js";
import type { RunRepo } from "./repos/runs.js";
import type { LeaseRepo, RetentionRepo } from "./repos/upkeep.js";

export type { AuditQuery } from "./audit-query.js";
export type { EventState } from "./events-schema.js";
export type { OutboxState } from "./outbox-schema.js";
export * from "./repos/access.js";
export * from "./repos/approvals.js";
export * from "./repos/audit.js";
export * from "./repos/queues.js";
export * from "./repos/requests.js";
export * from "./repos/runs.js";
export * from "./repos/upkeep.js";
export type { JobState, RunStatus } from "./schema.js";

export type Engine = "sqlite" | "postgres";

/** Every record store, alone or bound to one transaction. */
export interface Store {
  readonly runs: RunRepo;
  readonly events: EventQueue;
  readonly outbox: OutboxQueue;
  readonly checkRuns: CheckRunRepo;
  readonly requests: RunRequestQueue;
  readonly labels: PrLabelRepo;
  readonly approvals: ApprovalRepo;
  /** The approval inbox: commits waiting for an approval, and their notices. */
  readonly waits: ApprovalWaitRepo;
  readonly sessions: SessionRepo;
  readonly secrets: SecretRepo;
  readonly oidcKeys: OidcKeyRepo;
  readonly audit: AuditRepo;
  readonly leases: LeaseRepo;
  readonly retention: RetentionRepo;
  readonly pauses: PauseRepo;
  readonly jobSlots: JobSlotRepo;
  /**
   * Runs `fn` in one transaction: everything it does through `tx` commits together or not at all.
   * Called on a Store that is already a transaction, `fn` joins it. Using the outer Store inside
   * `fn` is a bug (it would wait for the transaction to end): it throws.
   */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` once the transaction this Store is bound to has committed (at once on a Store that
   * is not a transaction); never when it rolls back. For telling a loop that work is there to
   * claim: other connections see the rows only after the commit.
   */
  afterCommit(fn: () => void): void;
}

/** An open database: the Store and what concerns the connection itself. */
export interface OpenStore extends Store {
  readonly engine: Engine;
  /** Where the data lives, without credentials ("sqlite:/var/lib/airlock/airlock.db", "postgres://db:5432/airlock"). */
  readonly location: string;
  /** A round trip to the database (health checks). */
  ping(): Promise<void>;
  /**
   * A write that must reach the database (readiness): a read still succeeds on a read-only or full
   * disk, a read-only server or a broken file; only a write shows that the store can still store.
   */
  probeWrite(now?: number): Promise<void>;
  /** The server's version ("SQLite 3.53.0", "PostgreSQL 15.14"). */
  version(): Promise<string>;
  close(): Promise<void>;
}
