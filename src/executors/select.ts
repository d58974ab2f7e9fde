// Which executor a job uses. The job's own `executor:`, else `.airlock.yml`'s `executor.public` or
// `executor.restricted`, else the GitLab pipeline for restricted jobs when `executor.gitlab` is
// configured, else the local sandbox. `airlock run --executor` may override all of it. A
// restricted job's choice comes from the trusted base's definition like the rest of the job
// (invariant 2); the serve config may forbid an executor for public jobs or for jobs of an
// unauthorized commit, and a public job never goes to an executor that holds secrets itself.
import { type Config, holdsCredentials } from "../config/schema.js";
import type { Executors } from "./registry.js";
import { type Executor, isRestricted, type JobSpec } from "./types.js";

/** `airlock run --executor`: one executor for every job, or one per side. */
export interface ExecutorOverride {
  all?: string;
  public?: string;
  restricted?: string;
}

/** The name of the executor `job` runs on under `config`. */
export function executorNameFor(
  config: Config,
  job: Pick<JobSpec, "executor">,
  restricted: boolean,
  override: ExecutorOverride = {},
): string {
  const forced = override.all ?? (restricted ? override.restricted : override.public);
  if (forced) return forced;
  if (job.executor) return job.executor;
  const side = restricted ? config.executor?.restricted : config.executor?.public;
  if (side) return side;
  return restricted && config.executor?.gitlab ? "gitlab" : "local";
}

export interface SelectOptions {
  /** Whether the run's commit is authorized (a trusted author, or an approval of that SHA). */
  authorized: boolean;
  override?: ExecutorOverride;
}

/** Picks each job's executor among `executors`; throws a one-line reason when it may not run. */
export function executorSelector(
  config: Config,
  executors: Executors,
  o: SelectOptions,
): (job: JobSpec) => Executor {
  return (job) => {
    const restricted = isRestricted(job);
    const name = executorNameFor(config, job, restricted, o.override);
    const e = executors.byName.get(name);
    if (!e) {
      throw new Error(
        `job ${job.id} runs on executor ${name}, which is not configured here: name one of ${[...executors.byName.keys()].join(", ")}, or define it (executors: in the serve config)`,
      );
    }
    if (!restricted && e.remoteSecrets) {
      throw new Error(
        `job ${job.id} declares no secrets, and the ${name} executor runs restricted jobs only: give it another executor`,
      );
    }
    const forbid = executors.forbid.get(name) ?? [];
    if (!restricted && forbid.includes("public")) {
      throw new Error(
        `job ${job.id} is public, and the serve config forbids public jobs on executor ${name}: give it another executor (executor.public in .airlock.yml)`,
      );
    }
    if (!o.authorized && forbid.includes("untrusted")) {
      throw new Error(
        `the serve config lets executor ${name} run jobs of authorized commits only, and this commit is not: job ${job.id} did not run there`,
      );
    }
    return e;
  };
}

/** The executors restricted jobs of `config` may have left work on (see Executor.sweep). */
export function sweepers(config: Config, executors: Executors): Executor[] {
  const names = new Set(
    Object.values(config.jobs)
      .filter(holdsCredentials)
      .map((j) => executorNameFor(config, j, true)),
  );
  return [...names].flatMap((n) => {
    const e = executors.byName.get(n);
    return e?.sweep ? [e] : [];
  });
}
