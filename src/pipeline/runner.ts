// Runs a planned pipeline: records it, prepares each executor it uses once, schedules its jobs
// (each run by run-job.ts) and records how each ended and how the run ended.
import type { RunArtifacts } from "../artifacts/job-artifacts.js";
import type { ArtifactStore } from "../artifacts/store.js";
import type { CacheTrust } from "../cache/scope.js";
import type { EgressRequirements } from "../egress/require.js";
import type { CheckoutSource, Executor, PreparedRun, RunContext } from "../executors/types.js";
import type { Redactor, RegisteredSecret } from "../redact/types.js";
import type { RunIdentity } from "../secrets/oidc/claims.js";
import type { GrantContext, SecretGrant } from "../secrets/types.js";
import { DESCRIPTIONS_NOTE, type RunRepo, type TestResult } from "../store/index.js";
import type { LogStore } from "../store/logs.js";
import type { RunStatus } from "../store/schema.js";
import type { LimitPolicy } from "./limits.js";
import { runJob } from "./run-job.js";
import { type JobOutcome, type Outcome, runDag } from "./scheduler.js";
import { isRestricted, type Plan, type PlannedJob } from "./types.js";

export interface RunnerDeps {
  runs: RunRepo;
  logs: LogStore;
  /** Picks the executor for a job (see executors/select.ts). Throws when none may run it. */
  executorFor(job: PlannedJob): Executor;
  /**
   * Grants for the sets a restricted job declares. Never called for public jobs, nor for jobs
   * whose executor holds their secrets itself (Executor.remoteSecrets).
   */
  grant(job: PlannedJob, ctx: GrantContext): Promise<SecretGrant[]>;
  /** Grants one set for an executor's own credentials; default: `grant` as a job declaring only it. */
  grantSet?(set: string, ctx: GrantContext): Promise<SecretGrant>;
  createRedactor(secrets: RegisteredSecret[]): Redactor;
  /** Parses one (redacted) JUnit report; throws, saying why, when it cannot be read (the job is then an error). */
  parseReport(xml: string, file: string): TestResult[] | Promise<TestResult[]>;
  /** Default and maximum limits of jobs (default: the built-in defaults, no maximum). */
  limits?: LimitPolicy;
  /** What the server requires of jobs' network (default: nothing). */
  egress?: EgressRequirements;
  /** Why no new job may start now (the disk reserve is not free); null when one may. */
  refuseStart?(): Promise<string | null>;
  /** Where jobs' `artifacts:` are kept (absent: jobs neither keep nor receive any). */
  artifacts?: ArtifactStore;
}

export interface RunRequest {
  runId: string;
  source: string;
  repo: string;
  ref: string | null;
  sha: string;
  pr?: number | null;
  authorizedBy?: string | null;
  selection?: unknown;
  notes?: Record<string, unknown>;
  checkout: CheckoutSource;
  /** Where jobs start, relative to the checkout's root. */
  workdir?: string;
  plan: Plan;
  concurrency: number;
  failFast?: boolean;
  signal?: AbortSignal;
  /** Extra read-only mounts for restricted jobs (the companion suite checkout). */
  restrictedMounts?: { source: string; target: string }[];
  /** Extra non-secret environment for every job. */
  env?: Record<string, string>;
  /** Extra environment for restricted jobs only (AIRLOCK_SUITE_*). */
  restrictedEnv?: Record<string, string>;
  /**
   * How far the run's code is trusted, for caches (absent: jobs neither restore nor save) and
   * artifacts (absent: untrusted, see artifacts/scope.ts).
   */
  trust?: CacheTrust;
  /** What ID tokens say about this run; without it, a job declaring `id_tokens` gets none. */
  identity?: RunIdentity;
  /** Re-checks the run's authorization before each grant and ID token; throws when void. */
  authorize?: () => Promise<void>;
  /** What executors learn about the run besides the above (see executors' RunContext). */
  context?: RunExtras;
  /** Set when restricted jobs cannot run (their suite could not be prepared): they end in error with it. */
  refuseRestricted?: string;
  /** Waits for a job's slot before it starts (the gateway's fair share); see runDag's admit. */
  admit?(job: PlannedJob, signal: AbortSignal): Promise<(() => void) | null>;
  /** Live view hooks. Output given here is already redacted. */
  onJobStart?(jobId: string): void;
  onJobEnd?(jobId: string, outcome: JobOutcome): void;
  onOutput?(jobId: string, chunk: Buffer): void;
}

export type RunExtras = Pick<
  RunContext,
  "repoUrl" | "approver" | "labels" | "suite" | "earlierRunIds" | "requestedAt"
> & {
  /** The branch as executors may pass it on (null: not a usable branch name); default `ref`. */
  branch?: string | null;
};

export interface RunResult {
  runId: string;
  status: RunStatus;
  jobs: Map<string, JobOutcome>;
}

