// Rows of the OIDC issuer's signing keys. Sealing and unsealing live in src/secrets/; a rotation
// and its audit entry commit in one transaction of the caller's.
import type { OidcKeyRepo, OidcKeyRow } from "../types.js";
import type { Ctx } from "./context.js";

export class OidcKeyRepoImpl implements OidcKeyRepo {
  constructor(private readonly c: Ctx) {}

  all(): Promise<OidcKeyRow[]> {
    return this.c.db
      .selectFrom("oidc_keys")
      .selectAll()
      .orderBy("activates_at")
      .orderBy("created_at")
      .execute();
  }

  async insert(r: OidcKeyRow): Promise<void> {
    await this.c.db.insertInto("oidc_keys").values(r).execute();
  }

  async noteSigned(kid: string, exp: number): Promise<void> {
    await this.c.db
      .updateTable("oidc_keys")
      .set({ signed_until: exp })
      .where("kid", "=", kid)
      .where("signed_until", "<", exp)
      .execute();
  }

  async replaceSealed(kid: string, keyId: string, nonce: Buffer, ciphertext: Buffer) {
    await this.c.db
      .updateTable("oidc_keys")
      .set({ key_id: keyId, nonce, ciphertext })
      .where("kid", "=", kid)
      .execute();
  }

  async delete(kid: string): Promise<void> {
    await this.c.db.deleteFrom("oidc_keys").where("kid", "=", kid).execute();
  }
}
