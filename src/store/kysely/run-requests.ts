// The gateway's run queue: a run is requested in the transaction that marks the webhook event
// done (so exactly once), started from here, and taken up again after a restart. Also the test
// labels of each PR that a trusted sender set.
import { randomBytes } from "node:crypto";
import { type Kysely, type Selectable, sql } from "kysely";
import type { Database, RunRequestsTable } from "../schema.js";
import type {
  ClaimRules,
  Interruption,
  NewRunRequest,
  PrLabelRepo,
  RequestSelection,
  RequestState,
  RunKind,
  RunRequestQueue,
  RunRequestRow,
  SettledListener,
  Store,
} from "../types.js";
import { type Ctx, changed } from "./context.js";
import { held, leaseExpired, leaseLive, leaseOf, leftByTheDead, takeTurns } from "./leases.js";

type Row = Selectable<RunRequestsTable>;

const toRequest = (r: Row): RunRequestRow => ({
  id: r.id,
  repo: r.repo,
  pr: r.pr,
  installationId: r.installation_id,
  headSha: r.head_sha,
  baseSha: r.base_sha,
  headRef: r.head_ref,
  author: r.author,
  kind: r.kind as RunKind,
  selection: r.selection === null ? null : (JSON.parse(r.selection) as RequestSelection),
  requestedBy: r.requested_by,
  state: r.state as RequestState,
  attempt: r.attempt,
  createdAt: r.created_at,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  note: r.note,
  stopReason: r.stop_reason,
});

/** A new request id: sortable by time, unique by its random part. */
export const newRequestId = (now = Date.now()) =>
  `${new Date(now).toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15)}-${randomBytes(4).toString("hex")}`;

/** Attempts of one request share its repo, PR, commit, kind and time. */
const attemptsOf = (db: Kysely<Database>, req: RunRequestRow) =>
  db
    .selectFrom("run_requests")
    .where("repo", "=", req.repo)
    .where("pr", "=", req.pr)
    .where("head_sha", "=", req.headSha)
    .where("kind", "=", req.kind)
    .where("created_at", "=", req.createdAt);

export class RunRequestQueueImpl implements RunRequestQueue {
  constructor(private readonly c: Ctx) {}

  onSettled(listener: SettledListener): () => void {
    this.c.shared.settled.add(listener);
    return () => this.c.shared.settled.delete(listener);
  }

  private async settled(rows: Row[], tx: Store): Promise<void> {
    for (const r of rows) {
      for (const l of this.c.shared.settled) await l(toRequest(r), tx);
    }
  }

  insert(req: NewRunRequest, now = Date.now()): Promise<void> {
    return this.c.atomic(async (db) => {
      // `now`, or just after the newest request when the clock has not moved past it.
      let createdAt = req.createdAt;
      if (createdAt === undefined) {
        const r = await db
          .selectFrom("run_requests")
          .select((eb) => eb.fn.max("created_at").as("t"))
          .executeTakeFirst();
        createdAt = r?.t == null ? now : Math.max(now, r.t + 1);
      }
      await db
        .insertInto("run_requests")
        .values({
          id: req.id,
          repo: req.repo,
          pr: req.pr,
          installation_id: req.installationId,
          head_sha: req.headSha,
          base_sha: req.baseSha,
          head_ref: req.headRef,
          author: req.author,
          kind: req.kind,
          selection: req.selection === null ? null : JSON.stringify(req.selection),
          requested_by: req.requestedBy,
          state: "queued",
          attempt: req.attempt ?? 1,
          created_at: createdAt,
          note: req.note ?? null,
        })
        .execute();
    });
  }

  cancelQueued(
    repo: string,
    pr: number,
    note: string,
    keepSha?: string,
    now = Date.now(),
  ): Promise<number> {
    return this.c.atomic(async (db, tx) => {
      const rows = await db
        .updateTable("run_requests")
        .set({ state: "cancelled", finished_at: now, note })
        .where("repo", "=", repo)
        .where("pr", "=", pr)
        .where("state", "=", "queued")
        .where("head_sha", "!=", keepSha ?? "")
        .returningAll()
        .execute();
      await this.settled(rows, tx);
      return rows.length;
    });
  }

  async askToStop(
    repo: string,
    pr: number,
    reason: string,
    o: { keepSha?: string; restrictedOnly?: boolean } = {},
  ): Promise<number> {
    const r = await this.c.db
      .updateTable("run_requests")
      .set({ stop_reason: reason })
      .where("repo", "=", repo)
      .where("pr", "=", pr)
      .where("state", "=", "running")
      .where("head_sha", "!=", o.keepSha ?? "")
      .$if(o.restrictedOnly === true, (q) => q.where("kind", "!=", "public"))
      .executeTakeFirst();
    return changed(r);
  }

