// The SecretBackend for sets with `backend: embedded`: what a job gets from the embedded store.
// Apart from the store, which the CLI, the console and the OIDC issuer use without it.
import type { SecretSetConfig } from "../config/schema.js";
import type { EmbeddedStore } from "./embedded.js";
import { SecretsError } from "./errors.js";
import type { GrantContext, SecretBackend, SecretGrant, SecretKeyInfo } from "./types.js";

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
