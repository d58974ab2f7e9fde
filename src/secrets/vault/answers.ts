// The shapes of Vault's answers as the client returns them (and of a token-create request).
// Apart from the client so that the transport and the endpoint methods share them, and callers
// can name them without the HTTP code.

export interface WrapInfo {
  token: string;
  accessor: string;
  ttl: number;
  creation_time: string;
  creation_path: string;
}

export interface VaultAuth {
  client_token: string;
  accessor: string;
  policies: string[];
  token_policies?: string[];
  metadata: Record<string, string> | null;
  lease_duration: number;
  renewable: boolean;
  num_uses?: number;
}

export interface VaultResponse<T> {
  request_id?: string;
  lease_id: string;
  lease_duration: number;
  renewable: boolean;
  data: T;
  wrap_info: WrapInfo | null;
  warnings: string[] | null;
  auth: VaultAuth | null;
}

export interface KvVersionMeta {
  version: number;
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
  custom_metadata?: Record<string, string> | null;
}

export interface KvSecret {
  data: Record<string, unknown>;
  metadata: KvVersionMeta;
}

export interface KvMetadata {
  current_version: number;
  oldest_version: number;
  created_time: string;
  updated_time: string;
  max_versions: number;
  cas_required: boolean;
  versions: Record<string, { created_time: string; deletion_time: string; destroyed: boolean }>;
}

export interface MountInfo {
  /** Without the trailing slash, e.g. `secret`. */
  mount: string;
  type: string;
  /** For KV mounts. */
  kvVersion?: 1 | 2;
}

export interface TokenInfo {
  accessor: string;
  policies: string[];
  ttl: number;
  num_uses: number;
  expire_time: string | null;
  display_name: string;
  meta: Record<string, string> | null;
  renewable: boolean;
}

export interface CreateTokenOptions {
  policies: string[];
  /** Vault duration, e.g. "3900s". */
  ttl: string;
  explicitMaxTtl?: string;
  numUses: number;
  meta?: Record<string, string>;
  displayName?: string;
  noDefaultPolicy?: boolean;
  renewable?: boolean;
}

export interface SealStatus {
  sealed: boolean;
  initialized: boolean;
  version?: string;
  type?: string;
}
