// Stored webhook deliveries: written by intake before the acknowledgement (DESIGN.md invariant 6),
// then claimed and settled by the processing loop.
import { type Kysely, type Selectable, sql } from "kysely";
import type { EventsTable } from "../events-schema.js";
import type { Database } from "../schema.js";
import type {
  CompletionWrite,
  Engine,
  EventQueue,
  EventState,
  NewEvent,
  StoredEvent,
} from "../types.js";
import { type Ctx, changed } from "./context.js";
import { held, leaseExpired, leaseOf, leftByTheDead } from "./leases.js";

type EventRow = Selectable<EventsTable>;

const toStored = (r: EventRow, payload: string): StoredEvent => ({
  seq: r.seq,
  deliveryId: r.delivery_id,
  name: r.name,
  action: r.action,
  payload,
  state: r.state,
  attempts: r.attempts,
  receivedAt: r.received_at,
  error: r.error,
});

interface PendingInsert {
  event: NewEvent;
  now: number;
  resolve: (r: "stored" | "duplicate") => void;
  reject: (e: unknown) => void;
}

// Rows per INSERT: far below both engines' limits on bound parameters.
const CHUNK = 200;

/** Inserts deliveries, those of one batch in one transaction. Duplicates are answered as such. */
async function insertEvents(
  db: Kysely<Database>,
  batch: { event: NewEvent; now: number }[],
): Promise<boolean[]> {
  const seqOf = new Map<string, number>();
  for (let i = 0; i < batch.length; i += CHUNK) {
    const rows = await db
      .insertInto("events")
      .values(
        batch.slice(i, i + CHUNK).map(({ event: e, now }) => ({
          delivery_id: e.deliveryId,
          name: e.name,
          action: e.action,
          state: e.state ?? "pending",
          attempts: 0,
          received_at: now,
          next_attempt_at: now,
          error: e.error ?? null,
        })),
      )
      .onConflict((oc) => oc.column("delivery_id").doNothing())
      .returning(["seq", "delivery_id"])
      .execute();
    for (const r of rows) seqOf.set(r.delivery_id, r.seq);
  }
  // The first of the batch with an id that was stored owns it; later ones are duplicates.
  const stored = batch.map(({ event }) => {
    const seq = seqOf.get(event.deliveryId);
    if (seq === undefined) return undefined;
    seqOf.delete(event.deliveryId);
    return { seq, payload: event.payload };
  });
  const payloads = stored.filter((s) => s !== undefined);
  for (let i = 0; i < payloads.length; i += CHUNK) {
    await db
      .insertInto("event_payloads")
      .values(payloads.slice(i, i + CHUNK))
      .execute();
  }
  return stored.map((s) => s !== undefined);
}

/**
 * PostgreSQL: a batch as one statement, so one round trip that commits on its own, where a
 * transaction takes four. The first of the batch with an id owns it (DISTINCT ON); the rows are
 * numbered in arrival order so that their seqs follow it.
 */
async function insertEventsAtOnce(
  db: Kysely<Database>,
  batch: { event: NewEvent; now: number }[],
): Promise<boolean[]> {
  const values = batch.map(
    ({ event: e, now }, i) =>
      sql`(${i}::int, ${e.deliveryId}::text, ${e.name}::text, ${e.action}::text, ${e.state ?? "pending"}::text, ${now}::bigint, ${e.error ?? null}::text, ${e.payload}::text)`,
  );
  const { rows } = await sql<{ ord: number }>`
    WITH input (ord, delivery_id, name, action, state, at, error, payload) AS (
      VALUES ${sql.join(values)}
    ), first AS (
      SELECT DISTINCT ON (delivery_id) * FROM input ORDER BY delivery_id, ord
    ), stored AS (
      INSERT INTO events (delivery_id, name, action, state, attempts, received_at, next_attempt_at, error)
      SELECT delivery_id, name, action, state, 0, at, at, error FROM first ORDER BY ord
      ON CONFLICT (delivery_id) DO NOTHING
      RETURNING seq, delivery_id
    ), payloads AS (
      INSERT INTO event_payloads (seq, payload)
      SELECT stored.seq, first.payload FROM stored JOIN first USING (delivery_id)
    )
    SELECT first.ord FROM stored JOIN first USING (delivery_id)`.execute(db);
  const owners = new Set(rows.map((r) => r.ord));
  return batch.map((_, i) => owners.has(i));
}

/**
 * Group commit: deliveries arriving in the same turn of the event loop share one transaction, so
 * concurrent deliveries cost one commit, not one each.
 */
export class EventBatcher {
  private batch: PendingInsert[] = [];

  constructor(
    private readonly db: Kysely<Database>,
    private readonly engine: Engine,
  ) {}

