import type { Kysely } from "kysely";
import { columnTypes } from "./dialect.js";

// Pauses every gateway on the database observes: a spent GitHub rate limit seen by one stops the
// writes of all, so that N gateways do not multiply the request rate.
export async function up(db: Kysely<unknown>): Promise<void> {
  const { int } = columnTypes(db);
  await db.schema
    .createTable("pauses")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("until_at", int, (c) => c.notNull())
    .addColumn("reason", "text")
    .addColumn("updated_at", int, (c) => c.notNull())
    .execute();
}
