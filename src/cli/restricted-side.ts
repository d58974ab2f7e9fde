// What a run's restricted jobs get beyond their secrets: the companion suite checkout, and,
// when `executor.gitlab` is configured, the GitLab pipeline that runs them instead of the sandbox.
import type { Config } from "../config/schema.js";
import type { RunnerDeps } from "../pipeline/runner.js";
import { isRestricted, type Plan } from "../pipeline/types.js";
import { setUpGitLabRun } from "../sandbox/gitlab/setup.js";
import type { SecretsService } from "../secrets/grants.js";
import { displayUrl } from "../suite/git.js";
import { prepareSuite } from "../suite/prepare.js";
import { UserError } from "./errors.js";

export interface RestrictedSide {
  mounts: { source: string; target: string }[];
  env: Record<string, string>;
  /** Recorded on the run and shown in its summary. */
  notes: Record<string, unknown>;
  /** Replaces the runner's executor and grants for restricted jobs, when they run elsewhere. */
  runner(base: RunnerDeps): RunnerDeps;
  close(): Promise<void>;
}

export interface RestrictedSideOptions {
  config: Config;
  plan: Plan;
  secrets: SecretsService;
  dataDir: string;
  runId: string;
  repo: string;
  branch: string | null;
  sha: string;
  approver: string;
  labels: string[];
  signal: AbortSignal;
  createRedactor: RunnerDeps["createRedactor"];
}

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
  if (restricted.length === 0) return side;
  try {
    let suiteRef: { ref: string; sha: string; matched: boolean } | undefined;
    if (o.config.suite) {
      const suite = await prepareSuite({
        suite: o.config.suite,
        branch: o.branch,
        grantSet: (set, ctx) => o.secrets.grantSet(set, ctx),
        runId: o.runId,
        signal: o.signal,
      }).catch((e: Error) => {
        throw new UserError(`cannot prepare the suite repository: ${e.message}`);
      });
      closers.push(suite.cleanup);
      side.mounts.push(suite.mount);
      Object.assign(side.env, suite.env);
      suiteRef = suite.resolution;
      side.notes.suite = { url: displayUrl(o.config.suite.url), ...suiteRef };
    }
    const gitlab = o.config.executor?.gitlab;
    if (gitlab) {
      const run = await setUpGitLabRun({
        config: gitlab,
        dataDir: o.dataDir,
        grantSet: (set, ctx) => o.secrets.grantSet(set, ctx),
        createRedactor: o.createRedactor,
        signal: o.signal,
        request: {
          runId: o.runId,
          repo: o.repo,
          branch: o.branch,
          sha: o.sha,
          approver: o.approver,
          tests: restricted,
          labels: o.labels,
          suite: suiteRef ?? null,
          ...(suiteRef?.matched ? { ref: suiteRef.ref } : {}),
        },
      });
      closers.push(run.release);
      side.notes.executor = "gitlab";
      // The restricted jobs' secrets live on the GitLab side: nothing is granted locally.
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
