import type { Kysely } from "kysely";
import { columnTypes } from "./dialect.js";

export async function up(db: Kysely<unknown>): Promise<void> {
  const T = columnTypes(db);
  await db.schema
    .createTable("pr_heads")
    .addColumn("repo", "text", (c) => c.notNull())
    .addColumn("pr", T.int, (c) => c.notNull())
    .addColumn("sha", "text", (c) => c.notNull())
    .addColumn("pushed_by", "text", (c) => c.notNull())
    .addColumn("seen_at", T.int, (c) => c.notNull())
    .addPrimaryKeyConstraint("pr_heads_pk", ["repo", "pr"])
    .execute();
  await db.schema
    .createTable("approvals")
    .addColumn("id", T.int, T.serial)
    .addColumn("repo", "text", (c) => c.notNull())
    .addColumn("pr", T.int, (c) => c.notNull())
    .addColumn("sha", "text", (c) => c.notNull())
    .addColumn("approved_by", "text", (c) => c.notNull())
    .addColumn("via", "text", (c) => c.notNull())
    .addColumn("created_at", T.int, (c) => c.notNull())
    .addColumn("voided_at", T.int)
    .addColumn("void_reason", "text")
    .execute();
  await db.schema
    .createIndex("approvals_pr")
    .on("approvals")
    .columns(["repo", "pr", "sha"])
    .execute();
}
