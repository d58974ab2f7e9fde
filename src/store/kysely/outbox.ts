// The outbox: writes to the forge stored before they are sent (DESIGN.md invariant 6), and the
// forge's ids of the check runs they created.
import { type Kysely, type Selectable, sql } from "kysely";
import type { OutboxTable } from "../outbox-schema.js";
import type { Database } from "../schema.js";
import type {
  CheckRunRecord,
  CheckRunRepo,
  NewOutboxItem,
  OutboxItem,
  OutboxQueue,
  OutboxState,
  Store,
} from "../types.js";
import { type Ctx, changed } from "./context.js";
import { held, leaseExpired, leaseLive, leaseOf, leftByTheDead, takeTurns } from "./leases.js";

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

/** What a settled item no longer needs: its lease, and the bound of its last write. */
const SETTLED = { lease_until: null, write_until: null };

export class OutboxQueueImpl implements OutboxQueue {
  constructor(private readonly c: Ctx) {}

  enqueue(
    item: NewOutboxItem,
    now = Date.now(),
    onlyIf?: (tx: Store) => Promise<boolean>,
  ): Promise<"stored" | "duplicate" | "skipped"> {
    return this.c.atomic(async (db, tx) => {
      if (onlyIf && !(await onlyIf(tx))) return "skipped";
      const row = await db
        .insertInto("outbox")
        .values({
          kind: item.kind,
          idempotency_key: item.key,
          ordering_key: item.orderingKey,
          repo: item.repo,
          installation_id: item.installationId,
          payload: JSON.stringify(item.payload),
          state: "pending",
          attempts: 0,
          created_at: now,
          next_attempt_at: now,
        })
        .onConflict((oc) => oc.column("idempotency_key").doNothing())
        .returning("seq")
        .executeTakeFirst();
      if (!row) return "duplicate";
      if (item.supersedes) {
        // Folded from exactly what this supersedes: an older item read as waiting may be claimed
        // (and sent) meanwhile by another gateway, and is then not superseded.
        const older = await db
          .updateTable("outbox")
          .set({ state: "superseded", finished_at: now })
          .where("ordering_key", "=", item.orderingKey)
          .where("state", "=", "pending")
          .where("attempts", "=", 0)
          .where("seq", "<", row.seq)
          .returning(["seq", "payload"])
          .execute();
        if (item.fold && older.length > 0) {
          const payload = item.fold(
            item.payload,
            older.sort((x, y) => x.seq - y.seq).map((r) => JSON.parse(r.payload)),
          );
          await db
            .updateTable("outbox")
            .set({ payload: JSON.stringify(payload) })
            .where("seq", "=", row.seq)
            .execute();
        }
      }
      return "stored";
    });
  }

  async resetInterrupted(now = Date.now()): Promise<number> {
    const mine = this.c.shared.lease.holder;
    // On PostgreSQL, another gateway whose lease ran out may only have stalled, its write still to
    // land: the item is not sent again before that cannot happen. On SQLite (one gateway per
    // database) the process before this one is dead: what it sent had the restart's time to land.
    const due =
      this.c.engine === "postgres"
        ? sql<number>`CASE WHEN write_until > next_attempt_at
          AND (lease_owner IS NULL OR lease_owner <> ${mine}) THEN write_until
          ELSE next_attempt_at END`
        : sql<number>`next_attempt_at`;
    const q = this.c.db
      .updateTable("outbox")
      .set({
        state: "pending",
        next_attempt_at: due,
        lease_owner: null,
        lease_until: null,
        write_until: null,
      })
      .where("state", "=", "delivering");
    return changed(await q.where(leftByTheDead(this.c, now)).executeTakeFirst());
  }

  /**
   * The oldest due item whose ordering key has no older item waiting or in flight, and whose
   * installation has fewer than `perInstallation` items in flight on every gateway; or an item in
   * flight whose holder's lease ran out, and with it the time its last write could still land
   * (it may have been sent: the senders look before writing again where GitHub lets them). An item
   * whose lease ran out is no longer counted in flight, so a dead gateway's share comes back with
   * its leases.
   */
  claimNext(now = Date.now(), perInstallation?: number): Promise<OutboxItem | undefined> {
    if (perInstallation === undefined || this.c.engine !== "postgres") {
      return this.claim(this.c.db, now, perInstallation);
    }
    return this.c.atomic(async (db) => {
      await takeTurns(this.c, db, "outbox");
      return this.claim(db, now, perInstallation);
    });
  }

