// The executor seam: what runs a job once the scheduler says it may start. Kinds live beside this
// file (local/ for bubblewrap on this machine, gitlab/ for a private GitLab pipeline, kubernetes/
// for Jobs in a cluster); select.ts says which one a job uses and registry.ts builds them from
// the configuration.
import type { Writable } from "node:stream";
import type { CacheSpec } from "../cache/job-cache.js";
import type { CacheScope } from "../cache/scope.js";
import type { EgressRecord, EgressSpec } from "../egress/types.js";
import type { Redactor, RegisteredSecret } from "../redact/types.js";
import type { GrantContext, IdTokenService, SecretGrant } from "../secrets/types.js";

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
  /** The host's network, unfiltered (`network: true`). */
  network: boolean;
  /**
   * `network: { allow }`: the job's only way out is an egress proxy enforcing this (network is
   * then false, so an executor that ignores this field gives the job no network at all).
   */
  egress?: EgressSpec;
  /** Report file patterns (JUnit XML), relative to where the job starts. */
  reports: string[];
  /** Resource limits: asked for by `.airlock.yml`, then completed and capped by the runner. */
  limits?: JobLimits;
  /** The executor the job names for itself (see select.ts). */
  executor?: string;
  /** The container image, on executors that run containers. */
  image?: string;
  /** Files kept between runs (executors that cannot cache say so in the log). */
  cache?: CacheSpec;
  /** Patterns of files kept after the job for the jobs that need it (`artifacts:`). */
  artifacts?: string[];
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

/** What a job holds, as caches and artifacts tell jobs apart: its secret sets, "oidc" for ID tokens. */
export const credentialsOf = (job: Pick<JobSpec, "secrets" | "idTokens">): string[] => [
  ...job.secrets,
  ...(Object.keys(job.idTokens ?? {}).length ? ["oidc"] : []),
];

/**
 * A job's artifacts, for executors that run the job where Airlock's files are (local). Both
 * hooks say in the job's log what they did and never throw.
 */
export interface JobArtifacts {
  /** Copies what needed jobs kept into the job's directory; called before any process of it runs. */
  receive(dir: string): Promise<void>;
  /** Keeps the job's `artifacts:` from its directory; called once every process of it is gone. */
  keep(dir: string, status: JobStatus): Promise<void>;
}

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

/** The companion suite's commit, when the run has one (see suite/). */
export interface SuiteRef {
  ref: string;
  sha: string;
  /** The suite branch is the one named like the run's branch. */
  matched: boolean;
}

/** What an executor is told about a run before its first job starts there. */
export interface RunContext {
  /** This attempt of the run. */
  runId: string;
  /** Source repository, "owner/name". */
  repo: string;
  /** Clone URL of the source repository, for executors that fetch it themselves. */
  repoUrl?: string;
  branch: string | null;
  /** The exact commit the run's authorization covers. */
  sha: string;
  /** Who authorized the commit (trusted author or approving member), or the local user. */
  approver: string;
  /** The labels that made the selection. */
  labels: string[];
  /** The run's jobs that this executor runs, in plan order. */
  jobs: JobSpec[];
  suite?: SuiteRef | null;
  /** Earlier attempts of this run (taken up again after a restart): their work is adopted. */
  earlierRunIds?: string[];
  /** When the run's first attempt was requested: no older work can be the run's own. */
  requestedAt?: number;
  /**
   * Aborted when the run is cancelled (the reason says why) or when Airlock shuts down (a
   * ShutdownAbort, see abort.ts): work that outlives Airlock is then left for the next attempt.
   */
  signal: AbortSignal;
  /** Throws with the reason once the run's authorization no longer covers the commit. */
  authorize?(): Promise<void>;
  /** Grants the executor's own credentials (a secret set), re-checking the run's authorization. */
  grantSet(set: string, ctx: GrantContext): Promise<SecretGrant>;
  /** A redactor for text the executor writes itself, masking `values` it holds. */
  createRedactor(values: RegisteredSecret[]): Redactor;
}

/** One attempt of one job, as the runner hands it to an executor. */
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
  /**
   * The job's fresh ID tokens (a job with `id_tokens`), for executors whose jobs cannot reach the
   * socket: they serve it through the job API, and give the job AIRLOCK_ID_TOKEN_REQUEST_URL and
   * AIRLOCK_ID_TOKEN_REQUEST_TOKEN for that instead.
   */
  idTokens?: IdTokenService;
  /** Masks values the executor itself gives the job (a job-API token) in the job's output. */
  mask?(values: RegisteredSecret[]): void;
  /** Read-only directories mounted into the sandbox, e.g. a companion suite checkout. */
  mounts: { source: string; target: string }[];
  /** Which cache entries the job may restore and where it saves (absent: no caching). */
  cacheScope?: CacheScope;
  /** What the job receives and keeps (absent: neither). */
  artifacts?: JobArtifacts;
}

/** Where a job's raw output goes and what stops it, for executors that run a job in one call. */
export interface JobIO {
  /** Raw job output (stdout and stderr interleaved); the caller puts the redactor in front of the log. */
  output: Writable;
  signal: AbortSignal;
}

export type JobStatus = "passed" | "failed" | "timed_out" | "cancelled" | "error";

export interface ReportFile {
  /** Relative to where the job started; job-chosen text, redacted before use. */
  path: string;
  content: string;
}

/** How a job attempt ended. */
export interface JobEnd {
  status: JobStatus;
  exitCode: number | null;
  /** The executor's own measure of the run time, when it has a better one than the caller's. */
  durationMs?: number;
  /** Executor-side failure (not the job's own output). Passes the redactor before it is stored. */
  error?: string;
  /**
   * Airlock's own closing lines about the job, fixed texts only: a limit that ended it ("killed:
   * out of memory (limit 2 GiB)"), processes it left behind. The runner ends the log with them.
   */
  notes?: string[];
  /** Where a job with `egress` connected (raw: the runner redacts it before storing). */
  egress?: EgressRecord;
}

