// The embedded secret store: values sealed with AES-256-GCM in the data directory's database.
//
// Envelope design: one random data key seals the values; the master key only seals (wraps) the
// data key. `rekey` therefore re-wraps one row in one transaction: values are untouched, readers
// in other processes see the old or the new keyring, never a mix, and a running gateway that
// already holds the data key keeps serving (no downtime). `rekey --data-key` also replaces the
// data key and re-seals every value, in the same single transaction, for when the old master key
// may have leaked together with a copy of the database.
// The keys and sealing are in embedded-keyring.ts, adding a version in embedded-versions.ts,
// rekeying in embedded-rekey.ts, and the SecretBackend for jobs in embedded-backend.ts.
import type { AuditRepo, KeyRow, OidcKeyRow, SecretRepo, Store } from "../store/types.js";
import { Keyring } from "./embedded-keyring.js";
import { type RekeyResult, rekeyStore } from "./embedded-rekey.js";
import { checkPut, type PutOptions, putVersion } from "./embedded-versions.js";
import { SecretsError, TamperedError } from "./errors.js";
import type { MasterKey } from "./master-key.js";
import { checkKeyName, checkSetName } from "./names.js";
import type { SecretKeyInfo } from "./types.js";

export interface EmbeddedStoreOptions {
  /** Where master.key lives (unless AIRLOCK_MASTER_KEY is set). */
  dataDir: string;
  /** The database the sealed values and their audit entries live in. */
  store: Store;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
}

export interface StoredKeyInfo extends SecretKeyInfo {
  set: string;
}

export interface KeyValues {
  key: string;
  file: boolean;
  current: { version: number; value: string };
  /** Every kept version, newest first, the current one included. */
  versions: { version: number; value: string }[];
}

export class EmbeddedStore {
  private readonly store: Store;
  private readonly now: () => number;
  private readonly keys: Keyring;

  constructor(private readonly opts: EmbeddedStoreOptions) {
    this.store = opts.store;
    this.now = opts.now ?? Date.now;
    this.keys = new Keyring({
      dataDir: opts.dataDir,
      store: opts.store,
      env: opts.env ?? process.env,
      now: this.now,
    });
  }

  /** The audit log of the database the values live in. */
  get audit(): AuditRepo {
    return this.store.audit;
  }

  get dataDir(): string {
    return this.opts.dataDir;
  }

  /**
   * Seals the private key of an OIDC signing key (PKCS#8 DER) like a value: with the active data
   * key, bound to its kid. Creates the store's keys on first use.
   */
  sealOidcKey(
    kid: string,
    pkcs8: Buffer,
  ): Promise<Pick<OidcKeyRow, "key_id" | "nonce" | "ciphertext">> {
    return this.keys.sealOidcKey(kid, pkcs8);
  }

  /** The PKCS#8 DER private key of an OIDC signing key (`rows`: a transaction's, if in one). */
  openOidcKey(
    row: Pick<OidcKeyRow, "kid" | "key_id" | "nonce" | "ciphertext">,
    rows: SecretRepo = this.store.secrets,
  ): Promise<Buffer> {
    return this.keys.openOidcKey(row, rows);
  }

  /** Stores a new version of SET/KEY (creating the key if needed). Returns the version. */
  async set(set: string, key: string, value: string, opts: PutOptions): Promise<number> {
    return this.put(set, key, value, opts, false);
  }

  /** Like set, for an existing key, and records the rotation time. */
  async rotate(set: string, key: string, value: string, opts: PutOptions): Promise<number> {
    return this.put(set, key, value, opts, true);
  }

  private async put(
    set: string,
    key: string,
    value: string,
    opts: PutOptions,
    rotate: boolean,
  ): Promise<number> {
    checkPut(set, key, opts);
    await this.keys.unlock(this.store.secrets, true);
    return this.store.transaction(async (tx) => {
      const version = await putVersion(tx.secrets, this.keys, this.now, set, key, value, {
        ...opts,
        rotate,
      });
      await tx.audit.record({
        action: rotate ? "rotate" : "set",
        actor: opts.actor,
        set,
        key,
        versions: { [key]: version },
        at: this.now(),
      });
      return version;
    });
  }

  /** Stores several keys of one set in one transaction: all or none. */
  async import(
    set: string,
    entries: { key: string; value: string }[],
    opts: PutOptions,
  ): Promise<Record<string, number>> {
    for (const e of entries) checkPut(set, e.key, opts);
    if (entries.length === 0) throw new SecretsError("nothing to import: the file has no entries");
    await this.keys.unlock(this.store.secrets, true);
    return this.store.transaction(async (tx) => {
      const versions: Record<string, number> = {};
      for (const e of entries) {
        versions[e.key] = await putVersion(
          tx.secrets,
          this.keys,
          this.now,
          set,
          e.key,
          e.value,
          opts,
        );
      }
      await tx.audit.record({ action: "import", actor: opts.actor, set, versions, at: this.now() });
      return versions;
    });
  }

