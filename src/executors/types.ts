// The seam between the scheduler and whatever runs a job (bubblewrap here; GitLab, agents later).
import type { Writable } from "node:stream";

/**
 * Per-job resource limits, in bytes, counts and cores. Core dumps are always off, whatever these
 * say. A planned job carries what its `.airlock.yml` asked for; the runner fills in the rest
 * (see pipeline/limits.ts) before an executor sees it.
 */
export interface JobLimits {
  memoryBytes?: number;
  processes?: number;
  cpus?: number;
  tmpBytes?: number;
  homeBytes?: number;
  diskBytes?: number;
  logBytes?: number;
  openFiles?: number;
  fileSizeBytes?: number;
}

/** What an executor reads of a planned job (the pipeline's PlannedJob has all of it). */
export interface JobSpec {
  /** Unique id after matrix expansion, e.g. "functional-aws-infra". */
  id: string;
  run: string;
  /** Secret set names. A job with any is restricted. */
  secrets: string[];
  /** OIDC ID tokens the job receives, by variable name. A job with any is restricted too. */
  idTokens?: Record<string, IdTokenSpec>;
  timeoutMs: number;
  network: boolean;
  /** Report file patterns (JUnit XML), relative to where the job starts. */
  reports: string[];
  /** Resource limits: asked for by `.airlock.yml`, then completed and capped by the runner. */
  limits?: JobLimits;
}

/** An ID token a job receives (issued by src/secrets/oidc). */
export interface IdTokenSpec {
  aud: string[];
  /** Delivered as a file; the variable holds its path. */
  file: boolean;
  lifetimeMs: number;
}

/** A job holding credentials (secret sets or ID tokens) runs only when authorized. */
export const isRestricted = (job: Pick<JobSpec, "secrets" | "idTokens">): boolean =>
  job.secrets.length > 0 || Object.keys(job.idTokens ?? {}).length > 0;

/** Where the job's workspace comes from. */
export type CheckoutSource =
  /** A clean checkout of `sha` from the git repository at `repoDir`. */
  | { kind: "commit"; repoDir: string; sha: string }
  /**
   * A copy of a working tree as it is (`airlock run --dirty`): its tracked and untracked files,
   * without what git ignores (node_modules, build output) unless `includeIgnored`.
   */
  | { kind: "dirty"; dir: string; includeIgnored?: boolean };

export interface SecretFile {
  /** File name under the job's private secrets directory (exposed as $AIRLOCK_SECRETS_DIR/<name>). */
  name: string;
  value: string;
  /** Also export the file's path in this environment variable (AWS_WEB_IDENTITY_TOKEN_FILE). */
  pathEnv?: string;
}

export interface JobRequest {
  runId: string;
  job: JobSpec;
  checkout: CheckoutSource;
  /** Directory inside the checkout where the job starts ("" for its root): the project's place in a monorepo. */
  workdir?: string;
  /** Non-secret environment: the job's `env`, matrix values and AIRLOCK_* variables. */
  env: Record<string, string>;
  /** Granted secrets as environment variables (restricted jobs only). */
  secretEnv: Record<string, string>;
  /** Granted secrets as files on a private tmpfs. */
  secretFiles: SecretFile[];
  /**
   * Host path of the job's API socket (fresh ID tokens), bound into the sandbox; its path there
   * is exported as AIRLOCK_JOB_API_SOCKET.
   */
  apiSocket?: string;
  /** Read-only directories mounted into the sandbox, e.g. a companion suite checkout. */
  mounts: { source: string; target: string }[];
  /** Raw job output (stdout and stderr interleaved) goes here; the caller puts the redactor in front of the log. */
  output: Writable;
  signal: AbortSignal;
}

export type JobStatus = "passed" | "failed" | "timed_out" | "cancelled" | "error";

export interface JobResult {
  status: JobStatus;
  exitCode: number | null;
  durationMs: number;
  /** Raw contents of the job's report files (JUnit XML), read before the workspace is removed. */
  reports: { path: string; content: string }[];
  /** Executor-side failure (not the job's own output). Passes the redactor before it is stored. */
  error?: string;
  /**
   * Airlock's own closing lines about the job, fixed texts only: a limit that ended it ("killed:
   * out of memory (limit 2 GiB)"), processes it left behind. The runner ends the log with them.
   */
  notes?: string[];
}

export interface Executor {
  readonly name: string;
  run(req: JobRequest): Promise<JobResult>;
  /** Releases what the executor keeps for the whole run (e.g. cached checkouts). */
  close?(): Promise<void>;
}
