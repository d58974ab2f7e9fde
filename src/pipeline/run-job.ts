// Runs one job of a run: its limits and secret grants, its output through the redactor into its
// log, its artifacts and cache scope, the executor's attempt, and what its reports say.
import { PassThrough } from "node:stream";
import { finished } from "node:stream/promises";
import { jobArtifacts, type RunArtifacts } from "../artifacts/job-artifacts.js";
import { cacheScope } from "../cache/scope.js";
import { formatDurationMs } from "../config/duration.js";
import type { EgressRecord } from "../egress/record.js";
import { redactRecord } from "../egress/record.js";
import { egressProblem } from "../egress/require.js";
import { runAttempt } from "../executors/attempt.js";
import {
  credentialsOf,
  type Executor,
  type JobRequest,
  type JobResult,
  type PreparedRun,
} from "../executors/types.js";
import type { SecretGrant } from "../secrets/types.js";
import type { TestResult } from "../store/index.js";
import type { JobState } from "../store/schema.js";
import { LOCAL_POLICY, resolveLimits } from "./limits.js";
import { NetworkFailureSpotter, noNetworkHint } from "./no-network.js";
import type { RunnerDeps, RunRequest } from "./runner.js";
import type { Outcome } from "./scheduler.js";
import { isRestricted, type PlannedJob } from "./types.js";

/** What a job ended with, as the run records it. */
export interface JobRecord {
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

/** Runs `job` on the executor it resolves to; never throws: a failure is the record's error. */
export async function runJob(
  deps: RunnerDeps,
  req: RunRequest,
  job: PlannedJob,
  signal: AbortSignal,
  prepare: (executor: Executor) => Promise<PreparedRun>,
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
      const prepared = await prepare(executor);
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
        record.tests.push(...(await deps.parseReport(redactor.redact(report.content), file)));
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
