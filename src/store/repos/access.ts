// Console sign-in and admin tokens, stored secrets and OIDC signing keys. Part of the Store
// interface (../types.ts).
import type { OidcKeysTable } from "../oidc-keys-schema.js";
import type { SecretKeyringTable, SecretKeysTable, SecretValuesTable } from "../secrets-schema.js";

export interface Session {
  login: string;
  via: "github" | "token" | "link";
  tokenId: number | null;
  createdAt: number;
  expiresAt: number;
}

export interface AdminToken {
  id: number;
  name: string;
  createdBy: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

/** Callers hand in and get back raw credentials; only their SHA-256 is stored. */
export interface SessionRepo {
  createSession(
    s: { login: string; via: Session["via"]; tokenId?: number | null; ttlMs: number },
    now?: number,
  ): Promise<string>;
  session(rawId: string, now?: number): Promise<Session | undefined>;
  endSession(rawId: string): Promise<void>;
  /** Forgets expired sessions and used or expired links. */
  prune(now?: number): Promise<number>;
  createToken(
    t: { name: string; createdBy: string; expiresAt: number | null },
    now?: number,
  ): Promise<{ token: string; info: AdminToken }>;
  tokenNameTaken(name: string): Promise<boolean>;
  verifyToken(raw: string, now?: number): Promise<AdminToken | undefined>;
  listTokens(): Promise<AdminToken[]>;
  revokeToken(name: string, now?: number): Promise<boolean>;
  createLink(ttlMs: number, now?: number): Promise<string>;
  /** Marks the link used and answers true, once, while it has not expired. */
  consumeLink(raw: string, now?: number): Promise<boolean>;
}

export type KeyringRow = SecretKeyringTable;

export type KeyRow = SecretKeysTable;

export type ValueRow = SecretValuesTable;

/** Rows of the embedded secret store: sealed values and metadata only, never a value in clear. */
export interface SecretRepo {
  keyring(): Promise<KeyringRow[]>;
  insertKeyring(r: KeyringRow): Promise<void>;
  rewrapKeyring(id: string, masterId: string, nonce: Buffer, wrapped: Buffer): Promise<void>;
  deleteKeyring(id: string): Promise<void>;
  setActiveKeyring(id: string): Promise<void>;
  sets(): Promise<string[]>;
  keys(set: string): Promise<KeyRow[]>;
  key(set: string, key: string): Promise<KeyRow | undefined>;
  upsertKey(r: KeyRow): Promise<void>;
  deleteKey(set: string, key?: string): Promise<number>;
  /** Kept versions of a key, newest first. */
  values(set: string, key: string): Promise<ValueRow[]>;
  value(set: string, key: string, version: number): Promise<ValueRow | undefined>;
  allValues(): Promise<ValueRow[]>;
  insertValue(r: ValueRow): Promise<void>;
  replaceSealed(
    r: Pick<ValueRow, "set_name" | "key" | "version" | "key_id" | "nonce" | "ciphertext">,
  ): Promise<void>;
  deleteValue(set: string, key: string, version: number): Promise<void>;
  /** After replacing key material: pushes what was deleted out of files the engine keeps. */
  purgeDeleted(): Promise<void>;
}

/** Rows of the OIDC issuer's signing keys; the private part sealed as secret values are. */
export type OidcKeyRow = OidcKeysTable;

export interface OidcKeyRepo {
  /** Every key, oldest activation first. */
  all(): Promise<OidcKeyRow[]>;
  insert(r: OidcKeyRow): Promise<void>;
  /** Records that the key signed a token valid until `exp` (ms); never moves backwards. */
  noteSigned(kid: string, exp: number): Promise<void>;
  /** Re-seals a private key (a rekey that replaced the data key). */
  replaceSealed(kid: string, keyId: string, nonce: Buffer, ciphertext: Buffer): Promise<void>;
  /** Removes a key, private part included (revoked, or no longer published). */
  delete(kid: string): Promise<void>;
}
