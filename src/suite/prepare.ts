// Gets the companion suite ready for a run's restricted jobs: resolves the ref (exact branch
// match or the default), fetches that commit into a private directory, and says how to mount it.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { SuiteConfig } from "../config/suite-schema.js";
import type { GrantContext, SecretGrant } from "../secrets/types.js";
import { checkoutSuite } from "./checkout.js";
import { suiteJobEnv } from "./env.js";
import { authFromSecretEnv, type GitAuth } from "./git.js";
import { resolveSuite, type SuiteResolution } from "./resolve.js";

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

/** Runs `fn` with the suite's credentials (if any), releasing them right after. */
async function withSuiteAuth<T>(
  opts: PrepareSuiteOptions,
  fn: (git: { auth: GitAuth[]; signal?: AbortSignal }) => Promise<T>,
): Promise<T> {
  const { suite } = opts;
  const auth: GitAuth[] = [];
  let grant: SecretGrant | undefined;
  if (suite.credentials) {
    if (!opts.grantSet) {
      throw new Error(`the suite's credentials set ${suite.credentials} cannot be read here`);
    }
    grant = await opts.grantSet(suite.credentials, {
      runId: opts.runId,
      jobId: "suite-checkout",
      timeoutMs: 10 * 60_000,
    });
  }
  try {
    if (grant) auth.push(authFromSecretEnv(suite.url, grant.env));
    return await fn({ auth, ...(opts.signal ? { signal: opts.signal } : {}) });
  } finally {
    await grant?.release();
  }
}

/** Which suite commit the run uses, without checking it out (for runs executed elsewhere). */
export function resolveSuiteFor(opts: PrepareSuiteOptions): Promise<SuiteResolution> {
  return withSuiteAuth(opts, (git) => resolveSuite(opts.suite, opts.branch, git));
}

export async function prepareSuite(opts: PrepareSuiteOptions): Promise<PreparedSuite> {
  const { suite } = opts;
  const dir = await mkdtemp(path.join(tmpdir(), "airlock-suite-"));
  try {
    const resolution = await withSuiteAuth(opts, async (git) => {
      const resolved = await resolveSuite(suite, opts.branch, git);
      await checkoutSuite(suite.url, resolved.sha, path.join(dir, "suite"), {
        ...git,
        ref: resolved.ref,
      });
      return resolved;
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
  }
}