export interface JobResult extends JobEnd {
  durationMs: number;
  /** Raw contents of the job's report files (JUnit XML). */
  reports: ReportFile[];
}

/**
 * A started job attempt. The runner calls `logs` and `wait` at once, then `reports`, then
 * `destroy`; `cancel` may come at any time from another task.
 *
 * - `logs` streams the job's raw output into `output` until the job's output ends (it does not
 *   end `output`); an executor that follows a remote log reconnects on drops, and neither loses
 *   nor repeats a line. It never rejects: a log that cannot be followed is noted in the output.
 * - `wait` resolves once the job ended, whatever ended it; it never rejects (executor failures
 *   are `status: "error"` with a one-line `error` naming the problem and the fix).
 * - `reports` gives the report files the job produced, size-capped, once `wait` resolved.
 * - `cancel` stops the job and is idempotent. With a ShutdownAbort as reason, work that runs
 *   elsewhere is left running for the run's next attempt to adopt, instead of stopped.
 * - `destroy` releases what the attempt holds (a workspace, a Kubernetes Job); idempotent.
 */
export interface JobAttempt {
  /** True when this attempt took over work an earlier attempt of the run started. */
  readonly adopted: boolean;
  logs(output: Writable): Promise<void>;
  wait(): Promise<JobEnd>;
  reports(): Promise<ReportFile[]>;
  cancel(reason?: unknown): Promise<void>;
  destroy(): Promise<void>;
}

/** An executor's share of one run: prepared once, then starting each of the run's jobs there. */
export interface PreparedRun {
  /**
   * Starts one attempt of `req.job`, or adopts the work an earlier attempt of the run left
   * running (RunContext.earlierRunIds), so that no job runs twice with its secrets. Rejects with
   * a one-line message when the job cannot be started; nothing of it is then left behind.
   */
  start(req: JobRequest): Promise<JobAttempt>;
  /** Releases what `prepare` took (credentials, cached checkouts). Idempotent. */
  close(): Promise<void>;
}

/** Runs that no attempt follows any more, whose work an executor may have left running. */
export interface AbandonedWork {
  /** Every attempt of the run, oldest first. */
  runIds: string[];
  /** When the run's first attempt was requested. */
  requestedAt: number;
  /** The notes recorded on those runs (the suite branch they ran on, for instance). */
  notes: Record<string, unknown>[];
  /** Runs `fn` with the granted environment of one secret set (the executor's credentials). */
  withSecretSet<T>(set: string, fn: (env: Record<string, string>) => Promise<T>): Promise<T>;
}

/** One piece of abandoned work an executor found, and what it did about it. */
export interface SweptWork {
  /** The executor's own id for it (a pipeline id, a Job name). */
  id: string;
  url?: string;
  /** The attempt that started it. */
  runId: string;
  status: string;
  /** stopped: stopped now; ended: it had finished (or was stopping) already. */
  outcome: "stopped" | "ended";
}

/**
 * An executor: where jobs run. One instance serves any number of runs at once; every method may
 * be called concurrently from different runs (JavaScript runs them on one thread, but their
 * awaits interleave), so an executor keeps per-run state in what `prepare` returns and per-job
 * state in the JobAttempt, never on itself.
 *
 * Lifecycle, as woodpecker-ci's backend interface splits it (SetupWorkflow, StartStep, TailStep,
 * WaitStep, DestroyStep, DestroyWorkflow):
 *   prepare(run) → start(job) → logs ‖ wait → reports → destroy → … → close
 * plus `cancel` at any time, adoption inside `start`, and `sweep` for work nobody follows.
 *
 * Idempotency: `start` is keyed by (run attempt, job); after a restart the new attempt's `start`
 * adopts what an earlier attempt started rather than starting it again. `cancel`, `destroy`,
 * `close` and `sweep` may be repeated safely. Adding a kind touches only executors/ and the
 * configuration schema.
 */
export interface Executor {
  /** The name a job or the configuration uses for it ("local", "gitlab", a named pool). */
  readonly name: string;
  /** What kind of executor it is. */
  readonly kind: "local" | "gitlab" | "kubernetes";
  /**
   * True when restricted jobs' secrets live on the executor's side (a GitLab project's CI
   * variables): Airlock grants them nothing but ID tokens, asked for through the job API, and the
   * executor re-verifies a signed dispatch.
   */
  readonly remoteSecrets: boolean;
  /**
   * True when the executor checks the companion suite out itself, so that Airlock only resolves
   * its commit; false when Airlock checks it out and hands it to the job.
   */
  readonly fetchesSuite: boolean;
  /** True when it restores and saves jobs' `cache:` (others run the job without, saying so). */
  readonly caches?: boolean;
  /** True when it passes `artifacts:` between jobs (JobRequest.artifacts); others say so in the log. */
  readonly artifacts?: boolean;
  /** Prepares the executor's share of a run; called once per run, before its first job there. */
  prepare(run: RunContext): Promise<PreparedRun>;
  /**
   * Stops what the runs of `work` left running (after a crash, or a cancel while no attempt
   * followed them) and says what it found. Work that already ended is left alone.
   */
  sweep?(work: AbandonedWork): Promise<SweptWork[]>;
  /** Releases what the executor keeps across runs (a workspace root). */
  /** Whether it enforces JobSpec.egress; a job with `egress` never runs on one that does not. */
  readonly egress?: boolean;
  close?(): Promise<void>;
}
