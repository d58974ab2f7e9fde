// The outbox: writes to GitHub stored before they are sent (DESIGN.md invariant 6), and the ids of
// the check runs they created. Statements run synchronously on the better-sqlite3 handle, so a
// row is committed when enqueue returns, and `enqueueSync` can join another store's transaction
// (for example the one that marks a webhook event processed).
import type SQLite from "better-sqlite3";
import type { Selectable } from "kysely";
import type { CheckRunIdsTable, OutboxState, OutboxTable } from "./outbox-schema.js";

export interface NewOutboxItem {
  kind: string;
  /** Enqueuing a key that is already stored does nothing. */
  key: string;
  /** Items with the same ordering key are sent one at a time, oldest first. */
  orderingKey: string;
  repo: string;
  installationId: number;
  payload: unknown;
  /**
   * The payload is the full desired state of its target: older items of the same ordering key
   * that were not sent yet are superseded, so only the newest state is sent.
   */
  supersedes?: boolean;
  /**
   * With `supersedes`: the payload to store, given the unsent payloads it supersedes (oldest
   * first), for targets where a state that is never sent still matters.
   */
  fold?: (payload: unknown, superseded: unknown[]) => unknown;
}

export interface OutboxItem {
  seq: number;
  kind: string;
  key: string;
  orderingKey: string;
  repo: string;
  installationId: number;
  payload: unknown;
  state: OutboxState;
  /** Attempts so far, including the one just claimed. */
  attempts: number;
  createdAt: number;
  lastError: string | null;
}

export interface CheckRunRecord {
  /** Null while a create was sent without a known answer. */
  id: number | null;
  via: "checks" | "status";
  /** The status last sent; null when not known. */
  status?: string | null;
  /** With `id: null`: the completed check run that the create in flight replaces. */
  replaces?: number | null;
  /** The outbox item that wrote the record. */
  seq?: number | null;
}

const toItem = (r: Selectable<OutboxTable>): OutboxItem => ({
  seq: r.seq,
  kind: r.kind,
  key: r.idempotency_key,
  orderingKey: r.ordering_key,
  repo: r.repo,
  installationId: r.installation_id,
  payload: JSON.parse(r.payload),
  state: r.state,
  attempts: r.attempts,
  createdAt: r.created_at,
  lastError: r.last_error,
});

export class OutboxStore {
  private readonly insertStmt: SQLite.Statement;
  private readonly supersedeStmt: SQLite.Statement;
  private readonly claimStmt: SQLite.Statement;
  private readonly pendingStmt: SQLite.Statement;

  constructor(readonly sqlite: SQLite.Database) {
    this.insertStmt = sqlite.prepare(
      `INSERT INTO outbox (kind, idempotency_key, ordering_key, repo, installation_id, payload, state,
         attempts, created_at, next_attempt_at)
       VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING`,
    );
    this.pendingStmt = sqlite.prepare(
      `SELECT payload FROM outbox WHERE ordering_key = ? AND state = 'pending' ORDER BY seq`,
    );
    this.supersedeStmt = sqlite.prepare(
      `UPDATE outbox SET state = 'superseded', finished_at = ?
       WHERE ordering_key = ? AND state = 'pending' AND seq < ?`,
    );
    // The oldest due item whose ordering key has no older item waiting or in flight.
    this.claimStmt = sqlite.prepare(
      `UPDATE outbox SET state = 'delivering', attempts = attempts + 1
       WHERE seq = (
         SELECT o.seq FROM outbox o
         WHERE o.state = 'pending' AND o.next_attempt_at <= ?
           AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.ordering_key = o.ordering_key
                           AND p.seq < o.seq AND p.state IN ('pending', 'delivering'))
         ORDER BY o.seq LIMIT 1)
       RETURNING *`,
    );
  }

  private async ready(): Promise<void> {
    while (this.sqlite.inTransaction) await new Promise((r) => setImmediate(r));
  }

  /**
   * Stores an item; safe inside a transaction another store opened. `onlyIf` is asked in the same
   * transaction, so that what it checks cannot change before the item is stored ("skipped": it
   * said no).
   */
  enqueueSync(
    item: NewOutboxItem,
    now = Date.now(),
    onlyIf?: () => boolean,
  ): "stored" | "duplicate" | "skipped" {
    const run = () => {
      if (onlyIf && !onlyIf()) return "skipped" as const;
      let payload = item.payload;
      if (item.supersedes && item.fold) {
        const older = this.pendingStmt.all(item.orderingKey) as { payload: string }[];
        payload = item.fold(
          payload,
          older.map((r) => JSON.parse(r.payload)),
        );
      }
      const info = this.insertStmt.run(
        item.kind,
        item.key,
        item.orderingKey,
        item.repo,
        item.installationId,
        JSON.stringify(payload),
        now,
        now,
      );
      if (info.changes !== 1) return "duplicate" as const;
      if (item.supersedes) {
        this.supersedeStmt.run(now, item.orderingKey, Number(info.lastInsertRowid));
      }
      return "stored" as const;
    };
    return this.sqlite.inTransaction ? run() : this.sqlite.transaction(run)();
  }