  async stopsAsked(ids: string[]): Promise<{ id: string; reason: string }[]> {
    if (ids.length === 0) return [];
    const mine = this.c.shared.lease.holder;
    const rows = await this.c.db
      .selectFrom("run_requests")
      .select(["id", "stop_reason", "lease_owner"])
      .where("id", "in", ids)
      .where((eb) =>
        eb.or([
          eb.and([eb("state", "=", "running"), eb("stop_reason", "is not", null)]),
          eb.and([eb("lease_owner", "is not", null), eb("lease_owner", "!=", mine)]),
        ]),
      )
      .execute();
    return rows.map((r) => ({
      id: r.id,
      reason:
        r.lease_owner !== null && r.lease_owner !== mine
          ? "another gateway took the run over: this one stalled past its lease"
          : r.stop_reason!,
    }));
  }

  claimNext(now = Date.now(), rules: ClaimRules = {}): Promise<RunRequestRow | undefined> {
    return this.c.atomic(async (db) => {
      await takeTurns(this.c, db, "run_requests");
      const inState = (state: RequestState) =>
        db
          .selectFrom("run_requests")
          .selectAll()
          .where("state", "=", state)
          .orderBy("created_at")
          .orderBy("attempt")
          .orderBy("id");
      const running = (await inState("running").where(leaseLive(this.c, now)).execute()).map(
        toRequest,
      );
      if (rules.running !== undefined && running.length >= rules.running) return undefined;
      const { holds } = rules;
      // Without a share to check, the oldest is the one.
      const queued = await inState("queued")
        .$if(!holds, (q) => q.limit(1))
        .execute();
      const next = queued.map(toRequest).find((q) => !holds?.(q, running));
      if (!next) return undefined;
      const r = await db
        .updateTable("run_requests")
        .set({ state: "running", started_at: now, ...leaseOf(this.c, now) })
        .where("id", "=", next.id)
        .where("state", "=", "queued")
        .returningAll()
        .executeTakeFirst();
      if (!r) return undefined;
      this.c.keepAlive();
      return toRequest(r);
    });
  }

  async adoptAbandoned(now = Date.now()): Promise<RunRequestRow[]> {
    const { db } = this.c;
    let abandoned = db
      .selectFrom("run_requests")
      .select("id")
      .where("state", "=", "running")
      .where(leaseExpired(this.c, now));
    if (this.c.engine === "postgres") abandoned = abandoned.forUpdate().skipLocked();
    const rows = await db
      .updateTable("run_requests")
      .set(leaseOf(this.c, now))
      .where("id", "in", abandoned)
      .returningAll()
      .execute();
    if (rows.length > 0) this.c.keepAlive();
    return rows
      .map(toRequest)
      .sort((a, b) => a.createdAt - b.createdAt || a.attempt - b.attempt || (a.id < b.id ? -1 : 1));
  }

  async resetInterrupted(now = Date.now()): Promise<number> {
    const r = await this.c.db
      .updateTable("run_requests")
      .set({ lease_owner: null, lease_until: null })
      .where("state", "=", "running")
      .where(leftByTheDead(this.c, now))
      .executeTakeFirst();
    return changed(r);
  }

  finish(id: string, state: "done" | "cancelled", note?: string, now = Date.now()) {
    return this.c.atomic(async (db, tx) => {
      const rows = await db
        .updateTable("run_requests")
        .set((eb) => ({
          state,
          finished_at: now,
          note: eb.fn.coalesce(eb.val(note ?? null), eb.ref("note")),
          lease_until: null,
        }))
        .where("id", "=", id)
        // Only the holder ends a request: one another gateway took over is left to that one.
        .where(held(this.c))
        .returningAll()
        .execute();
      await this.settled(rows, tx);
    });
  }

  requeue(
    req: RunRequestRow,
    newId: string,
    now = Date.now(),
    why = "interrupted",
    by: Interruption | null = null,
  ): Promise<void> {
    return this.c.atomic(async (db, tx) => {
      // Only the attempt's holder ends it: one another gateway took over is left to that one.
      const ended = await db
        .updateTable("run_requests")
        .set({
          state: "done",
          finished_at: now,
          note: `${why}; taken up again as ${newId}`,
          interrupted_by: by,
          lease_until: null,
        })
        .where("id", "=", req.id)
        .where("state", "in", ["queued", "running"])
        .where(held(this.c))
        .executeTakeFirst();
      if (changed(ended) !== 1) return;
      await tx.requests.insert(
        { ...req, id: newId, attempt: req.attempt + 1, note: null, createdAt: req.createdAt },
        now,
      );
    });
  }

