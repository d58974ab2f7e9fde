// The audit log: who released, revealed or changed which secret, when. Append-only — the table's
// triggers refuse UPDATE and DELETE. Entries name sets, keys and versions, never values.
import type SQLite from "better-sqlite3";
import type { AuditAction, AuditTable } from "./secrets-schema.js";

export interface AuditEntry {
  action: AuditAction;
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
  action: AuditAction;
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

type Row = Omit<AuditTable, "seq"> & { seq: number };

export class AuditLog {
  private readonly insertStmt: SQLite.Statement;

  constructor(private readonly sqlite: SQLite.Database) {
    this.insertStmt = sqlite.prepare(
      `INSERT INTO audit (at, actor, action, run_id, job_id, set_name, key, versions, detail)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  /** Waits until no async transaction of another module is open on the shared connection. */
  async ready(): Promise<void> {
    while (this.sqlite.inTransaction) await new Promise((r) => setImmediate(r));
  }

  async record(e: AuditEntry): Promise<void> {
    await this.ready();
    this.recordSync(e);
  }

  /** For callers already inside a synchronous transaction, so the entry commits with the change. */
  recordSync(e: AuditEntry): void {
    this.insertStmt.run(
      e.at ?? Date.now(),
      e.actor,
      e.action,
      e.runId ?? null,
      e.jobId ?? null,
      e.set ?? null,
      e.key ?? null,
      e.versions === undefined ? null : JSON.stringify(e.versions),
      e.detail ?? null,
    );
  }

  async list(filter: AuditFilter = {}): Promise<AuditRecord[]> {
    await this.ready();
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.set) {
      where.push("set_name = ?");
      args.push(filter.set);
    }
    if (filter.run) {
      where.push("run_id = ?");
      args.push(filter.run);
    }
    if (filter.action) {
      where.push("action = ?");
      args.push(filter.action);
    }
    const cond = where.length ? `WHERE ${where.join(" AND ")}` : "";
    const limit = filter.limit && filter.limit > 0 ? `LIMIT ${Math.floor(filter.limit)}` : "";
    const rows = this.sqlite
      .prepare(
        `SELECT * FROM (SELECT * FROM audit ${cond} ORDER BY seq DESC ${limit}) ORDER BY seq`,
      )
      .all(...args) as Row[];
    return rows.map((r) => ({
      seq: r.seq,
      at: r.at,
      actor: r.actor,
      action: r.action,
      runId: r.run_id,
      jobId: r.job_id,
      set: r.set_name,
      key: r.key,
      versions: r.versions === null ? null : JSON.parse(r.versions),
      detail: r.detail,
    }));
  }
}
