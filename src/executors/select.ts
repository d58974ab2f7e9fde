// Which executor a job uses: restricted jobs on the GitLab pipeline when `.airlock.yml` configures
// `executor.gitlab` (read from the trusted base, like every restricted job's definition), every
// other job in the local sandbox.
import type { Config } from "../config/schema.js";
import type { Executors } from "./registry.js";
import { type Executor, isRestricted, type JobSpec } from "./types.js";

/** The name of the executor `job` runs on under `config`. */
export function executorNameFor(config: Config, job: Pick<JobSpec, "secrets">): string {
  return isRestricted(job) && config.executor?.gitlab ? "gitlab" : "local";
}

/** Picks each job's executor among `executors`; throws when the chosen one is missing. */
export function executorSelector(config: Config, executors: Executors): (job: JobSpec) => Executor {
  return (job) => {
    const name = executorNameFor(config, job);
    const e = executors.byName.get(name);
    if (!e) throw new Error(`job ${job.id} runs on executor ${name}, which is not configured`);
    return e;
  };
}

/** The executors restricted jobs of `config` may have left work on (see Executor.sweep). */
export function sweepers(config: Config, executors: Executors): Executor[] {
  const names = new Set(
    Object.values(config.jobs)
      .filter((j) => j.secrets.length > 0)
      .map((j) => executorNameFor(config, j)),
  );
  return [...names].flatMap((n) => {
    const e = executors.byName.get(n);
    return e?.sweep ? [e] : [];
  });
}
