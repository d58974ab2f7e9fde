// The readiness write (OpenStore.probeWrite): one row of its own table, rewritten, so that a
// read-only data directory, a full disk, a read-only server or an I/O error shows where a read
// would still succeed. The row is no record: `airlock db copy` leaves its table out.
import type { Kysely } from "kysely";

type ProbeDb = { store_probe: { id: number; at: number } };

export async function probeWrite<DB>(db: Kysely<DB>, now: number): Promise<void> {
  await (db as unknown as Kysely<ProbeDb>)
    .insertInto("store_probe")
    .values({ id: 1, at: now })
    .onConflict((oc) => oc.column("id").doUpdateSet({ at: now }))
    .execute();
}
