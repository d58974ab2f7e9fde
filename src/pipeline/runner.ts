// Runs a planned pipeline: records it, schedules its jobs, hands each to an executor with its
// secret grants, and sends every byte of output through the redactor into the log store.
import { PassThrough } from "node:stream";
import { finished } from "node:stream/promises";
import { jobArtifacts, type RunArtifacts } from "../artifacts/job-artifacts.js";
import type { ArtifactStore } from "../artifacts/store.js";
import { type CacheTrust, cacheScope } from "../cache/scope.js";
import { formatDurationMs } from "../config/duration.js";
import type { EgressRecord } from "../egress/record.js";
import { redactRecord } from "../egress/record.js";
import { type EgressRequirements, egressProblem } from "../egress/require.js";
import { runAttempt } from "../executors/attempt.js";
import {
  type CheckoutSource,
  credentialsOf,
  type Executor,
  type JobRequest,
  type JobResult,
  type PreparedRun,
  type RunContext,
} from "../executors/types.js";
import type { Redactor, RegisteredSecret } from "../redact/types.js";
import type { RunIdentity } from "../secrets/oidc/claims.js";
import type { GrantContext, SecretGrant } from "../secrets/types.js";
import { DESCRIPTIONS_NOTE, type RunRepo, type TestResult } from "../store/index.js";
import type { LogStore } from "../store/logs.js";
import type { JobState, RunStatus } from "../store/schema.js";
import { type LimitPolicy, LOCAL_POLICY, resolveLimits } from "./limits.js";
import { NetworkFailureSpotter, noNetworkHint } from "./no-network.js";
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
  parseReport(xml: string, file: string): TestResult[];
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
    const r = await runJob(deps, req, job, signal, executors, artifacts);
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

