// Makes `backend: vault` available to the secrets service. Importing this module registers it.
import { registerBackend } from "../registry.js";
import { vaultBackendFromConfig } from "./index.js";

export function registerVaultBackend(): void {
  // The connection is read from Airlock's environment when a Vault set is first used, so a
  // configuration without Vault sets never needs VAULT_ADDR.
  registerBackend("vault", (ctx) => vaultBackendFromConfig(ctx.sets, ctx.env));
}

registerVaultBackend();