  /** Makes the previous kept version current and discards the current one. */
  async rollback(set: string, key: string, actor: string): Promise<{ from: number; to: number }> {
    checkSetName(set);
    checkKeyName(key);
    return this.store.transaction(async (tx) => {
      const row = await this.requireKey(tx.secrets, set, key);
      const previous = (await tx.secrets.values(set, key)).find((v) => v.version < row.current);
      if (!previous) {
        throw new SecretsError(
          `${set}/${key} has no earlier version kept (current: ${row.current}), so there is nothing to roll back to`,
        );
      }
      await tx.secrets.deleteValue(set, key, row.current);
      await tx.secrets.upsertKey({ ...row, current: previous.version, updated_at: this.now() });
      const r = { from: row.current, to: previous.version };
      await tx.audit.record({ action: "rollback", actor, set, key, versions: r, at: this.now() });
      return r;
    });
  }

  /** Deletes one key with all its versions, or a whole set. Returns the number of keys deleted. */
  async delete(set: string, key: string | undefined, actor: string): Promise<number> {
    checkSetName(set);
    if (key !== undefined) checkKeyName(key);
    return this.store.transaction(async (tx) => {
      const rows = tx.secrets;
      const keys =
        key === undefined ? await rows.keys(set) : [await this.requireKey(rows, set, key)];
      if (keys.length === 0) throw new SecretsError(`there is no secret set "${set}" in the store`);
      for (const k of keys) {
        for (const v of await rows.values(set, k.key))
          await rows.deleteValue(set, k.key, v.version);
      }
      await rows.deleteKey(set, key);
      await tx.audit.record({
        action: "delete",
        actor,
        set,
        key: key ?? null,
        versions: Object.fromEntries(keys.map((k) => [k.key, k.current])),
        at: this.now(),
      });
      return keys.length;
    });
  }

  private async requireKey(rows: SecretRepo, set: string, key: string): Promise<KeyRow> {
    const row = await rows.key(set, key);
    if (!row) {
      const others = (await rows.keys(set)).map((k) => k.key);
      throw new SecretsError(
        others.length
          ? `set "${set}" has no key ${key}; its keys: ${others.join(", ")}`
          : `there is no secret set "${set}" in the store`,
      );
    }
    return row;
  }

  /** One value, for `airlock secrets get --reveal`. The reveal is audited before it is returned. */
  async reveal(
    set: string,
    key: string,
    opts: { actor: string; version?: number },
  ): Promise<{ value: string; version: number }> {
    checkSetName(set);
    checkKeyName(key);
    const rows = this.store.secrets;
    const row = await this.requireKey(rows, set, key);
    const version = opts.version ?? row.current;
    const stored = await rows.value(set, key, version);
    if (!stored) {
      const kept = (await rows.values(set, key)).map((v) => v.version);
      throw new SecretsError(`${set}/${key} has no version ${version}; kept: ${kept.join(", ")}`);
    }
    await this.keys.unlock(rows, false);
    const value = await this.keys.openValue(rows, stored);
    await this.store.audit.record({
      action: "reveal",
      actor: opts.actor,
      set,
      key,
      versions: { [key]: version },
      at: this.now(),
    });
    return { value, version };
  }

  /** Names, versions and times; never values. Needs no master key. */
  async list(set?: string): Promise<StoredKeyInfo[]> {
    const rows = this.store.secrets;
    const out: StoredKeyInfo[] = [];
    for (const s of set === undefined ? await rows.sets() : [set]) {
      for (const k of await rows.keys(s)) {
        out.push({
          set: s,
          key: k.key,
          version: k.current,
          versions: (await rows.values(s, k.key)).map((v) => v.version),
          updatedAt: k.updated_at,
          rotatedAt: k.rotated_at,
          file: k.file === 1,
        });
      }
    }
    return out;
  }

  /** Every kept value of a set, decrypted, for a grant. */
  async read(set: string): Promise<KeyValues[]> {
    const rows = this.store.secrets;
    const keys = await rows.keys(set);
    if (keys.length === 0) return [];
    await this.keys.unlock(rows, false);
    const out: KeyValues[] = [];
    for (const k of keys) {
      const versions: { version: number; value: string }[] = [];
      for (const v of await rows.values(set, k.key)) {
        versions.push({ version: v.version, value: await this.keys.openValue(rows, v) });
      }
      const current = versions.find((v) => v.version === k.current);
      if (!current) {
        throw new TamperedError(
          `${set}/${k.key} has lost its current version ${k.current}: restore the database from a backup`,
        );
      }
      out.push({ key: k.key, file: k.file === 1, current, versions });
    }
    return out;
  }

  /**
   * Proves that the master key at hand opens this store: unwraps the data keys and decrypts every
   * stored value, keeping none of them. Throws WrongMasterKeyError or TamperedError (messages
   * without key material or values); undefined when the store holds nothing yet. For `doctor`.
   */
  async verify(): Promise<{ source: MasterKey["source"]; values: number } | undefined> {
    const rows = this.store.secrets;
    if ((await rows.keyring()).length === 0) return undefined;
    await this.keys.unlock(rows, false);
    const values = await rows.allValues();
    for (const v of values) await this.keys.openValue(rows, v);
    for (const k of await this.store.oidcKeys.all()) await this.openOidcKey(k, rows);
    return { source: this.keys.master!.source, values: values.length };
  }

  /**
   * Re-wraps the data key under a new master key (given, or generated when the key lives in
   * master.key). With `dataKey`, also replaces the data key and re-seals every value.
   */
  rekey(opts: { actor: string; newKey?: Buffer; dataKey?: boolean }): Promise<RekeyResult> {
    return rekeyStore(this.store, this.keys, this.now, opts);
  }
}
