import type { Kysely } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("outbox")
    .addColumn("seq", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("idempotency_key", "text", (c) => c.notNull().unique())
    .addColumn("ordering_key", "text", (c) => c.notNull())
    .addColumn("repo", "text", (c) => c.notNull())
    .addColumn("installation_id", "integer", (c) => c.notNull())
    .addColumn("payload", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", "integer", (c) => c.notNull())
    .addColumn("next_attempt_at", "integer", (c) => c.notNull())
    .addColumn("finished_at", "integer")
    .addColumn("last_error", "text")
    .execute();
  await db.schema
    .createIndex("outbox_ready")
    .on("outbox")
    .columns(["state", "next_attempt_at", "seq"])
    .execute();
  await db.schema
    .createIndex("outbox_ordering")
    .on("outbox")
    .columns(["ordering_key", "state", "seq"])
    .execute();
  await db.schema
    .createTable("check_run_ids")
    .addColumn("repo", "text", (c) => c.notNull())
    .addColumn("head_sha", "text", (c) => c.notNull())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("check_run_id", "integer")
    .addColumn("via", "text", (c) => c.notNull().defaultTo("checks"))
    .addColumn("updated_at", "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("check_run_ids_pk", ["repo", "head_sha", "name"])
    .execute();
}
