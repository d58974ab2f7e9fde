// Rows of the embedded secret store. Only sealed values and metadata pass through here; the
// sealing itself lives in src/secrets/embedded-keyring.ts, and src/secrets/embedded.ts puts a
// change and its audit entry in one transaction.
import type { KeyRow, KeyringRow, SecretRepo, ValueRow } from "../types.js";
import { type Ctx, changed } from "./context.js";

export class SecretRepoImpl implements SecretRepo {
  constructor(
    private readonly c: Ctx,
    readonly purgeDeleted: () => Promise<void>,
  ) {}

  keyring(): Promise<KeyringRow[]> {
    return this.c.db.selectFrom("secret_keyring").selectAll().orderBy("created_at").execute();
  }

  async insertKeyring(r: KeyringRow): Promise<void> {
    await this.c.db.insertInto("secret_keyring").values(r).execute();
  }

  async rewrapKeyring(id: string, masterId: string, nonce: Buffer, wrapped: Buffer) {
    await this.c.db
      .updateTable("secret_keyring")
      .set({ master_id: masterId, nonce, wrapped })
      .where("id", "=", id)
      .execute();
  }

  async deleteKeyring(id: string): Promise<void> {
    await this.c.db.deleteFrom("secret_keyring").where("id", "=", id).execute();
  }

  async setActiveKeyring(id: string): Promise<void> {
    await this.c.db
      .updateTable("secret_keyring")
      .set((eb) => ({ active: eb.case().when("id", "=", id).then(1).else(0).end() }))
      .execute();
  }

  async sets(): Promise<string[]> {
    const rows = await this.c.db
      .selectFrom("secret_keys")
      .select("set_name")
      .distinct()
      .orderBy("set_name")
      .execute();
    return rows.map((r) => r.set_name);
  }

  keys(set: string): Promise<KeyRow[]> {
    return this.c.db
      .selectFrom("secret_keys")
      .selectAll()
      .where("set_name", "=", set)
      .orderBy("key")
      .execute();
  }

  key(set: string, key: string): Promise<KeyRow | undefined> {
    return this.c.db
      .selectFrom("secret_keys")
      .selectAll()
      .where("set_name", "=", set)
      .where("key", "=", key)
      .executeTakeFirst();
  }

  async upsertKey(r: KeyRow): Promise<void> {
    const { set_name: _s, key: _k, created_at: _c, ...changes } = r;
    await this.c.db
      .insertInto("secret_keys")
      .values(r)
      .onConflict((oc) => oc.columns(["set_name", "key"]).doUpdateSet(changes))
      .execute();
  }

  async deleteKey(set: string, key?: string): Promise<number> {
    let q = this.c.db.deleteFrom("secret_keys").where("set_name", "=", set);
    if (key !== undefined) q = q.where("key", "=", key);
    return changed(await q.executeTakeFirst());
  }

  values(set: string, key: string): Promise<ValueRow[]> {
    return this.c.db
      .selectFrom("secret_values")
      .selectAll()
      .where("set_name", "=", set)
      .where("key", "=", key)
      .orderBy("version", "desc")
      .execute();
  }

  value(set: string, key: string, version: number): Promise<ValueRow | undefined> {
    return this.c.db
      .selectFrom("secret_values")
      .selectAll()
      .where("set_name", "=", set)
      .where("key", "=", key)
      .where("version", "=", version)
      .executeTakeFirst();
  }

  allValues(): Promise<ValueRow[]> {
    return this.c.db
      .selectFrom("secret_values")
      .selectAll()
      .orderBy("set_name")
      .orderBy("key")
      .orderBy("version")
      .execute();
  }

  async insertValue(r: ValueRow): Promise<void> {
    await this.c.db.insertInto("secret_values").values(r).execute();
  }

  async replaceSealed(
    r: Pick<ValueRow, "set_name" | "key" | "version" | "key_id" | "nonce" | "ciphertext">,
  ): Promise<void> {
    await this.c.db
      .updateTable("secret_values")
      .set({ key_id: r.key_id, nonce: r.nonce, ciphertext: r.ciphertext })
      .where("set_name", "=", r.set_name)
      .where("key", "=", r.key)
      .where("version", "=", r.version)
      .execute();
  }

  async deleteValue(set: string, key: string, version: number): Promise<void> {
    await this.c.db
      .deleteFrom("secret_values")
      .where("set_name", "=", set)
      .where("key", "=", key)
      .where("version", "=", version)
      .execute();
  }
}