  insert(event: NewEvent, now: number): Promise<"stored" | "duplicate"> {
    return new Promise((resolve, reject) => {
      this.batch.push({ event, now, resolve, reject });
      if (this.batch.length === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.batch;
    this.batch = [];
    try {
      const stored =
        this.engine === "postgres" && batch.length <= CHUNK
          ? await insertEventsAtOnce(this.db, batch)
          : await this.db.transaction().execute((trx) => insertEvents(trx, batch));
      batch.forEach((b, i) => {
        b.resolve(stored[i] ? "stored" : "duplicate");
      });
    } catch (e) {
      // The whole batch rolled back: none is acknowledged, so the forge can redeliver each.
      for (const b of batch) b.reject(e);
    }
  }
}

export class EventQueueImpl implements EventQueue {
  constructor(
    private readonly c: Ctx,
    private readonly batcher: EventBatcher | undefined,
  ) {}

  async insert(event: NewEvent, now = Date.now()): Promise<"stored" | "duplicate"> {
    if (this.batcher) return this.batcher.insert(event, now);
    const [stored] = await insertEvents(this.c.db, [{ event, now }]);
    return stored ? "stored" : "duplicate";
  }

  async resetInterrupted(now = Date.now()): Promise<number> {
    const q = this.c.db
      .updateTable("events")
      .set({ state: "pending", lease_owner: null, lease_until: null })
      .where("state", "=", "processing");
    return changed(await q.where(leftByTheDead(this.c, now)).executeTakeFirst());
  }

  /**
   * Events are processed in arrival order, one at a time across every gateway: none is claimed
   * while an older one is in flight (a dead gateway's included, until its lease runs out), so a
   * comment is never acted on before the pull request event that came first. One statement finds
   * the oldest event in flight or due (the first such entry of the `events_open` index) and
   * claims it if it is due, or in flight under a lease that ran out; while it is in another
   * gateway's hands, nothing is claimed. Gateways claiming at once (PostgreSQL) need no lock of
   * their own: a claim or a completion never makes another event the oldest, only ends this one,
   * and the update re-reads its row once the other's commits (READ COMMITTED), finds it taken or
   * done, and claims nothing.
   */
  async claimNext(now = Date.now()): Promise<StoredEvent | undefined> {
    // SQLite, without statistics, would sort every open event by another index; told this one, it
    // reads the first entries.
    const oldest = sql<number>`(SELECT seq FROM events
      ${this.c.engine === "sqlite" ? sql`INDEXED BY events_open` : sql``}
      WHERE state IN ('pending', 'processing') AND (state = 'processing' OR next_attempt_at <= ${now})
      ORDER BY seq LIMIT 1)`;
    const lease = leaseOf(this.c, now);
    // A claim is a lease, not an outcome: should the server lose it in a crash, the event is
    // pending again, as after a gateway's crash, and is claimed again. So on PostgreSQL a claim of
    // its own (not in a caller's transaction) commits without waiting for the disk, and the loop
    // waits for one flush per event (its completion), not two. The setting is the statement's
    // transaction's alone (set_config's `true`): it ends with the claim.
    const relaxed = this.c.engine === "postgres" && !this.c.db.isTransaction;
    // Written out rather than built: the loop claims after every event, and building this
    // statement cost more than SQLite takes to run it.
    const row = (
      await sql<EventRow & { payload: string | null }>`UPDATE events
        SET state = 'processing', attempts = attempts + 1,
          lease_owner = ${lease.lease_owner}, lease_until = ${lease.lease_until}
        WHERE seq = ${oldest}
          AND ((state = 'pending' AND next_attempt_at <= ${now})
            OR (state = 'processing' AND ${leaseExpired(this.c, now)}))
          ${relaxed ? sql`AND set_config('synchronous_commit', 'off', true) = 'off'` : sql``}
        RETURNING *, (SELECT p.payload FROM event_payloads p WHERE p.seq = events.seq) AS payload`.execute(
        this.c.db,
      )
    ).rows[0];
    if (!row) return undefined;
    this.c.keepAlive();
    return toStored(row, row.payload ?? "");
  }

  async complete(seq: number, writes: CompletionWrite[] = [], now = Date.now()): Promise<void> {
    const settle = async (db: Kysely<Database>) => {
      const r = await db
        .updateTable("events")
        .set({ state: "done", finished_at: now, error: null, lease_until: null })
        .where("seq", "=", seq)
        .where("state", "=", "processing")
        .where(held(this.c))
        .executeTakeFirst();
      if (changed(r) !== 1)
        throw new Error(`event ${seq} is not claimed by this gateway; its completion is dropped`);
    };
    // The update alone is atomic: a transaction only when it carries the handler's writes.
    if (writes.length === 0) return settle(this.c.db);
    await this.c.atomic(async (db, tx) => {
      for (const w of writes) await w(tx);
      await settle(db);
    });
  }

  async retryLater(seq: number, at: number, error: string): Promise<void> {
    await this.c.db
      .updateTable("events")
      .set({ state: "pending", next_attempt_at: at, error, lease_until: null })
      .where("seq", "=", seq)
      .where("state", "=", "processing")
      .where(held(this.c))
      .execute();
  }

  async finish(
    seq: number,
    state: "failed" | "rejected",
    error: string,
    now = Date.now(),
  ): Promise<void> {
    await this.c.db
      .updateTable("events")
      .set({ state, error, finished_at: now, lease_until: null })
      .where("seq", "=", seq)
      .where(held(this.c))
      .execute();
  }

  async nextDueAt(): Promise<number | undefined> {
    const r = await this.c.db
      .selectFrom("events")
      .select((eb) => eb.fn.min("next_attempt_at").as("at"))
      .where("state", "=", "pending")
      .executeTakeFirst();
    return r?.at ?? undefined;
  }

  async depth(): Promise<number> {
    const r = await this.c.db
      .selectFrom("events")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("state", "in", ["pending", "processing"])
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async get(deliveryId: string): Promise<StoredEvent | undefined> {
    const r = await this.c.db
      .selectFrom("events as e")
      .innerJoin("event_payloads as p", "p.seq", "e.seq")
      .selectAll("e")
      .select("p.payload")
      .where("e.delivery_id", "=", deliveryId)
      .executeTakeFirst();
    return r ? toStored(r, r.payload) : undefined;
  }

  async list(state?: EventState): Promise<StoredEvent[]> {
    let q = this.c.db.selectFrom("events").selectAll();
    if (state) q = q.where("state", "=", state);
    const rows = await q.orderBy("seq").execute();
    return rows.map((r) => toStored(r, ""));
  }
}
