// Leases on work in flight. A claimed delivery, outbox item or run request records who holds it (a
// holder id unique to the process) and until when. While the process lives, a heartbeat renews
// its leases; when it dies they run out, and any gateway on the same database may take the work
// over. A settle (done, retry, failure) only counts when it comes from the holder.

import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { type Kysely, sql } from "kysely";
import type { Database } from "../schema.js";
import type { LeaseRepo } from "../types.js";
import type { Ctx } from "./context.js";

/** How long a claim holds without a renewal, by default. */
export const DEFAULT_LEASE_TTL_MS = 30_000;

/** The first half of the chores' advisory lock keys ("ARLK"), apart from other users' locks. */
const CHORE_LOCKS = 0x41524c4b;

/** The first half of the keys of the claims that take turns ("ARLC"). */
const CLAIM_LOCKS = 0x41524c43;

/**
 * Makes the claims of `queue` that count what is in flight take turns across gateways until the
 * transaction `db` ends: two counting at once could both see room for one more. The lock ends with
 * the transaction, after its claim committed, so the next claim's count sees it (READ COMMITTED
 * reads anew at each statement). SQLite writes one statement at a time anyway.
 */
export async function takeTurns(c: Ctx, db: Kysely<Database>, queue: string): Promise<void> {
  if (c.engine !== "postgres") return;
  await sql`SELECT pg_advisory_xact_lock(${CLAIM_LOCKS}, hashtext(${queue}))`.execute(db);
}

/** A row in flight whose holder lives: this process's own, or one whose lease has not run out. */
export function leaseLive(c: Ctx, now: number, alias?: string) {
  return sql<boolean>`NOT ${leaseExpired(c, now, alias)}`;
}

/** The leased tables and the state a row is in while it is claimed. */
export const IN_FLIGHT = {
  events: "processing",
  outbox: "delivering",
  run_requests: "running",
} as const;

/** The lease state of one open store, shared by its transactions. */
export interface LeaseState {
  holder: string;
  ttlMs: number;
  /** The heartbeat, once the first claim started it. */
  timer?: NodeJS.Timeout | undefined;
  /** Renews through the root connection (a transaction's handle ends with it). */
  beat?: () => Promise<unknown>;
}

/** A holder id: the machine, the process and a random part (a restarted process is another). */
export const newHolder = () => `${hostname()}:${process.pid}:${randomBytes(4).toString("hex")}`;

/** The columns a claim sets. */
export const leaseOf = (c: Ctx, now: number) => ({
  lease_owner: c.shared.lease.holder,
  lease_until: now + c.shared.lease.ttlMs,
});

/**
 * A row in flight whose lease ran out and that another holder had (this process's own rows are in
 * its hands: the heartbeat renews them). Rows claimed before leases existed have none: expired.
 * `alias`: the table's alias in the query, if it has one.
 */
export function leaseExpired(c: Ctx, now: number, alias?: string) {
  const col = (name: string) => sql.ref(alias ? `${alias}.${name}` : name);
  return sql<boolean>`((${col("lease_until")} IS NULL OR ${col("lease_until")} < ${now}) AND (${col("lease_owner")} IS NULL OR ${col("lease_owner")} <> ${c.shared.lease.holder}))`;
}

/** Settling a claim: only its holder may (a row never claimed has no holder). */
export function held(c: Ctx) {
  return sql<boolean>`(lease_owner IS NULL OR lease_owner = ${c.shared.lease.holder})`;
}

/** Starts renewing the store's leases (a third of the lease time apart), once. */
export function keepAlive(lease: LeaseState): void {
  if (lease.timer || !lease.beat) return;
  const beat = lease.beat;
  // A renewal that fails is tried again at the next beat; the lease holds for two more.
  lease.timer = setInterval(() => void beat().catch(() => {}), Math.max(50, lease.ttlMs / 3));
  lease.timer.unref();
}

/** Stops the heartbeat (the store is closing). */
export function stopKeepAlive(lease: LeaseState): void {
  clearInterval(lease.timer);
  lease.timer = undefined;
}

/**
 * The claims `resetInterrupted` takes back: this holder's own (called with nothing in hand: at
 * start-up, or after a store failure left a claim behind), and those of dead holders: on SQLite
 * (one gateway per database) every other holder's; on PostgreSQL those whose lease ran out.
 */
export function leftByTheDead(c: Ctx, now: number) {
  const mine = c.shared.lease.holder;
  return c.engine === "postgres"
    ? sql<boolean>`(lease_owner = ${mine} OR lease_until IS NULL OR lease_until < ${now})`
    : sql<boolean>`TRUE`;
}

/** Sets `lease_until` on this holder's rows in flight, in every leased table; how many. */
async function setUntil(c: Ctx, until: number | null): Promise<number> {
  let n = 0;
  for (const [table, state] of Object.entries(IN_FLIGHT)) {
    const r = await sql`UPDATE ${sql.table(table)} SET lease_until = ${until}
      WHERE lease_owner = ${c.shared.lease.holder} AND state = ${state}`.execute(c.db);
    n += Number(r.numAffectedRows ?? 0n);
  }
  return n;
}

export class LeaseRepoImpl implements LeaseRepo {
  constructor(private readonly c: Ctx) {}

  get holder(): string {
    return this.c.shared.lease.holder;
  }

  get ttlMs(): number {
    return this.c.shared.lease.ttlMs;
  }

  renew(now = Date.now()): Promise<number> {
    return setUntil(this.c, now + this.ttlMs);
  }

  release(): Promise<number> {
    return setUntil(this.c, null);
  }

  async takeTurns(name: string): Promise<void> {
    if (!this.c.db.isTransaction) throw new Error("takeTurns is for a transaction");
    await takeTurns(this.c, this.c.db, name);
  }

  async singleton<T>(
    name: string,
    fn: () => Promise<T>,
  ): Promise<{ ran: true; value: T } | { ran: false }> {
    if (this.c.engine !== "postgres") return { ran: true, value: await fn() };
    // One connection holds the lock while `fn` works through the pool; a process that dies
    // loses the connection, and the lock with it.
    return this.c.db.connection().execute(async (conn) => {
      const key = sql`${CHORE_LOCKS}, hashtext(${name})`;
      const { rows } = await sql<{
        locked: boolean;
      }>`SELECT pg_try_advisory_lock(${key}) AS locked`.execute(conn);
      if (!rows[0]?.locked) return { ran: false };
      try {
        return { ran: true, value: await fn() };
      } finally {
        await sql`SELECT pg_advisory_unlock(${key})`.execute(conn);
      }
    });
  }
}
