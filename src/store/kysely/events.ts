// Stored webhook deliveries: written by intake before the acknowledgement (DESIGN.md invariant 6),
// then claimed and settled by the processing loop.
import { type Kysely, type Selectable, sql } from "kysely";
import type { EventsTable } from "../events-schema.js";
import type { Database } from "../schema.js";
import type { CompletionWrite, EventQueue, EventState, NewEvent, StoredEvent } from "../types.js";
import { type Ctx, changed } from "./context.js";
import { held, leaseExpired, leaseOf, leftByTheDead } from "./leases.js";

type EventRow = Selectable<EventsTable>;

/** The transaction lock event claims take turns under ("ARLE"). */
const EVENT_CLAIMS = 0x41524c45;

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
 * Group commit: deliveries arriving in the same turn of the event loop share one transaction, so
 * concurrent deliveries cost one commit, not one each.
 */
export class EventBatcher {
  private batch: PendingInsert[] = [];

  constructor(private readonly db: Kysely<Database>) {}

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
      const stored = await this.db.transaction().execute((trx) => insertEvents(trx, batch));
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
   * comment is never acted on before the pull request event that came first. On PostgreSQL the
   * claims of all gateways take turns under a transaction lock, so each sees the others' claims.
   */
  async claimNext(now = Date.now()): Promise<StoredEvent | undefined> {
    const claim = (db: Kysely<Database>) => {
      const next = db
        .selectFrom("events as e")
        .select("e.seq")
        .where((eb) =>
          eb.or([
            eb.and([eb("e.state", "=", "pending"), eb("e.next_attempt_at", "<=", now)]),
            eb.and([eb("e.state", "=", "processing"), leaseExpired(this.c, now, "e")]),
          ]),
        )
        .where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom("events as p")
                .select("p.seq")
                .where("p.state", "=", "processing")
                .whereRef("p.seq", "<", "e.seq"),
            ),
          ),
        )
        .orderBy("e.seq")
        .limit(1);
      return db
        .updateTable("events")
        .set((eb) => ({
          state: "processing",
          attempts: eb("attempts", "+", 1),
          ...leaseOf(this.c, now),
        }))
        .where("seq", "=", next)
        .returningAll()
        .executeTakeFirst();
    };
    // SQLite has one writer: the statement alone is atomic.
    const row =
      this.c.engine === "postgres"
        ? await this.c.atomic(async (db) => {
            await sql`SELECT pg_advisory_xact_lock(${EVENT_CLAIMS})`.execute(db);
            return claim(db);
          })
        : await claim(this.c.db);
    const { db } = this.c;
    if (!row) return undefined;
    this.c.keepAlive();
    const p = await db
      .selectFrom("event_payloads")
      .select("payload")
      .where("seq", "=", row.seq)
      .executeTakeFirstOrThrow();
    return toStored(row, p.payload);
  }

  async complete(seq: number, writes: CompletionWrite[] = [], now = Date.now()): Promise<void> {
    await this.c.atomic(async (db, tx) => {
      for (const w of writes) await w(tx);
      const r = await db
        .updateTable("events")
        .set({ state: "done", finished_at: now, error: null, lease_until: null })
        .where("seq", "=", seq)
        .where("state", "=", "processing")
        .where(held(this.c))
        .executeTakeFirst();
      if (changed(r) !== 1)
        throw new Error(`event ${seq} is not claimed by this gateway; its completion is dropped`);
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
