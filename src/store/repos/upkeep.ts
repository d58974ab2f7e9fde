// Leases on claimed work, singleton chores, and retention of finished records. Part of the Store
// interface (../types.ts).

/**
 * Claims of this open store: every row it claims is leased to `holder` for `ttlMs`, renewed by a
 * heartbeat while the process lives (started by the first claim, stopped by `close`).
 */
export interface LeaseRepo {
  /** Unique to the process: host, process id and a random part. */
  readonly holder: string;
  readonly ttlMs: number;
  /** Extends every lease this holder has on work in flight; how many. */
  renew(now?: number): Promise<number>;
  /** Ends this holder's leases on work still in flight, for another gateway to take at once. */
  release(): Promise<number>;
  /**
   * Runs `fn` unless another process sharing the database runs the chore `name` right now (a
   * PostgreSQL advisory lock, held by one connection while `fn` runs and released if the process
   * dies; SQLite has one gateway per database, so the chore is always its own).
   */
  /**
   * In a transaction: waits until no other transaction, of any gateway sharing the database, holds
   * the turn `name`, and holds it until this one ends (a PostgreSQL transaction advisory lock;
   * SQLite runs one transaction at a time anyway). For a read-then-write that must see every write
   * committed before it by another holder of the turn (a check's state computed from the store and
   * then stored to be sent).
   */
  takeTurns(name: string): Promise<void>;
  singleton<T>(
    name: string,
    fn: () => Promise<T>,
  ): Promise<{ ran: true; value: T } | { ran: false }>;
}

/** How long finished records are kept (ms); null keeps them for ever. */
export interface RetentionPolicy {
  /** Webhook deliveries processed, failed or rejected (and their bodies), by when they ended. */
  deliveries: number | null;
  /** Outbox items sent, superseded or failed, by when they ended. */
  outbox: number | null;
  /** Check run ids by commit, by their last write. */
  checkRuns: number | null;
  /** Finished runs with their jobs, and ended run requests, by when they ended. */
  runs: number | null;
}

export interface PruneCounts {
  deliveries: number;
  outbox: number;
  checkRuns: number;
  runs: number;
  requests: number;
  /** Expired sign-in sessions and used or expired links. */
  sessions: number;
  /** The runs removed (their logs are files: the caller removes those). */
  runIds: string[];
}

/** Removes what the policy no longer keeps, in small transactions; never work in flight or audit. */
export interface RetentionRepo {
  prune(policy: RetentionPolicy, now?: number): Promise<PruneCounts>;
  /** Which of these runs exist. */
  existing(runIds: string[]): Promise<Set<string>>;
}
