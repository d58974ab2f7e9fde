// One Store over kysely, for SQLite and PostgreSQL alike. A transaction is the same Store built
// over kysely's transaction handle; a repository that needs several statements to be atomic
// opens one, or joins the caller's.
import type { Kysely } from "kysely";
import type { Database } from "../schema.js";
import type { Engine, Store } from "../types.js";
import { ApprovalWaitRepoImpl } from "./approval-waits.js";
import { ApprovalRepoImpl } from "./approvals.js";
import { AuditRepoImpl } from "./audit.js";
import type { Ctx, Shared } from "./context.js";
import { EventBatcher, EventQueueImpl } from "./events.js";
import { JobSlotRepoImpl } from "./job-slots.js";
import { keepAlive, LeaseRepoImpl } from "./leases.js";
import { OidcKeyRepoImpl } from "./oidc-keys.js";
import { CheckRunRepoImpl, OutboxQueueImpl } from "./outbox.js";
import { PauseRepoImpl } from "./pauses.js";
import { RetentionRepoImpl } from "./retention.js";
import { PrLabelRepoImpl, RunRequestQueueImpl } from "./run-requests.js";
import { RunRepoImpl } from "./runs.js";
import { SecretRepoImpl } from "./secrets.js";
import { SessionRepoImpl } from "./sessions.js";

export interface EngineHooks {
  /** What `secrets.purgeDeleted` does on this engine. */
  purgeDeleted(): Promise<void>;
}

export class KyselyStore implements Store {
  readonly runs: RunRepoImpl;
  readonly events: EventQueueImpl;
  readonly outbox: OutboxQueueImpl;
  readonly checkRuns: CheckRunRepoImpl;
  readonly requests: RunRequestQueueImpl;
  readonly labels: PrLabelRepoImpl;
  readonly approvals: ApprovalRepoImpl;
  readonly waits: ApprovalWaitRepoImpl;
  readonly sessions: SessionRepoImpl;
  readonly secrets: SecretRepoImpl;
  readonly oidcKeys: OidcKeyRepoImpl;
  readonly audit: AuditRepoImpl;
  readonly leases: LeaseRepoImpl;
  readonly retention: RetentionRepoImpl;
  readonly pauses: PauseRepoImpl;
  readonly jobSlots: JobSlotRepoImpl;

  constructor(
    readonly db: Kysely<Database>,
    readonly engine: Engine,
    private readonly shared: Shared,
    private readonly hooks: EngineHooks,
    batcher?: EventBatcher,
    /** A transaction's binding: what runs after its commit. */
    private readonly committed?: (() => void)[],
  ) {
    const c: Ctx = {
      db,
      engine,
      shared,
      atomic: (fn) => this.transaction((tx) => fn((tx as KyselyStore).db, tx)),
      keepAlive: () => keepAlive(shared.lease),
    };
    this.runs = new RunRepoImpl(c);
    // Deliveries are batched on the root binding only: inside a transaction they join it.
    this.events = new EventQueueImpl(
      c,
      db.isTransaction ? undefined : (batcher ?? new EventBatcher(db, engine)),
    );
    this.outbox = new OutboxQueueImpl(c);
    this.checkRuns = new CheckRunRepoImpl(c);
    this.requests = new RunRequestQueueImpl(c);
    this.labels = new PrLabelRepoImpl(c);
    this.audit = new AuditRepoImpl(c);
    this.approvals = new ApprovalRepoImpl(c);
    this.waits = new ApprovalWaitRepoImpl(c);
    this.sessions = new SessionRepoImpl(c);
    this.secrets = new SecretRepoImpl(c, hooks.purgeDeleted);
    this.oidcKeys = new OidcKeyRepoImpl(c);
    this.leases = new LeaseRepoImpl(c);
    this.retention = new RetentionRepoImpl(c, this.sessions);
    this.pauses = new PauseRepoImpl(c);
    this.jobSlots = new JobSlotRepoImpl(c);
    if (!db.isTransaction) shared.lease.beat ??= () => this.leases.renew();
  }

  async transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    if (this.db.isTransaction) return fn(this);
    const committed: (() => void)[] = [];
    const result = await this.db
      .transaction()
      .execute((trx) =>
        fn(new KyselyStore(trx, this.engine, this.shared, this.hooks, undefined, committed)),
      );
    for (const f of committed) f();
    return result;
  }

  afterCommit(fn: () => void): void {
    if (this.committed) this.committed.push(fn);
    else fn();
  }
}
