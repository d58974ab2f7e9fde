// The Vault/OpenBao secret backend: what the rest of Airlock imports.
import type { SecretSetConfig } from "../../config/schema.js";
import type { VaultSetConfig } from "../../config/vault-schema.js";
import { createVaultBackend, type VaultBackend, type VaultBackendOptions } from "./backend.js";
import { vaultConnectionFromEnv } from "./connection.js";

export {
  createVaultBackend,
  type RotationStatus,
  VaultBackend,
  type VaultBackendOptions,
} from "./backend.js";
export { VaultClient } from "./client.js";
export { VaultConfigError, type VaultConnection, vaultConnectionFromEnv } from "./connection.js";
export { checkVault, type DoctorCheck } from "./doctor.js";
export { VaultError } from "./errors.js";
export type { ResolvedKv } from "./kv.js";
export { VaultReleaseError } from "./release.js";
export { rotationDue } from "./rotation.js";
export type { VaultClientOptions } from "./transport.js";
export { stringValue } from "./values.js";

/** The Vault sets of a configuration's `secrets:`. */
export function vaultSets(
  secrets: Record<string, SecretSetConfig>,
): Record<string, VaultSetConfig> {
  const out: Record<string, VaultSetConfig> = {};
  for (const [name, s] of Object.entries(secrets)) {
    if (s.backend === "vault" && s.vault) out[name] = s.vault;
  }
  return out;
}

/**
 * The backend for a configuration's Vault sets, connected as Airlock's environment says
 * (VAULT_ADDR, VAULT_TOKEN or AppRole/JWT credentials, VAULT_NAMESPACE).
 */
export function vaultBackendFromConfig(
  secrets: Record<string, SecretSetConfig>,
  env: NodeJS.ProcessEnv = process.env,
  extra: Omit<VaultBackendOptions, "sets" | "connection"> = {},
): VaultBackend {
  return createVaultBackend({
    ...extra,
    sets: vaultSets(secrets),
    connection: vaultConnectionFromEnv(env),
  });
}
