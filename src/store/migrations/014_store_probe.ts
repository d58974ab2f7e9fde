import type { Kysely } from "kysely";
import { columnTypes } from "./dialect.js";

// A row that readiness checks write (store/probe.ts): only a write shows that the database can
// still store, where a read succeeds on a read-only or full disk. It holds no record (a copy of the
// database leaves it out).
export async function up(db: Kysely<unknown>): Promise<void> {
  const T = columnTypes(db);
  await db.schema
    .createTable("store_probe")
    .addColumn("id", "integer", (c) => c.primaryKey())
    .addColumn("at", T.int, (c) => c.notNull())
    .execute();
}
