import type { Kysely } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("pr_heads")
    .addColumn("repo", "text", (c) => c.notNull())
    .addColumn("pr", "integer", (c) => c.notNull())
    .addColumn("sha", "text", (c) => c.notNull())
    .addColumn("pushed_by", "text", (c) => c.notNull())
    .addColumn("seen_at", "integer", (c) => c.notNull())
    .addPrimaryKeyConstraint("pr_heads_pk", ["repo", "pr"])
    .execute();
  await db.schema
    .createTable("approvals")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("repo", "text", (c) => c.notNull())
    .addColumn("pr", "integer", (c) => c.notNull())
    .addColumn("sha", "text", (c) => c.notNull())
    .addColumn("approved_by", "text", (c) => c.notNull())
    .addColumn("via", "text", (c) => c.notNull())
    .addColumn("created_at", "integer", (c) => c.notNull())
    .addColumn("voided_at", "integer")
    .addColumn("void_reason", "text")
    .execute();
  await db.schema
    .createIndex("approvals_pr")
    .on("approvals")
    .columns(["repo", "pr", "sha"])
    .execute();
}
