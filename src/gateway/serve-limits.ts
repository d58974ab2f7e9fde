// What the serve config says about jobs' resources: `limits:` (each kind's defaults, the maximums a
// job's `.airlock.yml` cannot exceed, and the switch that lets public jobs run without cgroups)
// and `capacity:` (jobs and runs at once, and each pull request's and author's fair share of
// public jobs). Both have documented defaults (docs/operations.md).
import { z } from "zod";
import { LimitsSchema } from "../config/limits-schema.js";
import {
  type CoreLimits,
  DEFAULT_LIMITS,
  DEFAULT_MAX,
  LIMIT_FIELDS,
  type LimitPolicy,
  limitsOf,
} from "../pipeline/limits.js";
import type { JobLimits } from "../pipeline/types.js";

const count = (field: string, max: number) =>
  z
    .number({ error: `${field} must be a whole number` })
    .int(`${field} must be a whole number`)
    .min(1, `${field} must be at least 1`)
    .max(max, `${field} must be at most ${max}`)
    .optional();

/** The keys of the serve config file. */
export const limitsFileShape = {
  limits: z
    .object({
      public: LimitsSchema.optional(),
      restricted: LimitsSchema.optional(),
      max: LimitsSchema.optional(),
      allow_unlimited_public_jobs: z.boolean().optional(),
    })
    .strict()
    .optional(),
  capacity: z
    .object({
      jobs: count("capacity.jobs", 1024),
      runs: count("capacity.runs", 1024),
      jobs_per_run: count("capacity.jobs_per_run", 1024),
      public_jobs_per_pr: count("capacity.public_jobs_per_pr", 1024),
      public_jobs_per_author: count("capacity.public_jobs_per_author", 1024),
      github_writes_per_installation: count("capacity.github_writes_per_installation", 64),
    })
    .strict()
    .optional(),
};

type LimitsFile = {
  limits?: z.infer<typeof limitsFileShape.limits>;
  capacity?: z.infer<typeof limitsFileShape.capacity>;
};

/**
 * How many jobs and runs the gateway runs at once, and each one's fair share. `jobs` and
 * `jobsPerRun` size one machine (each replica's own); the others hold for every replica together.
 */
export interface Capacity {
  /** Jobs at once on this replica, every run together. */
  jobs: number;
  /** Runs at once, every replica together. */
  runs: number;
  /** Jobs at once within one run. */
  jobsPerRun: number;
  /** Public jobs at once of one pull request. */
  publicJobsPerPr: number;
  /** Public jobs at once of one pull request author, all their pull requests together. */
  publicJobsPerAuthor: number;
  /** Writes to GitHub in flight at once for one App installation, every replica together. */
  githubWritesPerInstallation: number;
}

/**
 * Sized for a 2-core, 8 GiB machine: four jobs at once (public ones take 2 GiB each at most), and
 * no author's public jobs more than half of them, so one outsider opening 50 pull requests leaves
 * the other half to everyone else.
 */
export const DEFAULT_CAPACITY: Capacity = {
  jobs: 4,
  runs: 4,
  jobsPerRun: 2,
  publicJobsPerPr: 2,
  publicJobsPerAuthor: 2,
  githubWritesPerInstallation: 4,
};

export interface ServeLimits {
  policy: LimitPolicy;
  /** Public jobs may run where no cgroup can limit their memory and processes. */
  allowUnlimitedPublicJobs: boolean;
  capacity: Capacity;
}

export const DEFAULT_SERVE_LIMITS: ServeLimits = {
  policy: { ...DEFAULT_LIMITS, max: DEFAULT_MAX },
  allowUnlimitedPublicJobs: false,
  capacity: DEFAULT_CAPACITY,
};

/** The serve config's limits and capacity over the defaults; throws a message on a bad one. */
export function resolveLimits(fc: LimitsFile): ServeLimits {
  const l = fc.limits ?? {};
  const max: JobLimits = { ...DEFAULT_MAX, ...limitsOf(l.max ?? {}) };
  const kind = (name: "public" | "restricted"): CoreLimits => {
    const given = limitsOf(l[name] ?? {});
    const set: CoreLimits & JobLimits = { ...DEFAULT_LIMITS[name], ...given };
    for (const key of Object.keys(LIMIT_FIELDS) as (keyof JobLimits)[]) {
      const v = set[key];
      const m = max[key];
      if (v === undefined || m === undefined || v <= m) continue;
      // A built-in default above a lower maximum is the maximum; a default written above it
      // would be cut down for every job, so it is refused, here, once.
      const f = LIMIT_FIELDS[key];
      if (given[key] === undefined) {
        (set as JobLimits)[key] = m;
        continue;
      }
      throw new Error(
        `limits.${name}.${f.name} (${f.format(v)}) is above the maximum (${f.format(m)}): lower it, or raise limits.max.${f.name}`,
      );
    }
    return set;
  };
  const c = fc.capacity ?? {};
  const jobs = c.jobs ?? DEFAULT_CAPACITY.jobs;
  return {
    policy: { public: kind("public"), restricted: kind("restricted"), max },
    allowUnlimitedPublicJobs: l.allow_unlimited_public_jobs ?? false,
    capacity: {
      jobs,
      runs: c.runs ?? jobs,
      jobsPerRun: c.jobs_per_run ?? DEFAULT_CAPACITY.jobsPerRun,
      publicJobsPerPr: c.public_jobs_per_pr ?? DEFAULT_CAPACITY.publicJobsPerPr,
      publicJobsPerAuthor: c.public_jobs_per_author ?? DEFAULT_CAPACITY.publicJobsPerAuthor,
      githubWritesPerInstallation:
        c.github_writes_per_installation ?? DEFAULT_CAPACITY.githubWritesPerInstallation,
    },
  };
}