  private async claim(
    db: Kysely<Database>,
    now: number,
    perInstallation: number | undefined,
  ): Promise<OutboxItem | undefined> {
    let next = db
      .selectFrom("outbox as o")
      .select("o.seq")
      .where((eb) =>
        eb.or([
          eb.and([eb("o.state", "=", "pending"), eb("o.next_attempt_at", "<=", now)]),
          eb.and([
            eb("o.state", "=", "delivering"),
            leaseExpired(this.c, now, "o"),
            eb.or([eb("o.write_until", "is", null), eb("o.write_until", "<", now)]),
          ]),
        ]),
      )
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom("outbox as p")
              .select("p.seq")
              .whereRef("p.ordering_key", "=", "o.ordering_key")
              .whereRef("p.seq", "<", "o.seq")
              .where("p.state", "in", ["pending", "delivering"]),
          ),
        ),
      )
      .$if(perInstallation !== undefined, (q) =>
        q.where(
          (eb) =>
            eb
              .selectFrom("outbox as f")
              .select((f) => f.fn.countAll<number>().as("n"))
              .whereRef("f.installation_id", "=", "o.installation_id")
              .where("f.state", "=", "delivering")
              .where(leaseLive(this.c, now, "f")),
          "<",
          perInstallation ?? 0,
        ),
      )
      .orderBy("o.seq")
      .limit(1);
    if (this.c.engine === "postgres") next = next.forUpdate().skipLocked();
    const row = await db
      .updateTable("outbox")
      .set((eb) => ({
        state: "delivering",
        attempts: eb("attempts", "+", 1),
        ...leaseOf(this.c, now),
        write_until: null,
      }))
      .where("seq", "=", next)
      .returningAll()
      .executeTakeFirst();
    if (!row) return undefined;
    this.c.keepAlive();
    return toItem(row);
  }

  async guardWrite(seq: number, until: number, now = Date.now()): Promise<boolean> {
    const r = await this.c.db
      .updateTable("outbox")
      .set({ ...leaseOf(this.c, now), write_until: until })
      .where("seq", "=", seq)
      .where("state", "=", "delivering")
      .where("lease_owner", "=", this.c.shared.lease.holder)
      .executeTakeFirst();
    return changed(r) === 1;
  }

  async complete(seq: number, now = Date.now()): Promise<void> {
    await this.c.db
      .updateTable("outbox")
      .set({ state: "done", finished_at: now, last_error: null, ...SETTLED })
      .where("seq", "=", seq)
      .where(held(this.c))
      .execute();
  }

  async retryLater(seq: number, at: number, error: string): Promise<void> {
    await this.c.db
      .updateTable("outbox")
      .set({ state: "pending", next_attempt_at: at, last_error: error, ...SETTLED })
      .where("seq", "=", seq)
      .where("state", "=", "delivering")
      .where(held(this.c))
      .execute();
  }

  async fail(seq: number, error: string, now = Date.now()): Promise<void> {
    await this.c.db
      .updateTable("outbox")
      .set({ state: "failed", last_error: error, finished_at: now, ...SETTLED })
      .where("seq", "=", seq)
      .where(held(this.c))
      .execute();
  }

  async nextDueAt(): Promise<number | undefined> {
    const r = await this.c.db
      .selectFrom("outbox")
      .select((eb) => eb.fn.min("next_attempt_at").as("at"))
      .where("state", "=", "pending")
      .executeTakeFirst();
    return r?.at ?? undefined;
  }

  async depth(): Promise<number> {
    const r = await this.c.db
      .selectFrom("outbox")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("state", "in", ["pending", "delivering"])
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  async list(state?: OutboxState): Promise<OutboxItem[]> {
    let q = this.c.db.selectFrom("outbox").selectAll();
    if (state) q = q.where("state", "=", state);
    return (await q.orderBy("seq").execute()).map(toItem);
  }
}

export class CheckRunRepoImpl implements CheckRunRepo {
  constructor(private readonly c: Ctx) {}

  async get(repo: string, sha: string, name: string): Promise<CheckRunRecord | undefined> {
    const r = await this.c.db
      .selectFrom("check_run_ids")
      .select(["check_run_id", "via", "last_status", "replaces_id", "outbox_seq"])
      .where("repo", "=", repo)
      .where("head_sha", "=", sha)
      .where("name", "=", name)
      .executeTakeFirst();
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

  async set(
    repo: string,
    sha: string,
    name: string,
    rec: CheckRunRecord,
    now = Date.now(),
  ): Promise<void> {
    const row = {
      check_run_id: rec.id,
      via: rec.via,
      last_status: rec.status ?? null,
      replaces_id: rec.replaces ?? null,
      outbox_seq: rec.seq ?? null,
      updated_at: now,
    };
    await this.c.db
      .insertInto("check_run_ids")
      .values({ repo, head_sha: sha, name, ...row })
      .onConflict((oc) => oc.columns(["repo", "head_sha", "name"]).doUpdateSet(row))
      .execute();
  }
}
