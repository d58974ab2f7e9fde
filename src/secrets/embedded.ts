// The embedded secret store: values sealed with AES-256-GCM in the data directory's database.
//
// Envelope design: one random data key seals the values; the master key only seals (wraps) the
// data key. `rekey` therefore re-wraps one row in one transaction: values are untouched, readers
// in other processes see the old or the new keyring, never a mix, and a running gateway that
// already holds the data key keeps serving (no downtime). `rekey --data-key` also replaces the
// data key and re-seals every value, in the same single transaction, for when the old master key
// may have leaked together with a copy of the database.
import { existsSync, renameSync, rmSync } from "node:fs";
import type { SecretSetConfig } from "../config/schema.js";
import type { AuditRepo, KeyRow, OidcKeyRow, SecretRepo, Store, ValueRow } from "../store/types.js";
import { aad, masterKeyId, newKey, newKeyId, open, seal } from "./crypto.js";
import { SecretsError, TamperedError, WrongMasterKeyError } from "./errors.js";
import {
  loadMasterKey,
  MASTER_KEY_ENV,
  type MasterKey,
  readKeyFile,
  writeKeyFile,
} from "./master-key.js";
import { checkKeyName, checkSetName, checkValue } from "./names.js";
import type { GrantContext, SecretBackend, SecretGrant, SecretKeyInfo } from "./types.js";

export const DEFAULT_KEEP = 5;
const MAX_KEEP = 100;

export interface EmbeddedStoreOptions {
  /** Where master.key lives (unless AIRLOCK_MASTER_KEY is set). */
  dataDir: string;
  /** The database the sealed values and their audit entries live in. */
  store: Store;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
}

export interface PutOptions {
  /** Who is acting, for the audit log ("cli:alice"). */
  actor: string;
  /** Deliver as a file; undefined keeps the key's current choice (false for a new key). */
  file?: boolean;
  /** Versions to keep; undefined keeps the key's current choice (DEFAULT_KEEP for a new key). */
  keep?: number;
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

export interface RekeyResult {
  oldMasterId: string;
  newMasterId: string;
  /** Where the new key was written, when the key lives in a file. */
  keyFile?: string;
  dataKeyReplaced: boolean;
  valuesResealed: number;
}

const valueAad = (keyId: string, set: string, key: string, version: number) =>
  aad("airlock-secret-value-v1", keyId, set, key, version);
const dataKeyAad = (keyId: string, masterId: string) => aad("airlock-data-key-v1", keyId, masterId);
const oidcKeyAad = (keyId: string, kid: string) => aad("airlock-oidc-key-v1", keyId, kid);

const wrongKey = (master: MasterKey, expected: string) =>
  new WrongMasterKeyError(
    `the master key does not match the one that encrypted this store; set ${MASTER_KEY_ENV} or restore master.key (the store expects master key id ${expected}; ${master.source === "env" ? MASTER_KEY_ENV : master.file} holds key id ${master.id})`,
  );

export class EmbeddedStore {
  private readonly store: Store;
  private readonly env: NodeJS.ProcessEnv;
  private readonly now: () => number;
  private master: MasterKey | undefined;
  /** Unwrapped data keys by id. Held for the process's life so a master rekey costs no downtime. */
  private readonly dataKeys = new Map<string, Buffer>();
  private activeKeyId: string | undefined;

  constructor(private readonly opts: EmbeddedStoreOptions) {
    this.store = opts.store;
    this.env = opts.env ?? process.env;
    this.now = opts.now ?? Date.now;
  }

  /** The audit log of the database the values live in. */
  get audit(): AuditRepo {
    return this.store.audit;
  }

  get dataDir(): string {
    return this.opts.dataDir;
  }

