import type { Kysely } from "kysely";
import { columnTypes } from "./dialect.js";

export async function up(db: Kysely<unknown>): Promise<void> {
  const T = columnTypes(db);
  await db.schema
    .createTable("secret_keyring")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("master_id", "text", (c) => c.notNull())
    .addColumn("nonce", T.blob, (c) => c.notNull())
    .addColumn("wrapped", T.blob, (c) => c.notNull())
    .addColumn("active", T.int, (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", T.int, (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("secret_keys")
    .addColumn("set_name", "text", (c) => c.notNull())
    .addColumn("key", "text", (c) => c.notNull())
    .addColumn("current", T.int, (c) => c.notNull())
    .addColumn("next_version", T.int, (c) => c.notNull())
    .addColumn("keep", T.int, (c) => c.notNull())
    .addColumn("file", T.int, (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", T.int, (c) => c.notNull())
    .addColumn("updated_at", T.int, (c) => c.notNull())
    .addColumn("rotated_at", T.int)
    .addPrimaryKeyConstraint("secret_keys_pk", ["set_name", "key"])
    .execute();
  await db.schema
    .createTable("secret_values")
    .addColumn("set_name", "text", (c) => c.notNull())
    .addColumn("key", "text", (c) => c.notNull())
    .addColumn("version", T.int, (c) => c.notNull())
    .addColumn("key_id", "text", (c) => c.notNull())
    .addColumn("nonce", T.blob, (c) => c.notNull())
    .addColumn("ciphertext", T.blob, (c) => c.notNull())
    .addColumn("created_at", T.int, (c) => c.notNull())
    .addPrimaryKeyConstraint("secret_values_pk", ["set_name", "key", "version"])
    .addForeignKeyConstraint(
      "secret_values_key",
      ["set_name", "key"],
      "secret_keys",
      ["set_name", "key"],
      (fk) => fk.onDelete("cascade"),
    )
    .execute();
}
