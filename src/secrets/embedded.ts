// The embedded secret store: values sealed with AES-256-GCM in the data directory's database.
//
// Envelope design: one random data key seals the values; the master key only seals (wraps) the
// data key. `rekey` therefore re-wraps one row in one transaction: values are untouched, readers
// in other processes see the old or the new keyring, never a mix, and a running gateway that
// already holds the data key keeps serving (no downtime). `rekey --data-key` also replaces the
// data key and re-seals every value, in the same single transaction, for when the old master key
// may have leaked together with a copy of the database.
import { existsSync, renameSync, rmSync } from "node:fs";
import type SQLite from "better-sqlite3";
import type { SecretSetConfig } from "../config/schema.js";
import { AuditLog } from "../store/audit.js";
import { type OidcKeyRow, OidcKeyRows } from "../store/oidc-keys.js";
import { type KeyRow, SecretRows, type ValueRow } from "../store/secrets.js";
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
  dataDir: string;
  sqlite: SQLite.Database;
  env?: NodeJS.ProcessEnv;
  audit?: AuditLog;
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
  readonly rows: SecretRows;
  readonly audit: AuditLog;
  private readonly env: NodeJS.ProcessEnv;
  private readonly now: () => number;
  private master: MasterKey | undefined;
  /** Unwrapped data keys by id. Held for the process's life so a master rekey costs no downtime. */
  private readonly dataKeys = new Map<string, Buffer>();
  private activeKeyId: string | undefined;

  constructor(private readonly opts: EmbeddedStoreOptions) {
    this.rows = new SecretRows(opts.sqlite);
    this.audit = opts.audit ?? new AuditLog(opts.sqlite);
    this.env = opts.env ?? process.env;
    this.now = opts.now ?? Date.now;
    // Deleted rows (old versions, replaced data keys) are zeroed rather than left in free pages.
    opts.sqlite.pragma("secure_delete = ON");
  }

  get dataDir(): string {
    return this.opts.dataDir;
  }

  /**
   * Loads the master key and unwraps the data keys. With `create`, an empty store gets its
   * master key file (unless AIRLOCK_MASTER_KEY is set) and its first data key.
   */
  private unlock(create: boolean): void {
    if (this.activeKeyId) return;
    let ring = this.rows.keyring();
    if (ring.length === 0) {
      if (!create) return;
      const master = loadMasterKey(this.opts.dataDir, this.env, { create: true })!;
      this.rows.write(() => {
        if (this.rows.keyring().length > 0) return; // another process initialised it first
        const id = newKeyId();
        const sealed = seal(master.key, newKey(), dataKeyAad(id, master.id));
        this.rows.insertKeyring({
          id,
          master_id: master.id,
          nonce: sealed.nonce,
          wrapped: sealed.ciphertext,
          active: 1,
          created_at: this.now(),
        });
      });
      ring = this.rows.keyring();
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
  private relock(): void {
    this.dataKeys.clear();
    this.activeKeyId = undefined;
    this.unlock(false);
  }

  /** Inside a write transaction: makes sure new values are sealed with the keyring's active key. */
  private ensureActiveKey(): void {
    const active = this.rows.keyring().find((r) => r.active === 1);
    if (active?.id !== this.activeKeyId) this.relock();
  }

  private sealValue(set: string, key: string, version: number, value: string) {
    this.ensureActiveKey();
    const keyId = this.activeKeyId!;
    const sealed = seal(
      this.dataKeys.get(keyId)!,
      Buffer.from(value, "utf8"),
      valueAad(keyId, set, key, version),
    );
    return { key_id: keyId, nonce: sealed.nonce, ciphertext: sealed.ciphertext };
  }

  private openValue(row: ValueRow): string {
    if (!this.dataKeys.has(row.key_id)) this.relock();
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
  sealOidcKey(kid: string, pkcs8: Buffer): Pick<OidcKeyRow, "key_id" | "nonce" | "ciphertext"> {
    this.unlock(true);
    this.ensureActiveKey();
    const keyId = this.activeKeyId!;
    const sealed = seal(this.dataKeys.get(keyId)!, pkcs8, oidcKeyAad(keyId, kid));
    return { key_id: keyId, nonce: sealed.nonce, ciphertext: sealed.ciphertext };
  }

  /** The PKCS#8 DER private key of an OIDC signing key. */
  openOidcKey(row: Pick<OidcKeyRow, "kid" | "key_id" | "nonce" | "ciphertext">): Buffer {
    this.unlock(false);
    if (!this.dataKeys.has(row.key_id)) this.relock();
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
  private putSync(
    set: string,
    key: string,
    value: string,
    opts: PutOptions & { rotate?: boolean },
  ): number {
    const existing = this.rows.key(set, key);
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
    this.rows.upsertKey({
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
    this.rows.insertValue({
      set_name: set,
      key,
      version,
      ...this.sealValue(set, key, version, value),
      created_at: now,
    });
    for (const old of this.rows.values(set, key).slice(keep)) {
      this.rows.deleteValue(set, key, old.version);
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
    await this.rows.ready();
    this.unlock(true);
    return this.rows.write(() => {
      const version = this.putSync(set, key, value, { ...opts, rotate });
      this.audit.recordSync({
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
    await this.rows.ready();
    this.unlock(true);
    return this.rows.write(() => {
      const versions: Record<string, number> = {};
      for (const e of entries) versions[e.key] = this.putSync(set, e.key, e.value, opts);
      this.audit.recordSync({ action: "import", actor: opts.actor, set, versions, at: this.now() });
      return versions;
    });
  }

  /** Makes the previous kept version current and discards the current one. */
  async rollback(set: string, key: string, actor: string): Promise<{ from: number; to: number }> {
    checkSetName(set);
    checkKeyName(key);
    await this.rows.ready();
    return this.rows.write(() => {
      const row = this.requireKey(set, key);
      const previous = this.rows.values(set, key).find((v) => v.version < row.current);
      if (!previous) {
        throw new SecretsError(
          `${set}/${key} has no earlier version kept (current: ${row.current}), so there is nothing to roll back to`,
        );
      }
      this.rows.deleteValue(set, key, row.current);
      this.rows.upsertKey({ ...row, current: previous.version, updated_at: this.now() });
      const r = { from: row.current, to: previous.version };
      this.audit.recordSync({ action: "rollback", actor, set, key, versions: r, at: this.now() });
      return r;
    });
  }

  /** Deletes one key with all its versions, or a whole set. Returns the number of keys deleted. */
  async delete(set: string, key: string | undefined, actor: string): Promise<number> {
    checkSetName(set);
    if (key !== undefined) checkKeyName(key);
    await this.rows.ready();
    return this.rows.write(() => {
      const keys = key === undefined ? this.rows.keys(set) : [this.requireKey(set, key)];
      if (keys.length === 0) throw new SecretsError(`there is no secret set "${set}" in the store`);
      for (const k of keys) {
        for (const v of this.rows.values(set, k.key)) this.rows.deleteValue(set, k.key, v.version);
      }
      this.rows.deleteKey(set, key);
      this.audit.recordSync({
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

  private requireKey(set: string, key: string): KeyRow {
    const row = this.rows.key(set, key);
    if (!row) {
      const others = this.rows.keys(set).map((k) => k.key);
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
    await this.rows.ready();
    const row = this.requireKey(set, key);
    const version = opts.version ?? row.current;
    const stored = this.rows.value(set, key, version);
    if (!stored) {
      const kept = this.rows.values(set, key).map((v) => v.version);
      throw new SecretsError(`${set}/${key} has no version ${version}; kept: ${kept.join(", ")}`);
    }
    this.unlock(false);
    const value = this.openValue(stored);
    await this.audit.record({
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
    await this.rows.ready();
    const sets = set === undefined ? this.rows.sets() : [set];
    return sets.flatMap((s) =>
      this.rows.keys(s).map((k) => ({
        set: s,
        key: k.key,
        version: k.current,
        versions: this.rows.values(s, k.key).map((v) => v.version),
        updatedAt: k.updated_at,
        rotatedAt: k.rotated_at,
        file: k.file === 1,
      })),
    );
  }

  /** Every kept value of a set, decrypted, for a grant. */
  async read(set: string): Promise<KeyValues[]> {
    await this.rows.ready();
    const keys = this.rows.keys(set);
    if (keys.length === 0) return [];
    this.unlock(false);
    return keys.map((k) => {
      const versions = this.rows
        .values(set, k.key)
        .map((v) => ({ version: v.version, value: this.openValue(v) }));
      const current = versions.find((v) => v.version === k.current);
      if (!current) {
        throw new TamperedError(
          `${set}/${k.key} has lost its current version ${k.current}: restore the database from a backup`,
        );
      }
      return { key: k.key, file: k.file === 1, current, versions };
    });
  }

  /**
   * Proves that the master key at hand opens this store: unwraps the data keys and decrypts every
   * stored value, keeping none of them. Throws WrongMasterKeyError or TamperedError (messages
   * without key material or values); undefined when the store holds nothing yet. For `doctor`.
   */
  async verify(): Promise<{ source: MasterKey["source"]; values: number } | undefined> {
    await this.rows.ready();
    if (this.rows.keyring().length === 0) return undefined;
    this.unlock(false);
    const values = this.rows.allValues();
    for (const v of values) this.openValue(v);
    for (const k of new OidcKeyRows(this.opts.sqlite).all()) this.openOidcKey(k);
    return { source: this.master!.source, values: values.length };
  }

  /**
   * Re-wraps the data key under a new master key (given, or generated when the key lives in
   * master.key). With `dataKey`, also replaces the data key and re-seals every value.
   */
  async rekey(opts: { actor: string; newKey?: Buffer; dataKey?: boolean }): Promise<RekeyResult> {
    await this.rows.ready();
    this.unlock(false);
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
      this.rows.write(() => {
        if (opts.dataKey) {
          newDataKey = { id: newKeyId(), key: newKey() };
          for (const row of this.rows.allValues()) {
            const value = this.openValue(row);
            const s = seal(
              newDataKey.key,
              Buffer.from(value, "utf8"),
              valueAad(newDataKey.id, row.set_name, row.key, row.version),
            );
            this.rows.replaceSealed({
              ...row,
              key_id: newDataKey.id,
              nonce: s.nonce,
              ciphertext: s.ciphertext,
            });
            resealed++;
          }
          const oidc = new OidcKeyRows(this.opts.sqlite);
          for (const row of oidc.all()) {
            const s = seal(
              newDataKey.key,
              this.openOidcKey(row),
              oidcKeyAad(newDataKey.id, row.kid),
            );
            oidc.replaceSealed(row.kid, newDataKey.id, s.nonce, s.ciphertext);
            resealed++;
          }
          for (const r of this.rows.keyring()) this.rows.deleteKeyring(r.id);
          const w = seal(next, newDataKey.key, dataKeyAad(newDataKey.id, nextId));
          this.rows.insertKeyring({
            id: newDataKey.id,
            master_id: nextId,
            nonce: w.nonce,
            wrapped: w.ciphertext,
            active: 1,
            created_at: this.now(),
          });
        } else {
          for (const r of this.rows.keyring()) {
            const w = seal(next, this.dataKeys.get(r.id)!, dataKeyAad(r.id, nextId));
            this.rows.rewrapKeyring(r.id, nextId, w.nonce, w.ciphertext);
          }
        }
        this.audit.recordSync({
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
    // Push the old wrapped key out of the WAL so that only the new one remains on disk.
    this.opts.sqlite.pragma("wal_checkpoint(TRUNCATE)");
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