export async function executeRun(deps: RunnerDeps, req: RunRequest): Promise<RunResult> {
  const byId = new Map(req.plan.jobs.map((j) => [j.id, j]));
  const descriptions = Object.fromEntries(
    req.plan.jobs.flatMap((j) => (j.description ? [[j.id, j.description]] : [])),
  );
  await deps.runs.create(
    {
      id: req.runId,
      source: req.source,
      repo: req.repo,
      ref: req.ref,
      sha: req.sha,
      pr: req.pr ?? null,
      selection: req.selection,
      authorizedBy: req.authorizedBy ?? null,
      notes: {
        ...req.notes,
        executors: executorNames(deps, req.plan),
        ...(Object.keys(descriptions).length ? { [DESCRIPTIONS_NOTE]: descriptions } : {}),
      },
    },
    req.plan.jobs.map((j) => ({
      jobId: j.id,
      template: j.template,
      needs: j.needs,
      secrets: j.secrets,
      restricted: isRestricted(j),
      state: "pending",
      reason: req.plan.reasons[j.id] ?? "",
    })),
  );
  await deps.runs.setStatus(req.runId, "running");

  const executors = new RunExecutors(deps, req);
  const artifacts: RunArtifacts | null = deps.artifacts
    ? {
        store: deps.artifacts,
        runId: req.runId,
        trusted: req.trust?.trusted === true && req.trust.pr === null,
        jobs: byId,
      }
    : null;
  const runOne = async (id: string, signal: AbortSignal): Promise<Outcome> => {
    const job = byId.get(id)!;
    await deps.runs.updateJob(req.runId, id, { state: "running", startedAt: Date.now() });
    const r = await runJob(deps, req, job, signal, (e) => executors.prepared(e), artifacts);
    await deps.runs.updateJob(req.runId, id, {
      state: r.status,
      exitCode: r.exitCode,
      finishedAt: Date.now(),
      tests: r.tests,
      grants: r.grants,
      error: r.error ?? null,
      notes: r.notes,
      ...(r.egress ? { egress: r.egress } : {}),
    });
    return r.status;
  };

  // Jobs that never start (skipped, or cancelled while pending) are recorded as soon as they
  // are settled, so that the console shows them at once; started ones are recorded by runOne.
  const started = new Set<string>();
  const settling: Promise<void>[] = [];
  let jobs: Map<string, JobOutcome>;
  try {
    jobs = await runDag(req.plan.jobs, runOne, {
      concurrency: req.concurrency,
      failFast: req.failFast,
      signal: req.signal,
      ...(req.admit ? { admit: (id, s) => req.admit!(byId.get(id)!, s) } : {}),
      onStart: (id) => {
        started.add(id);
        req.onJobStart?.(id);
      },
      onEnd: (id, o) => {
        if (!started.has(id)) {
          settling.push(deps.runs.updateJob(req.runId, id, { state: o.outcome, reason: o.reason }));
        }
        req.onJobEnd?.(id, o);
      },
    });
  } finally {
    await executors.close();
  }
  await Promise.all(settling);
  const outcomes = [...jobs.values()].map((o) => o.outcome);
  const status: RunStatus = req.signal?.aborted
    ? "cancelled"
    : outcomes.every((o) => o === "passed")
      ? "passed"
      : outcomes.includes("error") && !outcomes.includes("failed")
        ? "error"
        : "failed";
  await deps.runs.setStatus(req.runId, status);
  return { runId: req.runId, status, jobs };
}

/** Which executor each job of the plan runs on, by executor name, as the run records it. */
function executorNames(deps: RunnerDeps, plan: Plan): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const j of plan.jobs) {
    let name: string;
    try {
      name = deps.executorFor(j).name;
    } catch {
      continue; // the job ends in error with the reason when it would start
    }
    out[name] = [...(out[name] ?? []), j.id];
  }
  return out;
}

/** The run's share of each executor it uses, prepared when its first job there starts. */
class RunExecutors {
  readonly #prepared = new Map<Executor, Promise<PreparedRun>>();
  readonly #never = new AbortController().signal;

  constructor(
    private readonly deps: RunnerDeps,
    private readonly req: RunRequest,
  ) {}

  /** Rejects with the executor's one-line reason when it cannot take the run's jobs. */
  prepared(executor: Executor): Promise<PreparedRun> {
    let p = this.#prepared.get(executor);
    if (!p) {
      const { deps, req } = this;
      const ctx = req.context;
      p = executor.prepare({
        runId: req.runId,
        repo: req.repo,
        ...(ctx?.repoUrl ? { repoUrl: ctx.repoUrl } : {}),
        branch: ctx?.branch !== undefined ? ctx.branch : req.ref,
        sha: req.sha,
        approver: ctx?.approver ?? req.authorizedBy ?? "",
        labels: ctx?.labels ?? [],
        jobs: req.plan.jobs.filter((j) => this.#on(j, executor)),
        suite: ctx?.suite ?? null,
        ...(ctx?.earlierRunIds?.length ? { earlierRunIds: ctx.earlierRunIds } : {}),
        ...(ctx?.requestedAt !== undefined ? { requestedAt: ctx.requestedAt } : {}),
        signal: req.signal ?? this.#never,
        grantSet: deps.grantSet ?? grantSetVia(deps.grant),
        ...(req.authorize ? { authorize: req.authorize } : {}),
        createRedactor: deps.createRedactor,
      });
      // Settled by the jobs that wait on it; this only keeps an unwaited failure quiet.
      p.catch(() => {});
      this.#prepared.set(executor, p);
    }
    return p;
  }

  #on(job: PlannedJob, executor: Executor): boolean {
    try {
      return this.deps.executorFor(job) === executor;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    for (const p of this.#prepared.values()) {
      const run = await p.catch(() => null);
      await run?.close();
    }
  }
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
