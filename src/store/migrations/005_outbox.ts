import type { Kysely } from "kysely";
import { columnTypes } from "./dialect.js";

export async function up(db: Kysely<unknown>): Promise<void> {
  const T = columnTypes(db);
  await db.schema
    .createTable("outbox")
    .addColumn("seq", T.int, T.serial)
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("idempotency_key", "text", (c) => c.notNull().unique())
    .addColumn("ordering_key", "text", (c) => c.notNull())
    .addColumn("repo", "text", (c) => c.notNull())
    .addColumn("installation_id", T.int, (c) => c.notNull())
    .addColumn("payload", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("attempts", T.int, (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", T.int, (c) => c.notNull())
    .addColumn("next_attempt_at", T.int, (c) => c.notNull())
    .addColumn("finished_at", T.int)
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
    .addColumn("check_run_id", T.int)
    .addColumn("via", "text", (c) => c.notNull().defaultTo("checks"))
    .addColumn("updated_at", T.int, (c) => c.notNull())
    .addPrimaryKeyConstraint("check_run_ids_pk", ["repo", "head_sha", "name"])
    .execute();
}
