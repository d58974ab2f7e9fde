// The secret sets the pipeline's jobs use: each in its backend, holding keys. Names and versions
// only, never values; Vault sets get the Vault checks (address, seal, login, paths, rotation).
import type { Config } from "../../config/schema.js";
import { EmbeddedStore } from "../../secrets/embedded.js";
import { EnvBackend } from "../../secrets/env.js";
import { SecretsError } from "../../secrets/errors.js";
import { checkVault, vaultSets } from "../../secrets/vault/index.js";
import { type DoctorCheck, type DoctorContext, fail, ok, warn } from "./types.js";

/** Set name -> the jobs (and executor) that need it. */
export function usedSets(config: Config): Map<string, string[]> {
  const used = new Map<string, string[]>();
  const add = (set: string, by: string) => used.set(set, [...(used.get(set) ?? []), by]);
  for (const [name, job] of Object.entries(config.jobs)) for (const s of job.secrets) add(s, name);
  if (config.executor?.gitlab) add(config.executor.gitlab.secrets, "executor.gitlab");
  return new Map([...used].sort(([a], [b]) => a.localeCompare(b)));
}

async function checkEnvSet(
  set: string,
  config: Config,
  env: NodeJS.ProcessEnv,
  users: string,
): Promise<DoctorCheck> {
  const subject = `set ${set}`;
  let keys: string[];
  try {
    // The backend's own validation of `keys:`.
    keys = (await new EnvBackend(config.secrets, env).list(set)).map((k) => k.key);
  } catch (e) {
    if (e instanceof SecretsError) return fail(subject, e.message);
    throw e;
  }
  const missing = keys.filter((k) => !env[k]);
  if (missing.length === 0)
    return ok(subject, `${keys.join(", ")} set in this environment (${users})`);
  return fail(
    subject,
    `${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not set in this environment (${users}): set ${missing.length === 1 ? "it" : "them"} where Airlock runs (e.g. Environment= in the systemd unit)`,
  );
}

export async function checkSecretSets(ctx: DoctorContext): Promise<DoctorCheck[]> {
  const config = ctx.config;
  if (!config) return [];
  const used = usedSets(config);
  if (used.size === 0) return [ok("secrets", "no job uses a secret set")];
  const out: DoctorCheck[] = [];
  const store = ctx.db && new EmbeddedStore({ dataDir: ctx.dataDir, store: ctx.db });
  const vault: string[] = [];
  for (const [set, by] of used) {
    const cfg = config.secrets[set]!;
    const subject = `set ${set}`;
    const users = `needed by ${by.join(", ")}`;
    if (cfg.backend === "vault") {
      vault.push(set);
    } else if (cfg.backend === "env") {
      out.push(await checkEnvSet(set, config, ctx.env, users));
    } else {
      const keys = store ? await store.list(set) : [];
      if (keys.length > 0) {
        const list = keys.map((k) => `${k.key} v${k.version}`).join(", ");
        out.push(
          ok(
            subject,
            `${keys.length} key${keys.length === 1 ? "" : "s"} in the embedded store: ${list}`,
          ),
        );
      } else if (cfg.env_override) {
        out.push(
          warn(
            subject,
            `no keys in the embedded store (${users}): jobs get only the variables Airlock's environment provides (env_override); store them with \`airlock secrets set ${set} KEY\``,
          ),
        );
      } else {
        out.push(
          fail(
            subject,
            `no keys in the embedded store of ${ctx.dataDir} (${users}): add them with \`airlock secrets set ${set} KEY\` (the value on stdin)`,
          ),
        );
      }
    }
  }
  const sets = vaultSets(config.secrets);
  const needed = Object.fromEntries(vault.map((s) => [s, sets[s]!]));
  out.push(...(await checkVault(needed, ctx.env)));
  return out;
}
