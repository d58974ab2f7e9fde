import type { Kysely } from "kysely";
import { columnTypes } from "./dialect.js";

export async function up(db: Kysely<unknown>): Promise<void> {
  const T = columnTypes(db);
  await db.schema
    .createTable("events")
    .addColumn("seq", T.int, T.serial)
    .addColumn("delivery_id", "text", (c) => c.notNull().unique())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("action", "text")
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("attempts", T.int, (c) => c.notNull().defaultTo(0))
    .addColumn("received_at", T.int, (c) => c.notNull())
    .addColumn("next_attempt_at", T.int, (c) => c.notNull())
    .addColumn("finished_at", T.int)
    .addColumn("error", "text")
    .execute();
  await db.schema
    .createTable("event_payloads")
    .addColumn("seq", T.int, (c) => c.primaryKey().references("events.seq").onDelete("cascade"))
    .addColumn("payload", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("events_ready")
    .on("events")
    .columns(["state", "next_attempt_at", "seq"])
    .execute();
}
