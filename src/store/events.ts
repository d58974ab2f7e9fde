// Stored webhook deliveries: written by intake before the acknowledgement, then claimed and
// completed by the processing loop. Statements run synchronously on the better-sqlite3 handle so
// that "stored" means committed by the time the HTTP answer is sent (DESIGN.md invariant 6).
import type SQLite from "better-sqlite3";
import type { CompiledQuery, Selectable } from "kysely";
import type { EventState, EventsTable } from "./events-schema.js";

export interface StoredEvent {
  seq: number;
  deliveryId: string;
  name: string;
  action: string | null;
  payload: string;
  state: EventState;
  /** Attempts made so far, including the one just claimed. */
  attempts: number;
  receivedAt: number;
  error: string | null;
}

export interface NewEvent {
  deliveryId: string;
  name: string;
  action: string | null;
  payload: string;
  /** "rejected" stores a delivery that will never be processed, with `error` saying why. */
  state?: "pending" | "rejected";
  error?: string;
}

/** A write that commits in the same transaction that marks an event done. */
export type CompletionWrite =
  | CompiledQuery
  | { compile(): CompiledQuery }
  | ((sqlite: SQLite.Database) => void);

type EventRow = Selectable<EventsTable> & { payload: string };

function toStored(r: EventRow): StoredEvent {
  return {
    seq: r.seq,
    deliveryId: r.delivery_id,
    name: r.name,
    action: r.action,
    payload: r.payload,
    state: r.state,
    attempts: r.attempts,
    receivedAt: r.received_at,
    error: r.error,
  };
}

interface PendingInsert {
  event: NewEvent;
  now: number;
  resolve: (r: "stored" | "duplicate") => void;
  reject: (e: unknown) => void;
}

export class EventStore {
  private readonly insertStmt: SQLite.Statement;
  private readonly insertPayloadStmt: SQLite.Statement;
  private readonly insertTx: (batch: PendingInsert[]) => boolean[];
  private batch: PendingInsert[] = [];
  private readonly claimStmt: SQLite.Statement;
  private readonly payloadStmt: SQLite.Statement;
  private readonly doneStmt: SQLite.Statement;

  constructor(readonly sqlite: SQLite.Database) {
    this.insertStmt = sqlite.prepare(
      `INSERT INTO events (delivery_id, name, action, state, attempts, received_at, next_attempt_at, error)
       VALUES (?, ?, ?, ?, 0, ?, ?, ?) ON CONFLICT (delivery_id) DO NOTHING`,
    );
    this.insertPayloadStmt = sqlite.prepare(
      `INSERT INTO event_payloads (seq, payload) VALUES (?, ?)`,
    );
    this.insertTx = sqlite.transaction((batch: PendingInsert[]) =>
      batch.map(({ event: e, now }) => {
        const info = this.insertStmt.run(
          e.deliveryId,
          e.name,
          e.action,
          e.state ?? "pending",
          now,
          now,
          e.error ?? null,
        );
        if (info.changes !== 1) return false;
        this.insertPayloadStmt.run(info.lastInsertRowid, e.payload);
        return true;
      }),
    );
    this.payloadStmt = sqlite.prepare(`SELECT payload FROM event_payloads WHERE seq = ?`);
    this.claimStmt = sqlite.prepare(
      `UPDATE events SET state = 'processing', attempts = attempts + 1
       WHERE seq = (SELECT seq FROM events WHERE state = 'pending' AND next_attempt_at <= ?
                    ORDER BY seq LIMIT 1)
       RETURNING *`,
    );
    this.doneStmt = sqlite.prepare(
      `UPDATE events SET state = 'done', finished_at = ?, error = NULL
       WHERE seq = ? AND state = 'processing'`,
    );
  }

  /**
   * Waits until the shared connection is outside any transaction. Another module's async kysely
   * transaction may be open between two of its awaits; a statement run now would join it and
   * could be rolled back with it, losing an acknowledged delivery.
   */
  async ready(): Promise<void> {
    while (this.sqlite.inTransaction) await new Promise((r) => setImmediate(r));
  }

