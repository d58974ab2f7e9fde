import type { Kysely } from "kysely";
import { columnTypes } from "./dialect.js";

// Work in flight is leased, not owned for ever: who holds a claimed delivery, outbox item or run
// request, and until when. Several gateways share one database; when one dies, its leases run out
// and another takes the work over. Rows claimed before this migration have no lease: they count
// as expired.
export async function up(db: Kysely<unknown>): Promise<void> {
  const { int } = columnTypes(db);
  for (const table of ["events", "outbox", "run_requests"]) {
    await db.schema.alterTable(table).addColumn("lease_owner", "text").execute();
    await db.schema.alterTable(table).addColumn("lease_until", int).execute();
  }
}
