import type { Kysely } from "kysely";

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable("secret_keyring")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("master_id", "text", (c) => c.notNull())
    .addColumn("nonce", "blob", (c) => c.notNull())
    .addColumn("wrapped", "blob", (c) => c.notNull())
    .addColumn("active", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", "integer", (c) => c.notNull())
    .execute();
  await db.schema
    .createTable("secret_keys")
    .addColumn("set_name", "text", (c) => c.notNull())
    .addColumn("key", "text", (c) => c.notNull())
    .addColumn("current", "integer", (c) => c.notNull())
    .addColumn("next_version", "integer", (c) => c.notNull())
    .addColumn("keep", "integer", (c) => c.notNull())
    .addColumn("file", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("created_at", "integer", (c) => c.notNull())
    .addColumn("updated_at", "integer", (c) => c.notNull())
    .addColumn("rotated_at", "integer")
    .addPrimaryKeyConstraint("secret_keys_pk", ["set_name", "key"])
    .execute();
  await db.schema
    .createTable("secret_values")
    .addColumn("set_name", "text", (c) => c.notNull())
    .addColumn("key", "text", (c) => c.notNull())
    .addColumn("version", "integer", (c) => c.notNull())
    .addColumn("key_id", "text", (c) => c.notNull())
    .addColumn("nonce", "blob", (c) => c.notNull())
    .addColumn("ciphertext", "blob", (c) => c.notNull())
    .addColumn("created_at", "integer", (c) => c.notNull())
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