interface JobRecord {
  status: JobState & Outcome;
  exitCode: number | null;
  tests: TestResult[];
  grants: Record<string, unknown>;
  error?: string;
  /** Airlock's closing lines, as the log ends with them. */
  notes: string[];
  /** Where the job connected (redacted). */
  egress?: EgressRecord;
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

async function runJob(
  deps: RunnerDeps,
  req: RunRequest,
  job: PlannedJob,
  signal: AbortSignal,
  executors: RunExecutors,
  artifacts: RunArtifacts | null,
): Promise<JobRecord> {
  const restricted = isRestricted(job);
  const grants: SecretGrant[] = [];
  // The redactor exists before anything can fail, so that even early errors pass through it.
  let redactor = deps.createRedactor([]);
  const { limits, notes: capped } = resolveLimits(job, deps.limits ?? LOCAL_POLICY);
  const spotter = new NetworkFailureSpotter();
  let result: JobResult | undefined;
  // The log's last lines say why the job ended; they are kept whatever the output's size.
  const closing = (): string[] => {
    if (!result) return [];
    const hint = noNetworkHint(job, result.status, spotter);
    return [...(result.notes ?? []), ...(hint ? [hint] : [])].map((l) => redactor.redact(l));
  };
  const log = deps.logs.writer(req.runId, job.id, { budget: limits.logBytes, closing });
  // A log that cannot be written (a full disk, a read-only data directory) stops the job: its
  // output could not be kept. The job fails saying why, and its log is cut to give space back.
  const stop = new AbortController();
  const forward = () => stop.abort(signal.reason);
  if (signal.aborted) forward();
  else signal.addEventListener("abort", forward, { once: true });
  let logFailure: Error | undefined;
  log.on("error", (e: Error) => {
    logFailure ??= new Error(
      `the job's log could not be written (${e.message}): the job was stopped`,
    );
    stop.abort(logFailure);
  });
  const record: JobRecord = { status: "error", exitCode: null, tests: [], grants: {}, notes: [] };
  try {
    const noRoom = await deps.refuseStart?.();
    if (noRoom) {
      // A fixed text Airlock wrote: the check on the pull request shows it too.
      record.notes.push(`not started: ${noRoom}`);
      throw new Error(`not started: ${noRoom}`);
    }
    if (restricted && req.refuseRestricted !== undefined) throw new Error(req.refuseRestricted);
    const executor = deps.executorFor(job);
    const refused = egressProblem(job, job.template, executor, deps.egress);
    if (refused) throw new Error(refused);
    // An executor holding its own secrets (GitLab) gets none from Airlock: only ID tokens.
    const remote = executor.remoteSecrets;
    if (restricted && (!remote || Object.keys(job.idTokens ?? {}).length > 0)) {
      grants.push(
        ...(await deps.grant(remote ? { ...job, secrets: [] } : job, {
          runId: req.runId,
          jobId: job.id,
          timeoutMs: job.timeoutMs,
          ...(req.identity ? { identity: req.identity } : {}),
          ...(req.authorize ? { authorize: req.authorize } : {}),
          ...(remote ? { freshOnly: true } : {}),
        })),
      );
      record.grants = Object.fromEntries(grants.map((g) => [g.set, g.versions]));
      const notes = grants.flatMap((g) => g.notes);
      if (notes.length > 0) await deps.runs.addNotes(req.runId, { [`grants:${job.id}`]: notes });
    }
    // Registered values are masked only in the output of a job that holds them (no oracle).
    redactor = deps.createRedactor(grants.flatMap((g) => g.mask));
    const live = redactor;
    for (const g of grants) g.watch?.((values) => live.register(values));
    const output = redactor.stream();
    const tap = new PassThrough();
    tap.on("data", (chunk: Buffer) => {
      spotter.feed(chunk);
      req.onOutput?.(job.id, chunk);
    });
    output.pipe(tap);
    output.pipe(log);
    for (const n of capped) output.write(`airlock: ${n}\n`);
    if (job.cache && !executor.caches) {
      output.write(
        `airlock: cache: the ${executor.name} executor keeps no caches: the job runs without\n`,
      );
    }
    const say = (line: string) => output.write(`airlock: ${line}\n`);
    const passed = artifacts ? jobArtifacts(artifacts, job, job.needs, live, say) : null;
    if (passed && !executor.artifacts) {
      say(`artifacts: the ${executor.name} executor passes no artifacts: the job runs without`);
    }
    try {
      const prepared = await executors.prepared(executor);
      result = await runAttempt(
        prepared,
        {
          runId: req.runId,
          job: { ...job, limits },
          checkout: req.checkout,
          workdir: req.workdir ?? "",
          env: {
            ...job.env,
            ...job.matrix,
            ...req.env,
            ...(restricted ? req.restrictedEnv : {}),
            AIRLOCK_RUN_ID: req.runId,
            AIRLOCK_JOB: job.id,
            AIRLOCK_SHA: req.sha,
            ...(req.ref ? { AIRLOCK_REF: req.ref } : {}),
          },
          secretEnv: Object.assign({}, ...grants.map((g) => g.env)),
          secretFiles: grants.flatMap((g) => g.files),
          ...idTokensOf(grants),
          mask: (values) => live.register(values),
          mounts: restricted ? (req.restrictedMounts ?? []) : [],
          ...(req.trust && job.cache
            ? { cacheScope: cacheScope(req.trust, credentialsOf(job)) }
            : {}),
          ...(passed ? { artifacts: passed } : {}),
        },
        { output, signal: stop.signal },
      );
    } catch (e) {
      // Into the job's log too, through the redactor like all of it.
      output.write(`airlock: ${e instanceof Error ? e.message : String(e)}\n`);
      throw e;
    } finally {
      output.end();
      await finished(log);
    }
    record.status = result.status;
    record.exitCode = result.exitCode;
    record.notes = closing();
    if (result.error) record.error = redactor.redact(result.error);
    else if (result.status === "timed_out") {
      record.error = `timed out after ${formatDurationMs(job.timeoutMs)}`;
    }
    const unreadable: string[] = [];
    if (result.egress) record.egress = redactRecord(result.egress, (t) => redactor.redact(t));
    for (const report of result.reports) {
      // The path is job-chosen text too: a file named after a secret must not carry it out.
      const file = redactor.redact(report.path);
      try {
        record.tests.push(...deps.parseReport(redactor.redact(report.content), file));
      } catch (e) {
        unreadable.push(
          `report ${file}: ${redactor.redact(e instanceof Error ? e.message : String(e))}`,
        );
      }
    }
    // A report the job wrote but nobody can read is not a pass: its results are unknown.
    if (unreadable.length > 0) {
      if (record.status === "passed") record.status = "error";
      record.error = [record.error, ...unreadable].filter(Boolean).join("; ");
    }
  } catch (e) {
    record.status = signal.aborted ? "cancelled" : "error";
    const failure = logFailure ?? e;
    record.error = redactor.redact(failure instanceof Error ? failure.message : String(failure));
    if (logFailure) await log.giveSpaceBack(record.error);
    else if (!log.closed) {
      log.endWith([record.error]);
      await finished(log).catch(() => {});
    }
  } finally {
    signal.removeEventListener("abort", forward);
    if (log.truncation) record.notes.push(log.truncation);
    for (const g of grants) {
      try {
        await g.release();
      } catch (e) {
        const msg = redactor.redact(e instanceof Error ? e.message : String(e));
        record.error = [record.error, `releasing ${g.set}: ${msg}`].filter(Boolean).join("; ");
      }
    }
  }
  return record;
}

/** The job's fresh-token endpoint, from the grant that serves it (at most one does). */
function idTokensOf(grants: SecretGrant[]): Pick<JobRequest, "apiSocket" | "idTokens"> {
  const g = grants.find((g) => g.socket || g.idTokens);
  return {
    ...(g?.socket ? { apiSocket: g.socket } : {}),
    ...(g?.idTokens ? { idTokens: g.idTokens } : {}),
  };
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
