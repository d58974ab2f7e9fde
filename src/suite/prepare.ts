// Gets the companion suite ready for a run's restricted jobs: resolves the ref (exact branch
// match or the default), fetches that commit into a private directory, and says how to mount it.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { SuiteSchema } from "../config/suite-schema.js";
import type { GrantContext, SecretGrant } from "../secrets/types.js";
import { checkoutSuite } from "./checkout.js";
import { suiteJobEnv } from "./env.js";
import { authFromSecretEnv, type GitAuth } from "./git.js";
import { resolveSuite, type SuiteResolution } from "./resolve.js";

type SuiteConfig = import("zod").infer<typeof SuiteSchema>;

export interface PreparedSuite {
  resolution: SuiteResolution;
  /** Read-only mount for restricted jobs. */
  mount: { source: string; target: string };
  /** AIRLOCK_SUITE_* for restricted jobs. */
  env: Record<string, string>;
  /** Removes the checkout. */
  cleanup(): Promise<void>;
}

export interface PrepareSuiteOptions {
  suite: SuiteConfig;
  /** The run's branch (null: not on a branch, so the default ref is used). */
  branch: string | null;
  /** Grants the credentials set, when the suite names one. Released before this returns. */
  grantSet?(set: string, ctx: GrantContext): Promise<SecretGrant>;
  runId: string;
  signal?: AbortSignal;
}

export async function prepareSuite(opts: PrepareSuiteOptions): Promise<PreparedSuite> {
  const { suite } = opts;
  let grant: SecretGrant | undefined;
  const auth: GitAuth[] = [];
  if (suite.credentials && opts.grantSet) {
    grant = await opts.grantSet(suite.credentials, {
      runId: opts.runId,
      jobId: "suite-checkout",
      timeoutMs: 10 * 60_000,
    });
    auth.push(authFromSecretEnv(suite.url, grant.env));
  }
  const dir = await mkdtemp(path.join(tmpdir(), "airlock-suite-"));
  try {
    const gitOpts = { auth, signal: opts.signal };
    const resolution = await resolveSuite(suite, opts.branch, gitOpts);
    await checkoutSuite(suite.url, resolution.sha, path.join(dir, "suite"), {
      ...gitOpts,
      ref: resolution.ref,
    });
    return {
      resolution,
      mount: { source: path.join(dir, "suite"), target: suite.path },
      env: suiteJobEnv(resolution, suite.path),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  } finally {
    await grant?.release();
  }
}
