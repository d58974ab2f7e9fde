// The plan: what the scheduler runs. Produced from a Config by expand + select.

export interface PlannedJob {
  /** Unique id after matrix expansion, e.g. "functional-aws-infra" or "build-lint-unit". */
  id: string;
  /** The key under `jobs:` this came from. */
  template: string;
  /** Matrix values for this expansion; exported to the job as environment variables. */
  matrix: Record<string, string>;
  run: string;
  /** Ids of planned jobs this one waits for. */
  needs: string[];
  tags: string[];
  /** Secret set names. A job with any is restricted. */
  secrets: string[];
  env: Record<string, string>;
  timeoutMs: number;
  network: boolean;
  reports: string[];
  /** Resource limits beyond the defaults (absent: none). */
  limits?: JobLimits;
}

/** Per-job resource limits, in bytes and counts. Core dumps are always off, whatever these say. */
export interface JobLimits {
  tmpBytes?: number;
  openFiles?: number;
  fileSizeBytes?: number;
}

export interface Plan {
  jobs: PlannedJob[];
  /** Why each job is in the plan: "selected by label test-aws-infra", "needed by x", "all jobs". */
  reasons: Record<string, string>;
}

export const isRestricted = (job: Pick<PlannedJob, "secrets">): boolean => job.secrets.length > 0;