  /**
   * Loads the master key and unwraps the data keys. With `create`, an empty store gets its
   * master key file (unless AIRLOCK_MASTER_KEY is set) and its first data key.
   */
  private async unlock(rows: SecretRepo, create: boolean): Promise<void> {
    if (this.activeKeyId) return;
    let ring = await rows.keyring();
    if (ring.length === 0) {
      if (!create) return;
      const master = loadMasterKey(this.opts.dataDir, this.env, { create: true })!;
      await this.store.transaction(async (tx) => {
        if ((await tx.secrets.keyring()).length > 0) return; // another process initialised it first
        const id = newKeyId();
        const sealed = seal(master.key, newKey(), dataKeyAad(id, master.id));
        await tx.secrets.insertKeyring({
          id,
          master_id: master.id,
          nonce: sealed.nonce,
          wrapped: sealed.ciphertext,
          active: 1,
          created_at: this.now(),
        });
      });
      ring = await rows.keyring();
    }
    const expected = ring[0]!.master_id;
    let master = loadMasterKey(this.opts.dataDir, this.env, { create: false });
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
    this.master = master;
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

  private async sealValue(
    rows: SecretRepo,
    set: string,
    key: string,
    version: number,
    value: string,
  ) {
    await this.ensureActiveKey(rows);
    const keyId = this.activeKeyId!;
    const sealed = seal(
      this.dataKeys.get(keyId)!,
      Buffer.from(value, "utf8"),
      valueAad(keyId, set, key, version),
    );
    return { key_id: keyId, nonce: sealed.nonce, ciphertext: sealed.ciphertext };
  }

  private async openValue(rows: SecretRepo, row: ValueRow): Promise<string> {
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

  /**
   * Seals the private key of an OIDC signing key (PKCS#8 DER) like a value: with the active data
   * key, bound to its kid. Creates the store's keys on first use.
   */
  async sealOidcKey(
    kid: string,
    pkcs8: Buffer,
  ): Promise<Pick<OidcKeyRow, "key_id" | "nonce" | "ciphertext">> {
    await this.unlock(this.store.secrets, true);
    await this.ensureActiveKey(this.store.secrets);
    const keyId = this.activeKeyId!;
    const sealed = seal(this.dataKeys.get(keyId)!, pkcs8, oidcKeyAad(keyId, kid));
    return { key_id: keyId, nonce: sealed.nonce, ciphertext: sealed.ciphertext };
  }

  /** The PKCS#8 DER private key of an OIDC signing key (`rows`: a transaction's, if in one). */
  async openOidcKey(
    row: Pick<OidcKeyRow, "kid" | "key_id" | "nonce" | "ciphertext">,
    rows: SecretRepo = this.store.secrets,
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

  /** Inside a write transaction: adds a version and prunes beyond `keep`. Returns the version. */
  private async putIn(
    rows: SecretRepo,
    set: string,
    key: string,
    value: string,
    opts: PutOptions & { rotate?: boolean },
  ): Promise<number> {
    const existing = await rows.key(set, key);
    if (opts.rotate && !existing) {
      throw new SecretsError(
        `${set}/${key} does not exist, so there is nothing to rotate: create it with \`airlock secrets set ${set} ${key}\``,
      );
    }
    const file = opts.file ?? existing?.file === 1;
    checkValue(set, key, value, file);
    const now = this.now();
    const version = existing?.next_version ?? 1;
    const keep = opts.keep ?? existing?.keep ?? DEFAULT_KEEP;
    // The key row first: values reference it.
    await rows.upsertKey({
      set_name: set,
      key,
      current: version,
      next_version: version + 1,
      keep,
      file: file ? 1 : 0,
      created_at: existing?.created_at ?? now,
      updated_at: now,
      rotated_at: opts.rotate ? now : (existing?.rotated_at ?? null),
    });
    await rows.insertValue({
      set_name: set,
      key,
      version,
      ...(await this.sealValue(rows, set, key, version, value)),
      created_at: now,
    });
    for (const old of (await rows.values(set, key)).slice(keep)) {
      await rows.deleteValue(set, key, old.version);
    }
    return version;
  }

  private checkPut(set: string, key: string, opts: PutOptions): void {
    checkSetName(set);
    checkKeyName(key);
    if (
      opts.keep !== undefined &&
      !(Number.isInteger(opts.keep) && opts.keep >= 1 && opts.keep <= MAX_KEEP)
    ) {
      throw new SecretsError(`--keep must be a whole number from 1 to ${MAX_KEEP}`);
    }
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
    this.checkPut(set, key, opts);
    await this.unlock(this.store.secrets, true);
    return this.store.transaction(async (tx) => {
      const version = await this.putIn(tx.secrets, set, key, value, { ...opts, rotate });
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
    for (const e of entries) this.checkPut(set, e.key, opts);
    if (entries.length === 0) throw new SecretsError("nothing to import: the file has no entries");
    await this.unlock(this.store.secrets, true);
    return this.store.transaction(async (tx) => {
      const versions: Record<string, number> = {};
      for (const e of entries) {
        versions[e.key] = await this.putIn(tx.secrets, set, e.key, e.value, opts);
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
    await this.unlock(rows, false);
    const value = await this.openValue(rows, stored);
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
    await this.unlock(rows, false);
    const out: KeyValues[] = [];
    for (const k of keys) {
      const versions: { version: number; value: string }[] = [];
      for (const v of await rows.values(set, k.key)) {
        versions.push({ version: v.version, value: await this.openValue(rows, v) });
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
    await this.unlock(rows, false);
    const values = await rows.allValues();
    for (const v of values) await this.openValue(rows, v);
    for (const k of await this.store.oidcKeys.all()) await this.openOidcKey(k, rows);
    return { source: this.master!.source, values: values.length };
  }

  /**
   * Re-wraps the data key under a new master key (given, or generated when the key lives in
   * master.key). With `dataKey`, also replaces the data key and re-seals every value.
   */
  async rekey(opts: { actor: string; newKey?: Buffer; dataKey?: boolean }): Promise<RekeyResult> {
    await this.unlock(this.store.secrets, false);
    const old = this.master;
    if (!old) throw new SecretsError("nothing to rekey: the store holds no secrets yet");
    if (old.source === "env" && !opts.newKey) {
      throw new SecretsError(
        `the master key comes from ${MASTER_KEY_ENV}: give the new key on stdin (e.g. \`openssl rand -base64 32 | airlock secrets rekey --new-key-stdin\`), then set ${MASTER_KEY_ENV} to it`,
      );
    }
    const next = opts.newKey ?? newKey();
    const nextId = masterKeyId(next);
    if (nextId === old.id) {
      throw new SecretsError(
        "the new master key is the same as the current one: generate a new one",
      );
    }
    const pending = `${old.file}.new`;
    if (old.source === "file") {
      // A leftover from an interrupted rekey that never committed: the current key is master.key.
      rmSync(pending, { force: true });
      writeKeyFile(pending, next);
    }
    let resealed = 0;
    let newDataKey: { id: string; key: Buffer } | undefined;
    try {
      await this.store.transaction(async (tx) => {
        const rows = tx.secrets;
        if (opts.dataKey) {
          newDataKey = { id: newKeyId(), key: newKey() };
          for (const row of await rows.allValues()) {
            const value = await this.openValue(rows, row);
            const s = seal(
              newDataKey.key,
              Buffer.from(value, "utf8"),
              valueAad(newDataKey.id, row.set_name, row.key, row.version),
            );
            await rows.replaceSealed({
              ...row,
              key_id: newDataKey.id,
              nonce: s.nonce,
              ciphertext: s.ciphertext,
            });
            resealed++;
          }
          for (const row of await tx.oidcKeys.all()) {
            const s = seal(
              newDataKey.key,
              await this.openOidcKey(row, rows),
              oidcKeyAad(newDataKey.id, row.kid),
            );
            await tx.oidcKeys.replaceSealed(row.kid, newDataKey.id, s.nonce, s.ciphertext);
            resealed++;
          }
          for (const r of await rows.keyring()) await rows.deleteKeyring(r.id);
          const w = seal(next, newDataKey.key, dataKeyAad(newDataKey.id, nextId));
          await rows.insertKeyring({
            id: newDataKey.id,
            master_id: nextId,
            nonce: w.nonce,
            wrapped: w.ciphertext,
            active: 1,
            created_at: this.now(),
          });
        } else {
          for (const r of await rows.keyring()) {
            const w = seal(next, this.dataKeys.get(r.id)!, dataKeyAad(r.id, nextId));
            await rows.rewrapKeyring(r.id, nextId, w.nonce, w.ciphertext);
          }
        }
        await tx.audit.record({
          action: "rekey",
          actor: opts.actor,
          detail: `master key ${old.id} -> ${nextId}${opts.dataKey ? `; data key replaced, ${resealed} values re-sealed` : ""}`,
          at: this.now(),
        });
      });
    } catch (e) {
      if (old.source === "file") rmSync(pending, { force: true });
      throw e;
    }
    if (old.source === "file") renameSync(pending, old.file);
    // Push the old wrapped key out of files the database keeps (SQLite's WAL), so that only the
    // new one remains on disk.
    await this.store.secrets.purgeDeleted();
    if (newDataKey) {
      this.dataKeys.clear();
      this.dataKeys.set(newDataKey.id, newDataKey.key);
      this.activeKeyId = newDataKey.id;
    }
    this.master = { ...old, key: next, id: nextId };
    return {
      oldMasterId: old.id,
      newMasterId: nextId,
      ...(old.source === "file" ? { keyFile: old.file } : {}),
      dataKeyReplaced: Boolean(opts.dataKey),
      valuesResealed: resealed,
    };
  }
}

/** The SecretBackend for sets with `backend: embedded`. */
export class EmbeddedBackend implements SecretBackend {
  readonly kind = "embedded";

  constructor(
    private readonly store: EmbeddedStore,
    private readonly sets: Record<string, SecretSetConfig>,
  ) {}

  async grant(set: string, ctx: GrantContext): Promise<SecretGrant> {
    void ctx;
    const keys = await this.store.read(set);
    if (keys.length === 0 && !this.sets[set]?.env_override) {
      throw new SecretsError(
        `secret set "${set}" has no values in the embedded store (${this.store.dataDir}): add them with \`airlock secrets set ${set} KEY\``,
      );
    }
    const grant: SecretGrant = {
      set,
      env: {},
      files: [],
      mask: [],
      versions: {},
      notes: [],
      release: async () => {},
    };
    for (const k of keys) {
      if (k.file) grant.files.push({ name: k.key, value: k.current.value });
      else grant.env[k.key] = k.current.value;
      grant.versions[k.key] = k.current.version;
      // Every kept version: an older value may still be valid somewhere or sit in a cache.
      for (const v of k.versions) grant.mask.push({ name: k.key, value: v.value });
    }
    return grant;
  }

  async list(set: string): Promise<SecretKeyInfo[]> {
    return (await this.store.list(set)).map(({ set: _set, ...info }) => info);
  }
}
