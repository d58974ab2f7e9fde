import type { Kysely } from "kysely";
import { columnTypes } from "./dialect.js";

export async function up(db: Kysely<unknown>): Promise<void> {
  const T = columnTypes(db);
  await db.schema
    .createTable("admin_tokens")
    .addColumn("id", T.int, T.serial)
    .addColumn("name", "text", (c) => c.notNull().unique())
    .addColumn("hash", "text", (c) => c.notNull().unique())
    .addColumn("created_by", "text", (c) => c.notNull())
    .addColumn("created_at", T.int, (c) => c.notNull())
    .addColumn("expires_at", T.int)
    .addColumn("revoked_at", T.int)
    .addColumn("last_used_at", T.int)
    .execute();
  await db.schema
    .createTable("console_sessions")
    .addColumn("id_hash", "text", (c) => c.primaryKey())
    .addColumn("login", "text", (c) => c.notNull())
    .addColumn("via", "text", (c) => c.notNull())
    .addColumn("token_id", T.int, (c) => c.references("admin_tokens.id").onDelete("cascade"))
    .addColumn("created_at", T.int, (c) => c.notNull())
    .addColumn("expires_at", T.int, (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex("console_sessions_expiry")
    .on("console_sessions")
    .column("expires_at")
    .execute();
  await db.schema
    .createTable("login_links")
    .addColumn("hash", "text", (c) => c.primaryKey())
    .addColumn("created_at", T.int, (c) => c.notNull())
    .addColumn("expires_at", T.int, (c) => c.notNull())
    .addColumn("used_at", T.int)
    .execute();
}
