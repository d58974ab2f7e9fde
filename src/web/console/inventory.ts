// The secrets inventory from the configuration and the backends' metadata listings: which keys
// and versions each set has, when they were rotated, and which jobs may receive the set. The
// backends' `list` gives metadata only; no value is ever asked for here.
import type { SecretKeyInfo } from "../../secrets/types.js";
import type { SecretSetMeta, SecretsInventory } from "./types.js";

export interface InventorySource {
  /** Set name -> its backend kind ("embedded", "vault", "env"). */
  sets: Record<string, { backend: string }>;
  /** Job name -> the sets it declares. */
  jobs: Record<string, { secrets: string[] }>;
  list(set: string): Promise<SecretKeyInfo[]>;
  /** A key is due for rotation when its last rotation (or creation) is older; 90 days by default. */
  rotateAfterDays?: number;
  now?: () => number;
}

export function secretsInventory(src: InventorySource): SecretsInventory {
  return {
    async listSets(): Promise<SecretSetMeta[]> {
      const now = (src.now ?? Date.now)();
      const maxAge = (src.rotateAfterDays ?? 90) * 86_400_000;
      const out: SecretSetMeta[] = [];
      for (const [name, cfg] of Object.entries(src.sets).sort(([a], [b]) => a.localeCompare(b))) {
        const jobs = Object.entries(src.jobs)
          .filter(([, j]) => j.secrets.includes(name))
          .map(([j]) => j);
        let keys: SecretKeyInfo[] = [];
        let error: string | undefined;
        try {
          keys = await src.list(name);
        } catch (e) {
          // Backend errors name the backend and the problem; they never carry a value.
          error = `could not list the keys: ${e instanceof Error ? e.message : String(e)}`.slice(
            0,
            300,
          );
        }
        out.push({
          name,
          backend: cfg.backend,
          jobs,
          keys: keys.map((k) => ({
            key: k.key,
            version: k.version,
            versions: k.versions,
            updatedAt: k.updatedAt || null,
            rotatedAt: k.rotatedAt ?? null,
          })),
          rotationDue: keys
            .filter((k) => now - (k.rotatedAt ?? k.updatedAt ?? now) > maxAge)
            .map((k) => k.key),
          ...(error ? { error } : {}),
        });
      }
      return out;
    },
  };
}
