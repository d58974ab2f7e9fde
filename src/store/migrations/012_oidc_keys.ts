import type { Kysely } from "kysely";
import { columnTypes } from "./dialect.js";

// Signing keys of Airlock's OIDC issuer. The private key is sealed like a secret value; the
// public key and the key's schedule (when it signs, until when it stays published) are not secret.
export async function up(db: Kysely<unknown>): Promise<void> {
  const T = columnTypes(db);
  await db.schema
    .createTable("oidc_keys")
    .addColumn("kid", "text", (c) => c.primaryKey())
    .addColumn("alg", "text", (c) => c.notNull())
    .addColumn("public_jwk", "text", (c) => c.notNull())
    .addColumn("key_id", "text", (c) => c.notNull())
    .addColumn("nonce", T.blob, (c) => c.notNull())
    .addColumn("ciphertext", T.blob, (c) => c.notNull())
    .addColumn("created_at", T.int, (c) => c.notNull())
    .addColumn("activates_at", T.int, (c) => c.notNull())
    .addColumn("signed_until", T.int, (c) => c.notNull().defaultTo(0))
    .execute();
}
