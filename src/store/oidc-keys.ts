// Rows of the OIDC issuer's key table. Sealing and unsealing live in src/secrets/; statements are
// synchronous so that a rotation and its audit entry commit in one transaction.
import type SQLite from "better-sqlite3";
import type { OidcKeysTable } from "./oidc-keys-schema.js";

export type OidcKeyRow = OidcKeysTable;

export class OidcKeyRows {
  constructor(readonly sqlite: SQLite.Database) {}

  /** Waits until no async transaction of another module is open on the shared connection. */
  async ready(): Promise<void> {
    while (this.sqlite.inTransaction) await new Promise((r) => setImmediate(r));
  }

  /** Runs `fn` in an IMMEDIATE transaction: writers in other processes wait, readers never do. */
  write<T>(fn: () => T): T {
    return this.sqlite.transaction(fn).immediate();
  }

  /** Every key, oldest activation first. */
  all(): OidcKeyRow[] {
    return this.sqlite
      .prepare(`SELECT * FROM oidc_keys ORDER BY activates_at, created_at`)
      .all() as OidcKeyRow[];
  }

  insert(r: OidcKeyRow): void {
    this.sqlite
      .prepare(
        `INSERT INTO oidc_keys (kid, alg, public_jwk, key_id, nonce, ciphertext, created_at, activates_at, signed_until)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        r.kid,
        r.alg,
        r.public_jwk,
        r.key_id,
        r.nonce,
        r.ciphertext,
        r.created_at,
        r.activates_at,
        r.signed_until,
      );
  }

  /** Records that the key signed a token valid until `exp` (ms); never moves backwards. */
  noteSigned(kid: string, exp: number): void {
    this.sqlite
      .prepare(`UPDATE oidc_keys SET signed_until = MAX(signed_until, ?) WHERE kid = ?`)
      .run(exp, kid);
  }

  /** Re-seals a private key (a rekey that replaced the data key). */
  replaceSealed(kid: string, keyId: string, nonce: Buffer, ciphertext: Buffer): void {
    this.sqlite
      .prepare(`UPDATE oidc_keys SET key_id = ?, nonce = ?, ciphertext = ? WHERE kid = ?`)
      .run(keyId, nonce, ciphertext, kid);
  }

  /** Removes a key, private part included (revoked, or no longer published). */
  delete(kid: string): void {
    this.sqlite.prepare(`DELETE FROM oidc_keys WHERE kid = ?`).run(kid);
  }
}
