// The audit log: who released, revealed or changed which secret, when. Append-only — the table's
// triggers refuse UPDATE and DELETE. Entries name sets, keys and versions, never values.
import type SQLite from "better-sqlite3";
import { type AuditQuery, actionsOf } from "./audit-query.js";
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
    const { cond, args } = whereOf({
      ...(filter.set ? { set: filter.set } : {}),
      ...(filter.run ? { run: filter.run } : {}),
      ...(filter.action ? { actions: [filter.action] } : {}),
    });
    const limit = filter.limit && filter.limit > 0 ? `LIMIT ${Math.floor(filter.limit)}` : "";
    const rows = this.sqlite
      .prepare(
        `SELECT * FROM (SELECT * FROM audit ${sqlWhere(cond)} ORDER BY seq DESC ${limit}) ORDER BY seq`,
      )
      .all(...args) as Row[];
    return rows.map(recordOf);
  }

  /**
   * One page of entries, newest first, after a keyset cursor: `before` (older than that entry)
   * or `after` (newer than it). The cursor is the entry's sequence number, which the database
   * never reuses, so pages neither skip nor repeat an entry while new ones are added.
   */
  async page(q: AuditQuery, req: AuditPageRequest): Promise<AuditPage> {
    await this.ready();
    const limit = Math.max(1, Math.min(Math.floor(req.limit), 1000));
    const where = whereOf(filterOf(q));
    // Each existence check walks away from the page, so it stops at the first match.
    const exists = (dir: "older" | "newer", seq: number) =>
      this.select(where, dir, seq, 1).length > 0;

    if (req.after !== undefined) {
      const rows = this.select(where, "newer", req.after, limit + 1);
      const items = rows.slice(0, limit).reverse().map(recordOf);
      const oldest = items.at(-1)?.seq ?? req.after + 1;
      return {
        items,
        newerAfter: rows.length > limit ? (items[0]?.seq ?? null) : null,
        olderBefore: exists("older", oldest) ? oldest : null,
      };
    }
    const rows = this.select(where, "older", req.before, limit + 1);
    const items = rows.slice(0, limit).map(recordOf);
    const newest = items[0]?.seq ?? (req.before !== undefined ? req.before - 1 : undefined);
    return {
      items,
      newerAfter: newest !== undefined && exists("newer", newest) ? newest : null,
      olderBefore: rows.length > limit ? (items.at(-1)?.seq ?? null) : null,
    };
  }

  /** Every matching entry, newest first, read in keyset batches so memory stays flat. */
  async *scan(
    q: AuditQuery,
    from: { before?: number } = {},
    batch = 1000,
  ): AsyncGenerator<AuditRecord> {
    const where = whereOf(filterOf(q));
    let before = from.before;
    for (;;) {
      await this.ready();
      const rows = this.select(where, "older", before, batch);
      yield* rows.map(recordOf);
      if (rows.length < batch) return;
      before = rows.at(-1)?.seq;
    }
  }

  /** Up to `n` matching rows past `seq` (none: from the newest), nearest first. */
  private select(
    where: { cond: string[]; args: unknown[] },
    dir: "older" | "newer",
    seq: number | undefined,
    n: number,
  ): Row[] {
    const cond =
      seq === undefined ? where.cond : [...where.cond, dir === "older" ? "seq < ?" : "seq > ?"];
    const order = dir === "older" ? "DESC" : "ASC";
    return this.sqlite
      .prepare(`SELECT * FROM audit ${sqlWhere(cond)} ORDER BY seq ${order} LIMIT ${n}`)
      .all(...where.args, ...(seq === undefined ? [] : [seq])) as Row[];
  }
}

interface Where {
  set?: string;
  run?: string;
  actor?: string;
  /** Exact actions, or a prefix ending in `*`. */
  actions?: string[];
  since?: number;
  until?: number;
}

function filterOf(q: AuditQuery): Where {
  const actions = q.kind === undefined ? undefined : actionsOf(q.kind);
  // A kind that is no action name matches nothing, rather than everything.
  return { ...q, ...(q.kind !== undefined ? { actions: actions ?? [] } : {}) };
}

// Conditions only ever compare columns with bound values. The seq cursor walks the primary key,
// or audit_run / audit_set (both end in seq) when a run or set is given; kind, actor and time are
// checked on the rows that walk reaches, which bounds a rare filter to one pass over the table
// (tens of milliseconds per million entries), so they need no index of their own.
function whereOf(w: Where): { cond: string[]; args: unknown[] } {
  const cond: string[] = [];
  const args: unknown[] = [];
  const eq = (col: string, v: string | undefined) => {
    if (v === undefined) return;
    cond.push(`${col} = ?`);
    args.push(v);
  };
  eq("set_name", w.set);
  eq("run_id", w.run);
  eq("actor", w.actor);
  if (w.actions) {
    const exact = w.actions.filter((a) => !a.endsWith("*"));
    const prefixes = w.actions.filter((a) => a.endsWith("*"));
    const any = [
      ...(exact.length ? [`action IN (${exact.map(() => "?").join(", ")})`] : []),
      // GLOB, not LIKE: case-sensitive, and `_` is no wildcard.
      ...prefixes.map(() => "action GLOB ?"),
    ];
    cond.push(any.length ? `(${any.join(" OR ")})` : "0");
    args.push(...exact, ...prefixes);
  }
  if (w.since !== undefined) {
    cond.push("at >= ?");
    args.push(w.since);
  }
  if (w.until !== undefined) {
    cond.push("at < ?");
    args.push(w.until);
  }
  return { cond, args };
}

const sqlWhere = (cond: string[]) => (cond.length ? `WHERE ${cond.join(" AND ")}` : "");

function recordOf(r: Row): AuditRecord {
  return {
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
  };
}
