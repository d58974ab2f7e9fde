import type { Kysely } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("admin_tokens")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("hash", "text", (c) => c.notNull().unique())
    .addColumn("created_by", "text", (c) => c.notNull())
    .addColumn("created_at", "integer", (c) => c.notNull())
    .addColumn("expires_at", "integer")
    .addColumn("revoked_at", "integer")
    .addColumn("last_used_at", "integer")
    .execute();
  await db.schema
    .createTable("console_sessions")
    .addColumn("id_hash", "text", (c) => c.primaryKey())
    .addColumn("login", "text", (c) => c.notNull())
    .addColumn("via", "text", (c) => c.notNull())
    .addColumn("token_id", "integer", (c) => c.references("admin_tokens.id").onDelete("cascade"))
    .addColumn("created_at", "integer", (c) => c.notNull())
    .addColumn("expires_at", "integer", (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("console_sessions_expiry")
    .on("console_sessions")
    .column("expires_at")
    .execute();
  await db.schema
    .createTable("login_links")
    .addColumn("hash", "text", (c) => c.primaryKey())
    .addColumn("created_at", "integer", (c) => c.notNull())
    .addColumn("expires_at", "integer", (c) => c.notNull())
    .addColumn("used_at", "integer")
    .execute();
}
