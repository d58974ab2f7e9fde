// Table types for the embedded secret store and the audit log. No column ever holds a secret
// value in clear: values and the data key are AES-256-GCM sealed (src/secrets/crypto.ts).
import type { Generated } from "kysely";

/** Data keys, each sealed (wrapped) by the master key. Values are sealed by a data key. */
export interface SecretKeyringTable {
  /** The data key's id; part of every value's associated data. */
  id: string;
  /** Non-secret id of the master key that wrapped it: tells a wrong key from a damaged row. */
  master_id: string;
  nonce: Buffer;
  /** The sealed data key (ciphertext and tag). */
  wrapped: Buffer;
  /** 1 for the key new values are sealed with; at most one row. */
  active: number;
  created_at: number;
}

/** One row per key of a set: metadata, never a value. */
export interface SecretKeysTable {
  set_name: string;
  key: string;
  /** The version jobs receive. */
  current: number;
  /** Versions are never reused, even after a rollback or a delete of the newest. */
  next_version: number;
  /** How many versions to keep. */
  keep: number;
  /** 1: delivered as a file on the job's private tmpfs instead of an environment variable. */
  file: number;
  created_at: number;
  updated_at: number;
  rotated_at: number | null;
}

/** Sealed values, one row per kept version. */
export interface SecretValuesTable {
  set_name: string;
  key: string;
  version: number;
  /** The data key that sealed it. */
  key_id: string;
  nonce: Buffer;
  ciphertext: Buffer;
  created_at: number;
}

export type AuditAction =
  | "release"
  | "reveal"
  | "set"
  | "rotate"
  | "rollback"
  | "delete"
  | "import"
  | "rekey"
  | "approve"
  | "approval-void"
  | "token-create"
  | (string & {});

/** Append-only (triggers refuse UPDATE and DELETE). */
export interface AuditTable {
  seq: Generated<number>;
  at: number;
  /** "airlock" for the gateway itself, "cli:<user>" for a command, a forge login for an approval. */
  actor: string;
  action: AuditAction;
  run_id: string | null;
  job_id: string | null;
  set_name: string | null;
  key: string | null;
  /** JSON: key -> version(s), or null. Never values. */
  versions: string | null;
  detail: string | null;
}

export interface SecretsDatabase {
  secret_keyring: SecretKeyringTable;
  secret_keys: SecretKeysTable;
  secret_values: SecretValuesTable;
  audit: AuditTable;
}
