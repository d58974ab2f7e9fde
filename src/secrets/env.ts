// Values from Airlock's own environment: the `env` backend, and `env_override` for any set.
import type { SecretSetConfig } from "../config/schema.js";
import { SecretsError } from "./errors.js";
import type { GrantContext, SecretBackend, SecretGrant, SecretKeyInfo } from "./types.js";

/** The variables a set names in .airlock.yml (`keys:`), for the env backend and env_override. */
export function configuredKeys(cfg: SecretSetConfig | undefined): string[] {
  const keys = (cfg as { keys?: unknown } | undefined)?.keys;
  return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === "string") : [];
}

/** Airlock's own settings and a backend's credentials: never overridden, never passed to a job. */
export const AIRLOCKS_OWN = /^(AIRLOCK_|VAULT_)/;
const NEVER_OVERRIDDEN = AIRLOCKS_OWN;

/** A set whose values are variables of Airlock's environment, listed under `keys:`. */
export class EnvBackend implements SecretBackend {
  readonly kind = "env";

  constructor(
    private readonly sets: Record<string, SecretSetConfig>,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  private keys(set: string): string[] {
    const keys = configuredKeys(this.sets[set]);
    if (keys.length === 0) {
      throw new SecretsError(
        `secret set "${set}" uses the env backend but lists no \`keys:\`: name the variables it takes from Airlock's environment`,
      );
    }
    const own = keys.filter((k) => AIRLOCKS_OWN.test(k));
    if (own.length > 0) {
      throw new SecretsError(
        `secret set "${set}" names ${own.join(", ")}: Airlock's own credentials (AIRLOCK_*, VAULT_*) are never passed to a job; rename the variable`,
      );
    }
    return keys;
  }

  async grant(set: string, ctx: GrantContext): Promise<SecretGrant> {
    void ctx;
    const keys = this.keys(set);
    const missing = keys.filter((k) => !this.env[k]);
    if (missing.length > 0) {
      throw new SecretsError(
        `secret set "${set}" (env backend) needs ${missing.join(", ")} in Airlock's environment: set ${missing.length > 1 ? "them" : "it"} before starting Airlock`,
      );
    }
    const env = Object.fromEntries(keys.map((k) => [k, this.env[k]!]));
    return {
      set,
      env,
      files: [],
      mask: keys.map((k) => ({ name: k, value: env[k]! })),
      versions: Object.fromEntries(keys.map((k) => [k, "env"])),
      notes: [],
      release: async () => {},
    };
  }

  async list(set: string): Promise<SecretKeyInfo[]> {
    return this.keys(set).map((key) => ({
      key,
      version: 0,
      versions: [],
      updatedAt: 0,
      file: false,
    }));
  }
}

/**
 * env_override: a variable already in Airlock's environment wins over the set's value. The
 * replaced keys are named in the grant's notes (never their values); the environment's value is
 * added to the mask, beside the stored versions the job could still meet.
 */
export function applyEnvOverride(
  grant: SecretGrant,
  cfg: SecretSetConfig | undefined,
  env: NodeJS.ProcessEnv,
): SecretGrant {
  if (!cfg?.env_override) return grant;
  const candidates = new Set([
    ...(grant.overridable ?? [...Object.keys(grant.env), ...grant.files.map((f) => f.name)]),
    ...configuredKeys(cfg),
  ]);
  const taken: string[] = [];
  for (const key of [...candidates].sort()) {
    const value = env[key];
    if (!value || NEVER_OVERRIDDEN.test(key)) continue;
    const file = grant.files.find((f) => f.name === key);
    if (file) file.value = value;
    else grant.env[key] = value;
    grant.mask.push({ name: key, value });
    grant.versions[key] = "env";
    taken.push(key);
  }
  if (taken.length > 0) {
    grant.notes.push(
      `${grant.set}: ${taken.join(", ")} taken from Airlock's environment (env_override)`,
    );
  }
  return grant;
}
