import type { Kysely } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("events")
    .addColumn("seq", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("delivery_id", "text", (c) => c.notNull().unique())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("action", "text")
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("received_at", "integer", (c) => c.notNull())
    .addColumn("next_attempt_at", "integer", (c) => c.notNull())
    .addColumn("finished_at", "integer")
    .addColumn("error", "text")
    .execute();
  await db.schema
    .createTable("event_payloads")
    .addColumn("seq", "integer", (c) => c.primaryKey().references("events.seq").onDelete("cascade"))
    .addColumn("payload", "text", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("events_ready")
    .on("events")
    .columns(["state", "next_attempt_at", "seq"])
    .execute();
}
