// What a job may use: its `.airlock.yml` limits, completed with defaults (public and restricted
// jobs differ) and capped by the server's maximums, since a pull request can write that file.
import type { LimitsConfig } from "../config/limits-schema.js";
import { formatBytes, formatCount, sizeBytes } from "../config/size.js";
import { isRestricted, type JobLimits, type PlannedJob } from "./types.js";

/** The limits every job has (open_files and file_size stay the host's unless asked for). */
export type CoreLimits = Required<
  Pick<
    JobLimits,
    "memoryBytes" | "processes" | "cpus" | "tmpBytes" | "homeBytes" | "diskBytes" | "logBytes"
  >
>;

export interface LimitPolicy {
  public: CoreLimits;
  restricted: CoreLimits;
  /** What no job gets more of, whatever its `.airlock.yml` says. */
  max: JobLimits;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** Defaults sized so that a few jobs at once cannot take a 2-core, 8 GiB machine. */
export const DEFAULT_LIMITS: Pick<LimitPolicy, "public" | "restricted"> = {
  public: {
    memoryBytes: 2 * GiB,
    processes: 1024,
    cpus: 1,
    tmpBytes: 512 * MiB,
    homeBytes: 512 * MiB,
    diskBytes: 4 * GiB,
    logBytes: 100 * MiB,
  },
  restricted: {
    memoryBytes: 4 * GiB,
    processes: 4096,
    cpus: 2,
    tmpBytes: GiB,
    homeBytes: GiB,
    diskBytes: 10 * GiB,
    logBytes: 100 * MiB,
  },
};

/** The serve config's maximums when it names none. */
export const DEFAULT_MAX: JobLimits = {
  memoryBytes: 4 * GiB,
  processes: 4096,
  cpus: 2,
  tmpBytes: 2 * GiB,
  homeBytes: 2 * GiB,
  diskBytes: 20 * GiB,
  logBytes: GiB,
};

/** `airlock run`: the defaults, and no maximum (the developer's own machine and code). */
export const LOCAL_POLICY: LimitPolicy = { ...DEFAULT_LIMITS, max: {} };

/** Each limit's name in `.airlock.yml` and how its value reads. */
export const LIMIT_FIELDS: Record<keyof JobLimits, { name: string; format(n: number): string }> = {
  memoryBytes: { name: "memory", format: formatBytes },
  processes: { name: "processes", format: formatCount },
  cpus: { name: "cpus", format: (n) => `${n} CPU${n === 1 ? "" : "s"}` },
  tmpBytes: { name: "tmp", format: formatBytes },
  homeBytes: { name: "home", format: formatBytes },
  diskBytes: { name: "disk", format: formatBytes },
  logBytes: { name: "log", format: formatBytes },
  openFiles: { name: "open_files", format: formatCount },
  fileSizeBytes: { name: "file_size", format: formatBytes },
};

/** The limits of `.airlock.yml` in bytes and counts. */
export function limitsOf(l: LimitsConfig): JobLimits {
  const bytes = (v: LimitsConfig["tmp"]) => (v === undefined ? undefined : sizeBytes(v));
  const all: JobLimits = {
    memoryBytes: bytes(l.memory),
    processes: l.processes,
    cpus: l.cpus,
    tmpBytes: bytes(l.tmp),
    homeBytes: bytes(l.home),
    diskBytes: bytes(l.disk),
    logBytes: bytes(l.log),
    openFiles: l.open_files,
    fileSizeBytes: bytes(l.file_size),
  };
  return Object.fromEntries(Object.entries(all).filter(([, v]) => v !== undefined));
}

/**
 * The job's limits: what it asked for, else its kind's default, never above the maximum. Says
 * which asks were cut down, for the job's log.
 */
export function resolveLimits(
  job: Pick<PlannedJob, "secrets" | "limits">,
  policy: LimitPolicy,
): { limits: JobLimits; notes: string[] } {
  const limits: JobLimits = { ...(isRestricted(job) ? policy.restricted : policy.public) };
  const notes: string[] = [];
  for (const key of Object.keys(LIMIT_FIELDS) as (keyof JobLimits)[]) {
    const asked = job.limits?.[key];
    if (asked !== undefined) limits[key] = asked;
    const max = policy.max[key];
    const value = limits[key];
    if (max === undefined || value === undefined || value <= max) continue;
    limits[key] = max;
    const f = LIMIT_FIELDS[key];
    notes.push(
      `limits.${f.name} ${f.format(value)} is above this server's maximum: the job gets ${f.format(max)}`,
    );
  }
  return { limits, notes };
}
