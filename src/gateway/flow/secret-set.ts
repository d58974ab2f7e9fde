// One secret set granted outside any job (mirror pushes, GitLab pipeline clean-up), then released.
import type { Config } from "../../config/schema.js";
import { grantSetVia } from "../../pipeline/runner.js";
import type { SecretGrant } from "../../secrets/types.js";
import type { Flow } from "./types.js";

/** Runs `fn` with one secret set of `config`, granted outside any job and then released. */
export async function withSecretSet<T>(
  flow: Flow,
  config: Config,
  set: string,
  job: { runId: string; jobId: string },
  fn: (grant: SecretGrant) => Promise<T>,
): Promise<T> {
  const built = await flow.o.runnerFor(config, []);
  try {
    const ctx = { ...job, timeoutMs: 10 * 60_000 };
    const grant = built.grantSet
      ? await built.grantSet(set, ctx)
      : await grantSetVia(built.runner.grant)(set, ctx);
    try {
      return await fn(grant);
    } finally {
      await grant.release();
    }
  } finally {
    await built.close();
  }
}
