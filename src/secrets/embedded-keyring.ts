// The embedded store's keys: the master key (AIRLOCK_MASTER_KEY or master.key) and the data keys
// it wraps, unwrapped once and held for the process's life so that a master rekey costs no
// downtime; and sealing and opening values and OIDC signing keys with them. Apart from the
// store's methods (embedded.ts), which only say what to keep and audit.
import { existsSync, renameSync } from "node:fs";
import type { OidcKeyRow, SecretRepo, Store, ValueRow } from "../store/types.js";
import { aad, masterKeyId, newKey, newKeyId, open, seal } from "./crypto.js";
import { TamperedError, WrongMasterKeyError } from "./errors.js";
import { loadMasterKey, MASTER_KEY_ENV, type MasterKey, readKeyFile } from "./master-key.js";

export const valueAad = (keyId: string, set: string, key: string, version: number) =>
  aad("airlock-secret-value-v1", keyId, set, key, version);
export const dataKeyAad = (keyId: string, masterId: string) =>
  aad("airlock-data-key-v1", keyId, masterId);
export const oidcKeyAad = (keyId: string, kid: string) => aad("airlock-oidc-key-v1", keyId, kid);

const wrongKey = (master: MasterKey, expected: string) =>
  new WrongMasterKeyError(
    `the master key does not match the one that encrypted this store; set ${MASTER_KEY_ENV} or restore master.key (the store expects master key id ${expected}; ${master.source === "env" ? MASTER_KEY_ENV : master.file} holds key id ${master.id})`,
  );

export interface KeyringOptions {
  /** Where master.key lives (unless AIRLOCK_MASTER_KEY is set). */
  dataDir: string;
  /** The database whose keyring table holds the wrapped data keys. */
  store: Store;
  env: NodeJS.ProcessEnv;
  now: () => number;
}

export class Keyring {
  private current: MasterKey | undefined;
  /** Unwrapped data keys by id. Held for the process's life so a master rekey costs no downtime. */
  private readonly dataKeys = new Map<string, Buffer>();
  private activeKeyId: string | undefined;

  constructor(private readonly opts: KeyringOptions) {}

  /** The master key, once unlocked. */
  get master(): MasterKey | undefined {
    return this.current;
  }

  /** An unwrapped data key by id (a master rekey wraps it anew). */
  dataKey(id: string): Buffer | undefined {
    return this.dataKeys.get(id);
  }

  /**
   * Loads the master key and unwraps the data keys. With `create`, an empty store gets its
   * master key file (unless AIRLOCK_MASTER_KEY is set) and its first data key.
   */
  async unlock(rows: SecretRepo, create: boolean): Promise<void> {
    if (this.activeKeyId) return;
    let ring = await rows.keyring();
    if (ring.length === 0) {
      if (!create) return;
      const master = loadMasterKey(this.opts.dataDir, this.opts.env, { create: true })!;
      await this.opts.store.transaction(async (tx) => {
        if ((await tx.secrets.keyring()).length > 0) return; // another process initialised it first
        const id = newKeyId();
        const sealed = seal(master.key, newKey(), dataKeyAad(id, master.id));
        await tx.secrets.insertKeyring({
          id,
          master_id: master.id,
          nonce: sealed.nonce,
          wrapped: sealed.ciphertext,
          active: 1,
          created_at: this.opts.now(),
        });
      });
      ring = await rows.keyring();
    }
    const expected = ring[0]!.master_id;
    let master = loadMasterKey(this.opts.dataDir, this.opts.env, { create: false });
    if (!master) {
      throw new WrongMasterKeyError(
        `no master key: set ${MASTER_KEY_ENV} or restore ${this.opts.dataDir}/master.key (this store was encrypted with master key id ${expected})`,
      );
    }
    if (master.id !== expected) master = this.finishInterruptedRekey(master, expected);
    for (const row of ring) {
      if (row.master_id !== master.id) throw wrongKey(master, row.master_id);
      const key = open(
        master.key,
        { nonce: row.nonce, ciphertext: row.wrapped },
        dataKeyAad(row.id, master.id),
      );
      if (!key) {
        throw new TamperedError(
          `data key ${row.id} in the keyring failed authentication although the master key matches: the database was altered; restore it from a backup`,
        );
      }
      this.dataKeys.set(row.id, key);
      if (row.active) this.activeKeyId = row.id;
    }
    if (!this.activeKeyId) {
      throw new TamperedError(
        "the keyring has no active data key: restore the database from a backup",
      );
    }
    this.current = master;
  }

