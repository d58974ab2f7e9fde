// The append-only audit log. Part of the Store interface (../types.ts).
import type { AuditQuery } from "../audit-query.js";

export interface AuditEntry {
  action: string;
  actor: string;
  runId?: string | null;
  jobId?: string | null;
  set?: string | null;
  key?: string | null;
  /** key -> version(s), or a list of versions. Never values. */
  versions?: unknown;
  detail?: string | null;
  at?: number;
}

export interface AuditRecord {
  seq: number;
  at: number;
  actor: string;
  action: string;
  runId: string | null;
  jobId: string | null;
  set: string | null;
  key: string | null;
  versions: unknown;
  detail: string | null;
}

export interface AuditFilter {
  set?: string;
  run?: string;
  action?: string;
  /** The newest `limit` entries (still listed oldest first). */
  limit?: number;
}

export interface AuditPageRequest {
  limit: number;
  /** Entries older than this one (its seq). */
  before?: number;
  /** Entries newer than this one; wins over `before`. */
  after?: number;
}

export interface AuditPage {
  /** Newest first. */
  items: AuditRecord[];
  /** The cursor (`after`) for the next newer page; null when this page holds the newest. */
  newerAfter: number | null;
  /** The cursor (`before`) for the next older page; null when this page holds the oldest. */
  olderBefore: number | null;
}

/** The audit log: append-only (the database refuses UPDATE and DELETE); never values. */
export interface AuditRepo {
  record(e: AuditEntry): Promise<void>;
  /** Oldest first. */
  list(filter?: AuditFilter): Promise<AuditRecord[]>;
  /** One keyset page, newest first. */
  page(q: AuditQuery, req: AuditPageRequest): Promise<AuditPage>;
  /** Every matching entry, newest first, read in batches so memory stays flat. */
  scan(q: AuditQuery, from?: { before?: number }, batch?: number): AsyncGenerator<AuditRecord>;
}
