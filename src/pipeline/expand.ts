// Matrix expansion: every `jobs:` entry becomes one or more planned jobs, in declaration order.
import { expansionsOf } from "../config/matrix.js";
import { type Config, durationMs, type IdTokenConfig } from "../config/schema.js";
import { limitsOf } from "./limits.js";
import type { PlannedIdToken, PlannedJob } from "./types.js";

/**
 * All jobs of the configuration, expanded. `needs: [x]` where x is a matrix job means every
 * expansion of x; naming one expansion's id is allowed too. The config is expected to have
 * passed the loader's checks; what cannot be resolved here is a programming error.
 */
export function expandJobs(config: Config): PlannedJob[] {
  const byTemplate = new Map<string, string[]>();
  const expanded: Omit<PlannedJob, "needs">[] = [];
  const needsOf = new Map<string, string[]>();
  for (const [template, job] of Object.entries(config.jobs)) {
    const ids: string[] = [];
    for (const e of expansionsOf(template, job)) {
      ids.push(e.id);
      expanded.push({
        id: e.id,
        template,
        ...(job.description ? { description: job.description } : {}),
        matrix: e.matrix,
        // Never substituted: the shell reads matrix values from the environment (invariant 8).
        run: job.run,
        tags: e.tags,
        secrets: [...job.secrets],
        ...(Object.keys(job.id_tokens).length > 0
          ? { idTokens: idTokensOf(job.id_tokens, durationMs(config.oidc.lifetime)) }
          : {}),
        env: { ...job.env, ...e.matrix },
        timeoutMs: durationMs(job.timeout),
        network: job.network === true,
        ...(typeof job.network === "object"
          ? { egress: { allow: [...job.network.allow], audit: job.network.audit } }
          : {}),
        reports: [...job.reports],
        ...(job.artifacts.length ? { artifacts: [...job.artifacts] } : {}),
        ...(job.cache
          ? {
              cache: {
                key: job.cache.key,
                restoreKeys: [...job.cache.restore_keys],
                paths: [...job.cache.paths],
              },
            }
          : {}),
        ...(job.limits ? { limits: limitsOf(job.limits) } : {}),
        ...(job.executor ? { executor: job.executor } : {}),
        ...(job.image ? { image: job.image } : {}),
      });
      needsOf.set(e.id, job.needs);
    }
    byTemplate.set(template, ids);
  }
  const allIds = new Set(expanded.map((j) => j.id));
  if (allIds.size !== expanded.length) throw new Error("duplicate job ids after matrix expansion");
  return expanded.map((j) => {
    const needs: string[] = [];
    for (const n of needsOf.get(j.id) ?? []) {
      const targets = byTemplate.get(n) ?? (allIds.has(n) ? [n] : undefined);
      if (!targets) throw new Error(`job "${j.id}" needs "${n}", which does not exist`);
      for (const t of targets) {
        if (t === j.id) throw new Error(`job "${j.id}" needs itself`);
        if (!needs.includes(t)) needs.push(t);
      }
    }
    return { ...j, needs };
  });
}

function idTokensOf(
  tokens: Record<string, IdTokenConfig>,
  defaultLifetimeMs: number,
): Record<string, PlannedIdToken> {
  return Object.fromEntries(
    Object.entries(tokens).map(([name, t]) => [
      name,
      {
        aud: typeof t.aud === "string" ? [t.aud] : [...t.aud],
        file: t.file,
        lifetimeMs: t.lifetime !== undefined ? durationMs(t.lifetime) : defaultLifetimeMs,
      },
    ]),
  );
}
