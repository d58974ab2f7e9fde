// Retention: finished records older than the policy are deleted in batches, each batch its own
// short transaction, so that intake and the loops are never held up behind one long delete. Work in
// flight (pending or claimed deliveries, unsent outbox items, queued or running requests and runs)
// and the audit log (append-only) are never touched.
import type { PruneCounts, RetentionPolicy, RetentionRepo, SessionRepo } from "../types.js";
import type { Ctx } from "./context.js";

/** Rows per delete: small enough to keep each transaction short on both engines. */
const BATCH = 500;

const ENDED_RUN = ["passed", "failed", "cancelled", "error", "interrupted"] as const;

export class RetentionRepoImpl implements RetentionRepo {
  constructor(
    private readonly c: Ctx,
    private readonly sessions: SessionRepo,
  ) {}

  /** Deletes batches of the keys `select` finds until none is left; how many. */
  private async drain<K extends string | number>(
    select: () => Promise<K[]>,
    remove: (keys: K[]) => Promise<void>,
    seen?: K[],
  ): Promise<number> {
    let n = 0;
    for (;;) {
      const keys = await select();
      if (keys.length === 0) return n;
      await remove(keys);
      seen?.push(...keys);
      n += keys.length;
      if (keys.length < BATCH) return n;
    }
  }

  async prune(policy: RetentionPolicy, now = Date.now()): Promise<PruneCounts> {
    const { db } = this.c;
    const before = (keep: number | null) => (keep === null ? null : now - keep);
    const counts: PruneCounts = {
      deliveries: 0,
      outbox: 0,
      checkRuns: 0,
      runs: 0,
      requests: 0,
      sessions: 0,
      runIds: [],
    };

    const deliveries = before(policy.deliveries);
    if (deliveries !== null) {
      counts.deliveries = await this.drain(
        async () =>
          (
            await db
              .selectFrom("events")
              .select("seq")
              .where("state", "in", ["done", "failed", "rejected"])
              .where((eb) => eb(eb.fn.coalesce("finished_at", "received_at"), "<", deliveries))
              .limit(BATCH)
              .execute()
          ).map((r) => r.seq),
        (seqs) =>
          this.c.atomic(async (tx) => {
            await tx.deleteFrom("event_payloads").where("seq", "in", seqs).execute();
            await tx.deleteFrom("events").where("seq", "in", seqs).execute();
          }),
      );
    }

    const outbox = before(policy.outbox);
    if (outbox !== null) {
      counts.outbox = await this.drain(
        async () =>
          (
            await db
              .selectFrom("outbox")
              .select("seq")
              .where("state", "in", ["done", "superseded", "failed"])
              .where((eb) => eb(eb.fn.coalesce("finished_at", "created_at"), "<", outbox))
              .limit(BATCH)
              .execute()
          ).map((r) => r.seq),
        async (seqs) => void (await db.deleteFrom("outbox").where("seq", "in", seqs).execute()),
      );
    }

    const checkRuns = before(policy.checkRuns);
    if (checkRuns !== null) {
      const r = await db.deleteFrom("check_run_ids").where("updated_at", "<", checkRuns).execute();
      counts.checkRuns = r.reduce((n, x) => n + Number(x.numDeletedRows), 0);
    }

    const runs = before(policy.runs);
    if (runs !== null) {
      counts.runs = await this.drain(
        async () =>
          (
            await db
              .selectFrom("runs")
              .select("id")
              .where("status", "in", ENDED_RUN)
              .where((eb) => eb(eb.fn.coalesce("finished_at", "created_at"), "<", runs))
              // A run of a request still queued or running stays (its next attempt reads it).
              .where(({ not, exists, selectFrom }) =>
                not(
                  exists(
                    selectFrom("run_requests as q")
                      .select("q.id")
                      .whereRef("q.id", "=", "runs.id")
                      .where("q.state", "in", ["queued", "running"]),
                  ),
                ),
              )
              .limit(BATCH)
              .execute()
          ).map((r) => r.id),
        (ids) =>
          this.c.atomic(async (tx) => {
            await tx.deleteFrom("jobs").where("run_id", "in", ids).execute();
            await tx.deleteFrom("runs").where("id", "in", ids).execute();
          }),
        counts.runIds,
      );
      counts.requests = await this.drain(
        async () =>
          (
            await db
              .selectFrom("run_requests")
              .select("id")
              .where("state", "in", ["done", "cancelled"])
              .where((eb) => eb(eb.fn.coalesce("finished_at", "created_at"), "<", runs))
              .limit(BATCH)
              .execute()
          ).map((r) => r.id),
        async (ids) => void (await db.deleteFrom("run_requests").where("id", "in", ids).execute()),
      );
    }

    counts.sessions = await this.sessions.prune(now);
    return counts;
  }

  async existing(runIds: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    for (let i = 0; i < runIds.length; i += BATCH) {
      const rows = await this.c.db
        .selectFrom("runs")
        .select("id")
        .where("id", "in", runIds.slice(i, i + BATCH))
        .execute();
      for (const r of rows) found.add(r.id);
    }
    return found;
  }
}
