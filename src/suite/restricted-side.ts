// What a run's restricted jobs get beyond their secrets: the companion suite checkout (mounted
// read-only, AIRLOCK_SUITE_*), and, when `executor.gitlab` is configured, the GitLab pipeline
// that runs them instead of the local sandbox. `airlock run` and the gateway both build it here.
import type { Config } from "../config/schema.js";
import { setUpGitLabRun } from "../executors/gitlab/setup.js";
import type { Executor } from "../executors/types.js";
import type { RunnerDeps } from "../pipeline/runner.js";
import { isRestricted, type Plan } from "../pipeline/types.js";
import type { GrantContext, SecretGrant } from "../secrets/types.js";
import { displayUrl } from "./git.js";
import { prepareSuite, resolveSuiteFor } from "./prepare.js";
import type { SuiteResolution } from "./resolve.js";

export interface RestrictedSide {
  mounts: { source: string; target: string }[];
  env: Record<string, string>;
  /** Recorded on the run and shown in its summary. */
  notes: { suite?: SuiteNote; executor?: string };
  /** Replaces the runner's executor and grants for restricted jobs, when they run elsewhere. */
  runner(base: RunnerDeps): RunnerDeps;
  close(): Promise<void>;
}

/** The suite as a run records it (the URL without userinfo). */
export type SuiteNote = Omit<SuiteResolution, "url"> & { url: string };

export interface RestrictedSideOptions {
  config: Config;
  plan: Plan;
  /** Grants one secret set (suite credentials, GitLab tokens). */
  grantSet(set: string, ctx: GrantContext): Promise<SecretGrant>;
  /** The data directory, whose dispatch key signs GitLab dispatches. */
  dataDir?: string;
  runId: string;
  repo: string;
  /** Clone URL of the source repository, sent to the private pipeline. */
  repoUrl?: string;
  branch: string | null;
  sha: string;
  approver: string;
  labels: string[];
  /** Earlier attempts of this run: a GitLab pipeline one of them started is adopted. */
  earlierRunIds?: string[];
  /** When the run's first attempt was requested. */
  requestedAt?: number;
  signal: AbortSignal;
  createRedactor: RunnerDeps["createRedactor"];
}

/** Thrown when the suite cannot be prepared; the message says why in one line. */
export class RestrictedSideError extends Error {}

export async function prepareRestrictedSide(o: RestrictedSideOptions): Promise<RestrictedSide> {
  const restricted = o.plan.jobs.filter(isRestricted).map((j) => j.id);
  const closers: (() => Promise<void>)[] = [];
  const side: RestrictedSide = {
    mounts: [],
    env: {},
    notes: {},
    runner: (base) => base,
    close: async () => {
      for (const c of closers.reverse()) await c();
    },
  };
  // Public jobs never see the suite, so a run without restricted jobs needs none of this.
  if (restricted.length === 0) return side;
  const gitlab = o.config.executor?.gitlab;
  try {
    let suiteRef: SuiteResolution | undefined;
    const suite = o.config.suite;
    if (suite) {
      const opts = {
        suite,
        branch: o.branch,
        grantSet: o.grantSet,
        runId: o.runId,
        signal: o.signal,
      };
      const fail = (e: Error): never => {
        throw new RestrictedSideError(`cannot prepare the suite repository: ${e.message}`);
      };
      if (gitlab) {
        // The private pipeline checks the suite out itself: only the commit is needed here.
        suiteRef = await resolveSuiteFor(opts).catch(fail);
      } else {
        const prepared = await prepareSuite(opts).catch(fail);
        closers.push(prepared.cleanup);
        side.mounts.push(prepared.mount);
        Object.assign(side.env, prepared.env);
        suiteRef = prepared.resolution;
      }
      side.notes.suite = { ...suiteRef, url: displayUrl(suite.url) };
    }
    if (gitlab) {
      if (!o.dataDir) {
        throw new RestrictedSideError("executor.gitlab needs the data directory's dispatch key");
      }
      const run = await setUpGitLabRun({
        config: gitlab,
        dataDir: o.dataDir,
        grantSet: o.grantSet,
        createRedactor: o.createRedactor,
        signal: o.signal,
        request: {
          runId: o.runId,
          repo: o.repo,
          ...(o.repoUrl ? { repoUrl: o.repoUrl } : {}),
          branch: o.branch,
          sha: o.sha,
          approver: o.approver,
          tests: restricted,
          labels: o.labels,
          ...(o.earlierRunIds?.length ? { earlierRunIds: o.earlierRunIds } : {}),
          ...(o.requestedAt !== undefined ? { requestedAt: o.requestedAt } : {}),
          suite: suiteRef ?? null,
          // A matched suite branch is the private project's branch of the same name.
          ...(suiteRef?.matched ? { ref: suiteRef.ref } : {}),
        },
      }).catch((e: Error) => {
        throw new RestrictedSideError(`cannot set up the GitLab pipeline: ${e.message}`);
      });
      closers.push(run.release);
      side.notes.executor = "gitlab";
      // The restricted jobs' secrets live on the GitLab side: nothing is granted locally. A
      // caller that re-checks authorization at each grant wraps this runner, so it still does.
      side.runner = (base) => ({
        ...base,
        executorFor: (job) => (isRestricted(job) ? run.executor : base.executorFor(job)),
        grant: async () => [],
      });
    }
    return side;
  } catch (e) {
    await side.close();
    throw e;
  }
}

/**
 * The restricted side of a run whose suite or pipeline could not be prepared: public jobs run as
 * usual, restricted ones end in error with `message` (and are granted nothing), so that the run
 * still reaches a final state and reports why.
 */
export function unavailableSide(message: string): RestrictedSide {
  const refuse: Executor = {
    name: "unavailable",
    run: async (req) => {
      // Into the job's log too (through the redactor, like all job output).
      req.output.write(`airlock: ${message}\n`);
      return { status: "error", exitCode: null, durationMs: 0, reports: [], error: message };
    },
  };
  return {
    mounts: [],
    env: {},
    notes: {},
    runner: (base) => ({
      ...base,
      executorFor: (job) => (isRestricted(job) ? refuse : base.executorFor(job)),
      grant: async () => [],
    }),
    close: async () => {},
  };
}

/**
 * Grants one secret set through a runner's per-job grant, as a job that declares only that set:
 * the gateway's runner re-checks the commit's authorization at each grant, and so it does here.
 */
export function grantSetVia(
  grant: RunnerDeps["grant"],
): (set: string, ctx: GrantContext) => Promise<SecretGrant> {
  return async (set, ctx) => {
    const grants = await grant(
      {
        id: ctx.jobId,
        template: ctx.jobId,
        matrix: {},
        run: "",
        needs: [],
        tags: [],
        secrets: [set],
        env: {},
        timeoutMs: ctx.timeoutMs,
        network: false,
        reports: [],
      },
      ctx,
    );
    const mine = grants.find((g) => g.set === set);
    for (const g of grants) if (g !== mine) await g.release();
    if (!mine) throw new Error(`secret set ${set} was not granted`);
    return mine;
  };
}
