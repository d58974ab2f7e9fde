// The plan: what the scheduler runs. Produced from a Config by expand + select.
import type { IdTokenSpec, JobLimits, JobSpec } from "../executors/types.js";

export { isRestricted } from "../executors/types.js";
export type { JobLimits };
export type PlannedIdToken = IdTokenSpec;

export interface PlannedJob extends JobSpec {
  /** The key under `jobs:` this came from. */
  template: string;
  /** What the job is for (the config's `description`), shown in plans, the terminal and the console. */
  description?: string;
  /** Matrix values for this expansion; exported to the job as environment variables. */
  matrix: Record<string, string>;
  /** Ids of planned jobs this one waits for. */
  needs: string[];
  tags: string[];
  env: Record<string, string>;
}

export interface Plan {
  jobs: PlannedJob[];
  /** Why each job is in the plan: "selected by label test-aws-infra", "needed by x", "all jobs". */
  reasons: Record<string, string>;
}
