import type { Kysely } from "kysely";
import { columnTypes } from "./dialect.js";

// The gateway's durable run queue, and which test labels on a PR were set by a trusted sender.
export async function up(db: Kysely<unknown>): Promise<void> {
  const T = columnTypes(db);
  await db.schema
    .createTable("run_requests")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("repo", "text", (c) => c.notNull())
    .addColumn("pr", T.int, (c) => c.notNull())
    .addColumn("installation_id", T.int, (c) => c.notNull())
    .addColumn("head_sha", "text", (c) => c.notNull())
    .addColumn("base_sha", "text", (c) => c.notNull())
    .addColumn("head_ref", "text", (c) => c.notNull())
    .addColumn("author", "text", (c) => c.notNull())
    .addColumn("kind", "text", (c) => c.notNull())
    .addColumn("selection", "text")
    .addColumn("requested_by", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("attempt", T.int, (c) => c.notNull().defaultTo(1))
    .addColumn("created_at", T.int, (c) => c.notNull())
    .addColumn("started_at", T.int)
    .addColumn("finished_at", T.int)
    .addColumn("note", "text")
    .execute();
  await db.schema
    .createIndex("run_requests_state")
    .on("run_requests")
    .columns(["state", "created_at"])
    .execute();
  await db.schema
    .createIndex("run_requests_pr")
    .on("run_requests")
    .columns(["repo", "pr", "head_sha"])
    .execute();
  await db.schema
    .createTable("pr_labels")
    .addColumn("repo", "text", (c) => c.notNull())
    .addColumn("pr", T.int, (c) => c.notNull())
    .addColumn("label", "text", (c) => c.notNull())
    .addColumn("added_by", "text", (c) => c.notNull())
    .addColumn("added_at", T.int, (c) => c.notNull())
    .addPrimaryKeyConstraint("pr_labels_pk", ["repo", "pr", "label"])
    .execute();
}
