// Rows of the embedded secret store. Only sealed values and metadata pass through here; the
// sealing itself lives in src/secrets/embedded.ts. Statements are synchronous so that a change
// and its audit entry commit in one transaction.
import type SQLite from "better-sqlite3";
import type { SecretKeyringTable, SecretKeysTable, SecretValuesTable } from "./secrets-schema.js";

export type KeyringRow = SecretKeyringTable;
export type KeyRow = SecretKeysTable;
export type ValueRow = SecretValuesTable;

export class SecretRows {
  constructor(readonly sqlite: SQLite.Database) {}

  /** Waits until no async transaction of another module is open on the shared connection. */
  async ready(): Promise<void> {
    while (this.sqlite.inTransaction) await new Promise((r) => setImmediate(r));
  }

  /** Runs `fn` in an IMMEDIATE transaction: writers in other processes wait, readers never do. */
  write<T>(fn: () => T): T {
    return this.sqlite.transaction(fn).immediate();
  }

  keyring(): KeyringRow[] {
    return this.sqlite
      .prepare(`SELECT * FROM secret_keyring ORDER BY created_at`)
      .all() as KeyringRow[];
  }

  insertKeyring(r: KeyringRow): void {
    this.sqlite
      .prepare(
        `INSERT INTO secret_keyring (id, master_id, nonce, wrapped, active, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(r.id, r.master_id, r.nonce, r.wrapped, r.active, r.created_at);
  }

  rewrapKeyring(id: string, masterId: string, nonce: Buffer, wrapped: Buffer): void {
    this.sqlite
      .prepare(`UPDATE secret_keyring SET master_id = ?, nonce = ?, wrapped = ? WHERE id = ?`)
      .run(masterId, nonce, wrapped, id);
  }

  deleteKeyring(id: string): void {
    this.sqlite.prepare(`DELETE FROM secret_keyring WHERE id = ?`).run(id);
  }

  setActiveKeyring(id: string): void {
    this.sqlite.prepare(`UPDATE secret_keyring SET active = (id = ?)`).run(id);
  }

  sets(): string[] {
    return (
      this.sqlite.prepare(`SELECT DISTINCT set_name FROM secret_keys ORDER BY set_name`).all() as {
        set_name: string;
      }[]
    ).map((r) => r.set_name);
  }

  keys(set: string): KeyRow[] {
    return this.sqlite
      .prepare(`SELECT * FROM secret_keys WHERE set_name = ? ORDER BY key`)
      .all(set) as KeyRow[];
  }

  key(set: string, key: string): KeyRow | undefined {
    return this.sqlite
      .prepare(`SELECT * FROM secret_keys WHERE set_name = ? AND key = ?`)
      .get(set, key) as KeyRow | undefined;
  }

  upsertKey(r: KeyRow): void {
    this.sqlite
      .prepare(
        `INSERT INTO secret_keys (set_name, key, current, next_version, keep, file, created_at, updated_at, rotated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (set_name, key) DO UPDATE SET current = excluded.current,
           next_version = excluded.next_version, keep = excluded.keep, file = excluded.file,
           updated_at = excluded.updated_at, rotated_at = excluded.rotated_at`,
      )
      .run(
        r.set_name,
        r.key,
        r.current,
        r.next_version,
        r.keep,
        r.file,
        r.created_at,
        r.updated_at,
        r.rotated_at,
      );
  }

  deleteKey(set: string, key?: string): number {
    return key === undefined
      ? this.sqlite.prepare(`DELETE FROM secret_keys WHERE set_name = ?`).run(set).changes
      : this.sqlite.prepare(`DELETE FROM secret_keys WHERE set_name = ? AND key = ?`).run(set, key)
          .changes;
  }

  /** Kept versions of a key, newest first. */
  values(set: string, key: string): ValueRow[] {
    return this.sqlite
      .prepare(`SELECT * FROM secret_values WHERE set_name = ? AND key = ? ORDER BY version DESC`)
      .all(set, key) as ValueRow[];
  }

  value(set: string, key: string, version: number): ValueRow | undefined {
    return this.sqlite
      .prepare(`SELECT * FROM secret_values WHERE set_name = ? AND key = ? AND version = ?`)
      .get(set, key, version) as ValueRow | undefined;
  }

  allValues(): ValueRow[] {
    return this.sqlite.prepare(`SELECT * FROM secret_values`).all() as ValueRow[];
  }

  insertValue(r: ValueRow): void {
    this.sqlite
      .prepare(
        `INSERT INTO secret_values (set_name, key, version, key_id, nonce, ciphertext, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(r.set_name, r.key, r.version, r.key_id, r.nonce, r.ciphertext, r.created_at);
  }

  replaceSealed(
    r: Pick<ValueRow, "set_name" | "key" | "version" | "key_id" | "nonce" | "ciphertext">,
  ): void {
    this.sqlite
      .prepare(
        `UPDATE secret_values SET key_id = ?, nonce = ?, ciphertext = ? WHERE set_name = ? AND key = ? AND version = ?`,
      )
      .run(r.key_id, r.nonce, r.ciphertext, r.set_name, r.key, r.version);
  }

  deleteValue(set: string, key: string, version: number): void {
    this.sqlite
      .prepare(`DELETE FROM secret_values WHERE set_name = ? AND key = ? AND version = ?`)
      .run(set, key, version);
  }
}