  /**
   * A rekey writes master.key.new, commits, then renames it over master.key. If the process died
   * between the commit and the rename, the new file is the right key: finish the rename.
   */
  private finishInterruptedRekey(master: MasterKey, expected: string): MasterKey {
    const pending = `${master.file}.new`;
    if (master.source === "file" && existsSync(pending)) {
      const key = readKeyFile(pending);
      if (masterKeyId(key) === expected) {
        renameSync(pending, master.file);
        return { ...master, key, id: expected };
      }
    }
    throw wrongKey(master, expected);
  }

  /** Forgets cached data keys, e.g. after another process replaced the data key. */
  private async relock(rows: SecretRepo): Promise<void> {
    this.dataKeys.clear();
    this.activeKeyId = undefined;
    await this.unlock(rows, false);
  }

  /** Inside a write transaction: makes sure new values are sealed with the keyring's active key. */
  private async ensureActiveKey(rows: SecretRepo): Promise<void> {
    const active = (await rows.keyring()).find((r) => r.active === 1);
    if (active?.id !== this.activeKeyId) await this.relock(rows);
  }

  async sealValue(rows: SecretRepo, set: string, key: string, version: number, value: string) {
    await this.ensureActiveKey(rows);
    const keyId = this.activeKeyId!;
    const sealed = seal(
      this.dataKeys.get(keyId)!,
      Buffer.from(value, "utf8"),
      valueAad(keyId, set, key, version),
    );
    return { key_id: keyId, nonce: sealed.nonce, ciphertext: sealed.ciphertext };
  }

  async openValue(rows: SecretRepo, row: ValueRow): Promise<string> {
    if (!this.dataKeys.has(row.key_id)) await this.relock(rows);
    const dataKey = this.dataKeys.get(row.key_id);
    const plain =
      dataKey && open(dataKey, row, valueAad(row.key_id, row.set_name, row.key, row.version));
    if (!plain) {
      throw new TamperedError(
        `the stored value of ${row.set_name}/${row.key} version ${row.version} failed authentication: it was altered or moved from another key or version; set it again or restore the database from a backup`,
      );
    }
    return plain.toString("utf8");
  }

  /** An OIDC signing key's PKCS#8 DER, sealed with the active data key and bound to its kid. */
  async sealOidcKey(
    kid: string,
    pkcs8: Buffer,
  ): Promise<Pick<OidcKeyRow, "key_id" | "nonce" | "ciphertext">> {
    await this.unlock(this.opts.store.secrets, true);
    await this.ensureActiveKey(this.opts.store.secrets);
    const keyId = this.activeKeyId!;
    const sealed = seal(this.dataKeys.get(keyId)!, pkcs8, oidcKeyAad(keyId, kid));
    return { key_id: keyId, nonce: sealed.nonce, ciphertext: sealed.ciphertext };
  }

  /** Opens what sealOidcKey sealed. */
  async openOidcKey(
    row: Pick<OidcKeyRow, "kid" | "key_id" | "nonce" | "ciphertext">,
    rows: SecretRepo = this.opts.store.secrets,
  ): Promise<Buffer> {
    await this.unlock(rows, false);
    if (!this.dataKeys.has(row.key_id)) await this.relock(rows);
    const dataKey = this.dataKeys.get(row.key_id);
    const plain = dataKey && open(dataKey, row, oidcKeyAad(row.key_id, row.kid));
    if (!plain) {
      throw new TamperedError(
        `the OIDC signing key ${row.kid} failed authentication: it was altered or moved; rotate with \`airlock oidc rotate --now\` or restore the database from a backup`,
      );
    }
    return plain;
  }

  /** After a committed rekey: the new master key, and the new data key when it was replaced. */
  adopt(master: MasterKey, dataKey?: { id: string; key: Buffer }): void {
    if (dataKey) {
      this.dataKeys.clear();
      this.dataKeys.set(dataKey.id, dataKey.key);
      this.activeKeyId = dataKey.id;
    }
    this.current = master;
  }
}
