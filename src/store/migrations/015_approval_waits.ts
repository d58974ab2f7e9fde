import type { Kysely } from "kysely";
import { columnTypes } from "./dialect.js";

// The approval inbox: commits of pull requests waiting for an approval, with when their notice
// and reminder were stored for sending (each once per commit).
export async function up(db: Kysely<unknown>): Promise<void> {
  const T = columnTypes(db);
  await db.schema
    .createTable("approval_waits")
    .addColumn("repo", "text", (c) => c.notNull())
    .addColumn("pr", T.int, (c) => c.notNull())
    .addColumn("sha", "text", (c) => c.notNull())
    .addColumn("installation_id", T.int, (c) => c.notNull())
    .addColumn("base_sha", "text", (c) => c.notNull())
    .addColumn("author", "text", (c) => c.notNull())
    .addColumn("title", "text", (c) => c.notNull())
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("since", T.int, (c) => c.notNull())
    .addColumn("updated_at", T.int, (c) => c.notNull())
    .addColumn("view", "text", (c) => c.notNull())
    .addColumn("notified_at", T.int)
    .addColumn("remind_at", T.int)
    .addColumn("reminded_at", T.int)
    .addPrimaryKeyConstraint("approval_waits_pk", ["repo", "pr", "sha"])
    .execute();
  await db.schema
    .createIndex("approval_waits_state")
    .on("approval_waits")
    .columns(["state", "since"])
    .execute();
}
