// What every repository of the Kysely store is built with: the database handle (the root one or a
// transaction), the engine for the few statements that differ, and what all bindings share.
import type { Kysely } from "kysely";
import type { Database } from "../schema.js";
import type { Engine, SettledListener, Store } from "../types.js";
import type { LeaseState } from "./leases.js";

/** State of one open store, shared by the root binding and every transaction's. */
export interface Shared {
  settled: Set<SettledListener>;
  lease: LeaseState;
}

export interface Ctx {
  db: Kysely<Database>;
  engine: Engine;
  shared: Shared;
  /**
   * Runs `fn` in a transaction of this binding (joining it when the binding is one already), with
   * the transaction's handle and Store.
   */
  atomic<T>(fn: (db: Kysely<Database>, tx: Store) => Promise<T>): Promise<T>;
  /** A row was claimed: keep this store's leases alive from now on. */
  keepAlive(): void;
}

/** Rows changed by an UPDATE or DELETE, on either engine. */
export const changed = (r: { numUpdatedRows?: bigint; numDeletedRows?: bigint }) =>
  Number(r.numUpdatedRows ?? r.numDeletedRows ?? 0n);