  async attemptsSpent(req: RunRequestRow): Promise<number> {
    const r = await attemptsOf(this.c.db, req)
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("attempt", "<", req.attempt)
      .where("interrupted_by", "in", ["shutdown", "lost"])
      .executeTakeFirstOrThrow();
    return req.attempt - Number(r.n);
  }

  async attemptsLost(req: RunRequestRow): Promise<number> {
    const r = await attemptsOf(this.c.db, req)
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("attempt", "<", req.attempt)
      .where("interrupted_by", "=", "lost")
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async attemptPending(req: RunRequestRow): Promise<boolean> {
    const r = await attemptsOf(this.c.db, req)
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("state", "in", ["queued", "running"])
      .executeTakeFirstOrThrow();
    return Number(r.n) > 0;
  }

  async earlierAttempts(req: RunRequestRow): Promise<string[]> {
    const rows = await attemptsOf(this.c.db, req)
      .select("id")
      .where("attempt", "<", req.attempt)
      .orderBy("attempt")
      .execute();
    return rows.map((r) => r.id);
  }

  async get(id: string): Promise<RunRequestRow | undefined> {
    const r = await this.c.db
      .selectFrom("run_requests")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return r ? toRequest(r) : undefined;
  }

  async inState(state: RequestState): Promise<RunRequestRow[]> {
    const rows = await this.c.db
      .selectFrom("run_requests")
      .selectAll()
      .where("state", "=", state)
      .orderBy("created_at")
      .orderBy("attempt")
      .orderBy("id")
      .execute();
    return rows.map(toRequest);
  }

  async holdsClaim(id: string): Promise<boolean> {
    let q = this.c.db
      .selectFrom("run_requests")
      .select("id")
      .where("id", "=", id)
      .where("state", "=", "running")
      .where("lease_owner", "=", this.c.shared.lease.holder);
    if (this.c.engine === "postgres") q = q.forUpdate();
    return (await q.executeTakeFirst()) !== undefined;
  }

  async jobOwner(repo: string, pr: number, sha: string, jobId: string) {
    const r = await this.c.db
      .selectFrom("run_requests as q")
      .select("q.id")
      .where("q.repo", "=", repo)
      .where("q.pr", "=", pr)
      .where("q.head_sha", "=", sha)
      .where(({ exists, selectFrom }) =>
        exists(
          selectFrom("jobs as j")
            .select("j.seq")
            .whereRef("j.run_id", "=", "q.id")
            .where("j.job_id", "=", jobId),
        ),
      )
      .orderBy("q.created_at", "desc")
      .orderBy("q.attempt", "desc")
      .orderBy("q.id", "desc")
      .limit(1)
      .executeTakeFirst();
    return r?.id;
  }

  async forPr(repo: string, pr: number, sha?: string): Promise<RunRequestRow[]> {
    let q = this.c.db
      .selectFrom("run_requests")
      .selectAll()
      .where("repo", "=", repo)
      .where("pr", "=", pr);
    if (sha) q = q.where("head_sha", "=", sha);
    const rows = await q.orderBy("created_at").orderBy("attempt").orderBy("id").execute();
    return rows.map(toRequest);
  }

  async newestPerRepo(limit: number): Promise<RunRequestRow[]> {
    const { rows } = await sql<Row>`
      SELECT * FROM (
        SELECT r.*, row_number() OVER (PARTITION BY repo ORDER BY created_at DESC, attempt DESC) AS n
        FROM run_requests r) t
      WHERE n = 1 ORDER BY created_at DESC LIMIT ${Math.max(1, Math.floor(limit))}`.execute(
      this.c.db,
    );
    return rows.map(toRequest);
  }
}

export class PrLabelRepoImpl implements PrLabelRepo {
  constructor(private readonly c: Ctx) {}

  async add(repo: string, pr: number, label: string, by: string, now = Date.now()) {
    await this.c.db
      .insertInto("pr_labels")
      .values({ repo, pr, label, added_by: by, added_at: now })
      .onConflict((oc) =>
        oc.columns(["repo", "pr", "label"]).doUpdateSet({ added_by: by, added_at: now }),
      )
      .execute();
  }

  async remove(repo: string, pr: number, label: string) {
    await this.c.db
      .deleteFrom("pr_labels")
      .where("repo", "=", repo)
      .where("pr", "=", pr)
      .where("label", "=", label)
      .execute();
  }

  async trusted(repo: string, pr: number): Promise<string[]> {
    const rows = await this.c.db
      .selectFrom("pr_labels")
      .select("label")
      .where("repo", "=", repo)
      .where("pr", "=", pr)
      .orderBy("label")
      .execute();
    return rows.map((r) => r.label);
  }
}