  async enqueue(
    item: NewOutboxItem,
    now = Date.now(),
    onlyIf?: () => boolean,
  ): Promise<"stored" | "duplicate" | "skipped"> {
    await this.ready();
    return this.enqueueSync(item, now, onlyIf);
  }

  /** On start-up: items a dead process was sending go back to the queue (and are looked up first). */
  async resetInterrupted(): Promise<number> {
    await this.ready();
    return this.sqlite
      .prepare(`UPDATE outbox SET state = 'pending' WHERE state = 'delivering'`)
      .run().changes;
  }

  async claimNext(now = Date.now()): Promise<OutboxItem | undefined> {
    await this.ready();
    const row = this.claimStmt.get(now) as Selectable<OutboxTable> | undefined;
    return row ? toItem(row) : undefined;
  }

  async complete(seq: number, now = Date.now()): Promise<void> {
    await this.ready();
    this.sqlite
      .prepare(`UPDATE outbox SET state = 'done', finished_at = ?, last_error = NULL WHERE seq = ?`)
      .run(now, seq);
  }

  async retryLater(seq: number, at: number, error: string): Promise<void> {
    await this.ready();
    this.sqlite
      .prepare(
        `UPDATE outbox SET state = 'pending', next_attempt_at = ?, last_error = ? WHERE seq = ? AND state = 'delivering'`,
      )
      .run(at, error, seq);
  }

  async fail(seq: number, error: string, now = Date.now()): Promise<void> {
    await this.ready();
    this.sqlite
      .prepare(`UPDATE outbox SET state = 'failed', last_error = ?, finished_at = ? WHERE seq = ?`)
      .run(error, now, seq);
  }

  /** When the next pending item becomes due, or undefined when none is pending. */
  nextDueAt(): number | undefined {
    const r = this.sqlite
      .prepare(`SELECT min(next_attempt_at) AS at FROM outbox WHERE state = 'pending'`)
      .get() as { at: number | null };
    return r.at ?? undefined;
  }

  /** Items waiting or in flight. */
  depth(): number {
    const r = this.sqlite
      .prepare(`SELECT count(*) AS n FROM outbox WHERE state IN ('pending', 'delivering')`)
      .get() as { n: number };
    return r.n;
  }

  list(state?: OutboxState): OutboxItem[] {
    const rows = (
      state
        ? this.sqlite.prepare(`SELECT * FROM outbox WHERE state = ? ORDER BY seq`).all(state)
        : this.sqlite.prepare(`SELECT * FROM outbox ORDER BY seq`).all()
    ) as Selectable<OutboxTable>[];
    return rows.map(toItem);
  }

  checkRun(repo: string, sha: string, name: string): CheckRunRecord | undefined {
    const r = this.sqlite
      .prepare(
        `SELECT check_run_id, via, last_status, replaces_id, outbox_seq FROM check_run_ids
         WHERE repo = ? AND head_sha = ? AND name = ?`,
      )
      .get(repo, sha, name) as
      | Pick<
          Selectable<CheckRunIdsTable>,
          "check_run_id" | "via" | "last_status" | "replaces_id" | "outbox_seq"
        >
      | undefined;
    return r
      ? {
          id: r.check_run_id,
          via: r.via === "status" ? "status" : "checks",
          status: r.last_status,
          replaces: r.replaces_id,
          seq: r.outbox_seq,
        }
      : undefined;
  }

  /** Records the check run's id; `id: null` marks a create about to be sent. */
  setCheckRun(
    repo: string,
    sha: string,
    name: string,
    rec: CheckRunRecord,
    now = Date.now(),
  ): void {
    this.sqlite
      .prepare(
        `INSERT INTO check_run_ids (repo, head_sha, name, check_run_id, via, last_status,
           replaces_id, outbox_seq, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (repo, head_sha, name) DO UPDATE SET check_run_id = excluded.check_run_id,
           via = excluded.via, last_status = excluded.last_status,
           replaces_id = excluded.replaces_id, outbox_seq = excluded.outbox_seq,
           updated_at = excluded.updated_at`,
      )
      .run(
        repo,
        sha,
        name,
        rec.id,
        rec.via,
        rec.status ?? null,
        rec.replaces ?? null,
        rec.seq ?? null,
        now,
      );
  }
}
