// Where Airlock finds Vault and how it logs in. Read from Airlock's own environment, never from
// .airlock.yml (which lives in the repository): the address, the namespace and credentials.
import { readFileSync } from "node:fs";

export interface VaultConnection {
  address: string;
  namespace?: string;
  token?: string;
  roleId?: string;
  secretId?: string;
  /** A JWT given directly, or read from `jwtFile` at each login (service-account tokens rotate). */
  jwt?: string;
  jwtFile?: string;
}

/** A configuration problem the operator can fix; its message names the variable to set. */
export class VaultConfigError extends Error {
  override name = "VaultConfigError";
}

export const VAULT_ENV = {
  address: "VAULT_ADDR",
  namespace: "VAULT_NAMESPACE",
  token: "VAULT_TOKEN",
  roleId: "AIRLOCK_VAULT_ROLE_ID",
  secretId: "AIRLOCK_VAULT_SECRET_ID",
  jwt: "AIRLOCK_VAULT_JWT",
  jwtFile: "AIRLOCK_VAULT_JWT_FILE",
} as const;

export function vaultConnectionFromEnv(env: NodeJS.ProcessEnv = process.env): VaultConnection {
  const address = env[VAULT_ENV.address]?.trim();
  if (!address) {
    throw new VaultConfigError(
      `a secret set uses Vault but ${VAULT_ENV.address} is not set in Airlock's environment: set it to e.g. https://vault.example.org:8200`,
    );
  }
  const c: VaultConnection = { address };
  const pick = (k: keyof typeof VAULT_ENV) => {
    const v = env[VAULT_ENV[k]];
    return v && v.length > 0 ? v : undefined;
  };
  c.namespace = pick("namespace");
  c.token = pick("token");
  c.roleId = pick("roleId");
  c.secretId = pick("secretId");
  c.jwt = pick("jwt");
  c.jwtFile = pick("jwtFile");
  return c;
}

/** The JWT to log in with now. */
export function currentJwt(c: VaultConnection): string {
  if (c.jwt) return c.jwt;
  if (c.jwtFile) {
    try {
      return readFileSync(c.jwtFile, "utf8").trim();
    } catch (e) {
      throw new VaultConfigError(
        `cannot read the JWT file named by ${VAULT_ENV.jwtFile} (${(e as NodeJS.ErrnoException).code ?? "error"}): check the path and its permissions`,
      );
    }
  }
  throw new VaultConfigError(
    `jwt login needs ${VAULT_ENV.jwt} or ${VAULT_ENV.jwtFile} in Airlock's environment`,
  );
}
