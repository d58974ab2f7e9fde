// The audit log: who released, revealed or changed which secret, when. Append-only — the table's
// triggers refuse UPDATE and DELETE. Entries name sets, keys and versions, never values.
import { type ExpressionBuilder, type Selectable, sql } from "kysely";
import { type AuditQuery, actionsOf } from "../audit-query.js";
import type { Database } from "../schema.js";
import type { AuditTable } from "../secrets-schema.js";
import type {
  AuditEntry,
  AuditFilter,
  AuditPage,
  AuditPageRequest,
  AuditRecord,
  AuditRepo,
} from "../types.js";
import type { Ctx } from "./context.js";

interface Where {
  set?: string | undefined;
  run?: string | undefined;
  actor?: string | undefined;
  /** Exact actions, or a prefix ending in `*`. */
  actions?: string[] | undefined;
  since?: number | undefined;
  until?: number | undefined;
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
const whereOf = (w: Where) => (eb: ExpressionBuilder<Database, "audit">) => {
  const cond = [];
  if (w.set !== undefined) cond.push(eb("set_name", "=", w.set));
  if (w.run !== undefined) cond.push(eb("run_id", "=", w.run));
  if (w.actor !== undefined) cond.push(eb("actor", "=", w.actor));
  if (w.actions) {
    const exact = w.actions.filter((a) => !a.endsWith("*"));
    // A prefix compares the action's first characters: case-sensitive, and no wildcards.
    const prefixes = w.actions
      .filter((a) => a.endsWith("*"))
      .map((a) => a.slice(0, -1))
      .map((p) => eb(sql<string>`substr(action, 1, ${p.length})`, "=", p));
    const any = [...(exact.length ? [eb("action", "in", exact)] : []), ...prefixes];
    cond.push(any.length ? eb.or(any) : sql<boolean>`1 = 0`);
  }
  if (w.since !== undefined) cond.push(eb("at", ">=", w.since));
  if (w.until !== undefined) cond.push(eb("at", "<", w.until));
  return eb.and(cond);
};

function recordOf(r: Selectable<AuditTable>): AuditRecord {
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

export class AuditRepoImpl implements AuditRepo {
  constructor(private readonly c: Ctx) {}

  async record(e: AuditEntry): Promise<void> {
    await this.c.db
      .insertInto("audit")
      .values({
        at: e.at ?? Date.now(),
        actor: e.actor,
        action: e.action,
        run_id: e.runId ?? null,
        job_id: e.jobId ?? null,
        set_name: e.set ?? null,
        key: e.key ?? null,
        versions: e.versions === undefined ? null : JSON.stringify(e.versions),
        detail: e.detail ?? null,
      })
      .execute();
  }

  async list(filter: AuditFilter = {}): Promise<AuditRecord[]> {
    let q = this.c.db
      .selectFrom("audit")
      .selectAll()
      .where(
        whereOf({
          set: filter.set,
          run: filter.run,
          ...(filter.action ? { actions: [filter.action] } : {}),
        }),
      )
      .orderBy("seq", "desc");
    if (filter.limit && filter.limit > 0) q = q.limit(Math.floor(filter.limit));
    return (await q.execute()).reverse().map(recordOf);
  }

  /**
   * One page of entries, newest first, after a keyset cursor: `before` (older than that entry)
   * or `after` (newer than it). The cursor is the entry's sequence number, which the database
   * never reuses, so pages neither skip nor repeat an entry while new ones are added.
   */
  async page(q: AuditQuery, req: AuditPageRequest): Promise<AuditPage> {
    const limit = Math.max(1, Math.min(Math.floor(req.limit), 1000));
    const where = filterOf(q);
    // Each existence check walks away from the page, so it stops at the first match.
    const exists = async (dir: "older" | "newer", seq: number) =>
      (await this.select(where, dir, seq, 1)).length > 0;

    if (req.after !== undefined) {
      const rows = await this.select(where, "newer", req.after, limit + 1);
      const items = rows.slice(0, limit).reverse().map(recordOf);
      const oldest = items.at(-1)?.seq ?? req.after + 1;
      return {
        items,
        newerAfter: rows.length > limit ? (items[0]?.seq ?? null) : null,
        olderBefore: (await exists("older", oldest)) ? oldest : null,
      };
    }
    const rows = await this.select(where, "older", req.before, limit + 1);
    const items = rows.slice(0, limit).map(recordOf);
    const newest = items[0]?.seq ?? (req.before !== undefined ? req.before - 1 : undefined);
    return {
      items,
      newerAfter: newest !== undefined && (await exists("newer", newest)) ? newest : null,
      olderBefore: rows.length > limit ? (items.at(-1)?.seq ?? null) : null,
    };
  }

  async *scan(
    q: AuditQuery,
    from: { before?: number } = {},
    batch = 1000,
  ): AsyncGenerator<AuditRecord> {
    const where = filterOf(q);
    let before = from.before;
    for (;;) {
      const rows = await this.select(where, "older", before, batch);
      yield* rows.map(recordOf);
      if (rows.length < batch) return;
      before = rows.at(-1)?.seq;
    }
  }

  /** Up to `n` matching rows past `seq` (none: from the newest), nearest first. */
  private select(w: Where, dir: "older" | "newer", seq: number | undefined, n: number) {
    let q = this.c.db.selectFrom("audit").selectAll().where(whereOf(w));
    if (seq !== undefined) q = q.where("seq", dir === "older" ? "<" : ">", seq);
    return q
      .orderBy("seq", dir === "older" ? "desc" : "asc")
      .limit(n)
      .execute();
  }
}