  /**
   * Stores a delivery once; a second delivery with the same id is reported as a duplicate.
   * Resolves only after the commit. Deliveries arriving in the same turn of the event loop share
   * one transaction (group commit), so concurrent deliveries cost one commit, not one each.
   */
  insert(event: NewEvent, now = Date.now()): Promise<"stored" | "duplicate"> {
    return new Promise((resolve, reject) => {
      this.batch.push({ event, now, resolve, reject });
      if (this.batch.length === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    await this.ready();
    const batch = this.batch;
    this.batch = [];
    try {
      const stored = this.insertTx(batch);
      batch.forEach((b, i) => {
        b.resolve(stored[i] ? "stored" : "duplicate");
      });
    } catch (e) {
      // The whole batch rolled back: none is acknowledged, so GitHub can redeliver each.
      for (const b of batch) b.reject(e);
    }
  }

  /** On start-up: events claimed by a process that died go back to the queue. */
  async resetInterrupted(): Promise<number> {
    await this.ready();
    return this.sqlite
      .prepare(`UPDATE events SET state = 'pending' WHERE state = 'processing'`)
      .run().changes;
  }

  /** Claims the oldest event that is due, or returns undefined. */
  async claimNext(now = Date.now()): Promise<StoredEvent | undefined> {
    await this.ready();
    const row = this.claimStmt.get(now) as Selectable<EventsTable> | undefined;
    if (!row) return undefined;
    const { payload } = this.payloadStmt.get(row.seq) as { payload: string };
    return toStored({ ...row, payload });
  }

  /** Marks a claimed event done; `writes` commit atomically with it, so they happen exactly once. */
  async complete(seq: number, writes: CompletionWrite[] = [], now = Date.now()): Promise<void> {
    await this.ready();
    this.sqlite.transaction(() => {
      for (const w of writes) {
        if (typeof w === "function") w(this.sqlite);
        else {
          const q = "compile" in w ? w.compile() : w;
          this.sqlite.prepare(q.sql).run(...(q.parameters as unknown[]));
        }
      }
      if (this.doneStmt.run(now, seq).changes !== 1) {
        throw new Error(`event ${seq} was not claimed; its completion is dropped`);
      }
    })();
  }

  /** Puts a claimed event back for a later attempt. */
  async retryLater(seq: number, at: number, error: string): Promise<void> {
    await this.ready();
    this.sqlite
      .prepare(
        `UPDATE events SET state = 'pending', next_attempt_at = ?, error = ? WHERE seq = ? AND state = 'processing'`,
      )
      .run(at, error, seq);
  }

  /** Gives up on an event, or rejects one whose payload cannot be processed. */
  async finish(
    seq: number,
    state: "failed" | "rejected",
    error: string,
    now = Date.now(),
  ): Promise<void> {
    await this.ready();
    this.sqlite
      .prepare(`UPDATE events SET state = ?, error = ?, finished_at = ? WHERE seq = ?`)
      .run(state, error, now, seq);
  }

  /** When the next pending event becomes due, or undefined when none is pending. */
  nextDueAt(): number | undefined {
    const r = this.sqlite
      .prepare(`SELECT min(next_attempt_at) AS at FROM events WHERE state = 'pending'`)
      .get() as { at: number | null };
    return r.at ?? undefined;
  }

  /** Events waiting or in progress: the queue depth. */
  queueDepth(): number {
    const r = this.sqlite
      .prepare(`SELECT count(*) AS n FROM events WHERE state IN ('pending', 'processing')`)
      .get() as { n: number };
    return r.n;
  }

  get(deliveryId: string): StoredEvent | undefined {
    const row = this.sqlite
      .prepare(
        `SELECT e.*, p.payload FROM events e JOIN event_payloads p USING (seq) WHERE delivery_id = ?`,
      )
      .get(deliveryId) as EventRow | undefined;
    return row ? toStored(row) : undefined;
  }

  /** Events without their payloads (`payload` is empty); `get` returns one with it. */
  list(state?: EventState): StoredEvent[] {
    const rows = (
      state
        ? this.sqlite
            .prepare(`SELECT e.*, '' AS payload FROM events e WHERE state = ? ORDER BY seq`)
            .all(state)
        : this.sqlite.prepare(`SELECT e.*, '' AS payload FROM events e ORDER BY seq`).all()
    ) as EventRow[];
    return rows.map(toStored);
  }
}
