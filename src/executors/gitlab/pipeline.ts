// Follows the restricted part of a run as one GitLab pipeline: trigger it with the selection and
// a signed dispatch token, follow it with backoff until a final status, cancel it when the run
// is cancelled, superseded or times out (but not when Airlock shuts down: the pipeline runs on,
// and the run's next attempt adopts it), and turn each GitLab job into an Airlock job result.
import type { DispatchClaims } from "../../dispatch/index.js";
import { isShutdown } from "../abort.js";
import { abortableSleep } from "../sleep.js";
import type { JobResult, JobStatus } from "../types.js";
import {
  type GitLabClient,
  type GitLabPipeline,
  GitLabUnavailableError,
  GitLabUncertainError,
} from "./client.js";
import { CLOCK_SKEW_MS, triggeredPipelines } from "./lookup.js";
import { detachedResult, finishedResult, messageOf, stoppedResult } from "./pipeline-end.js";
import { jobOutcome, mapToSelectedJobs, type PipelineJobResult, pipelinePhase } from "./status.js";
import { GITLAB_VARIABLES as V } from "./variables.js";

const LOOKUP_HINT =
  "The API token must be able to read the project's pipelines and their variables (see the GitLab guide); then run the tests again";

/** A selection with nothing in it never triggers a pipeline. */
export class EmptySelectionError extends Error {
  constructor(readonly labels: string[]) {
    super(
      labels.length > 0
        ? `the labels ${labels.join(", ")} select no restricted test, so no GitLab pipeline was triggered: add a test label (for example test-all) or remove them to run every test`
        : "no restricted test is selected, so no GitLab pipeline was triggered",
    );
  }
}

export interface RestrictedRunRequest {
  runId: string;
  /** Source repository, "owner/name". */
  repo: string;
  /** Clone URL of the source repository (sent as AIRLOCK_SOURCE_URL). */
  repoUrl?: string;
  branch: string | null;
  /** The exact head commit the run's authorization covers. */
  sha: string;
  /** Who authorized this commit (trusted author or approving member). */
  approver: string;
  /** Selected restricted job ids; GitLab jobs of the same names report back to them. */
  tests: string[];
  /** The labels that made the selection, named when it is empty. */
  labels: string[];
  /** The companion suite's resolution, when there is one. */
  suite?: { ref: string; sha: string } | null;
  /** The ref the pipeline runs on; defaults to the executor's configured ref. */
  ref?: string;
  /**
   * Runs that were earlier attempts of this one (taken up again after a restart). A pipeline one
   * of them triggered for the same commit and tests is adopted instead of triggering another.
   */
  earlierRunIds?: string[];
  /** When the run (its first attempt) was requested: no older pipeline can be one of its own. */
  requestedAt?: number;
  /**
   * Abort to cancel the pipeline (run cancelled or superseded by a newer push). Aborted with a
   * ShutdownAbort, the pipeline is left running instead: Airlock only stops following it.
   */
  signal: AbortSignal;
  /** Called once the run's pipeline is known (triggered, or an earlier attempt's adopted). */
  onPipeline?: (pipeline: GitLabPipeline) => void;
  /** Where the pipeline's jobs ask for fresh ID tokens (sent as AIRLOCK_ID_TOKEN_REQUEST_URL). */
  idTokenUrl?: string;
  /** Called whenever a poll saw a change: pipeline status and the jobs so far. */
  onUpdate?: (update: { pipeline: GitLabPipeline; jobs: PipelineJobResult[] }) => void;
}

export interface RestrictedRunResult {
  /** Null when no pipeline was created (the trigger was refused or never sent). */
  pipeline: { id: number; webUrl: string; status: string } | null;
  /** The overall outcome of the restricted part. */
  status: JobStatus;
  /** One result per selected test, keyed by job id. */
  jobs: Record<string, JobResult>;
  /** Every GitLab job, including helpers such as the verify-dispatch job. */
  gitlabJobs: PipelineJobResult[];
  /** Built by Airlock, never from job output; still passes the redactor like any executor error. */
  error?: string;
  /** Airlock shut down while the pipeline ran: it was left running, not cancelled. */
  detached?: boolean;
  durationMs: number;
}

export interface GitLabPipelinesOptions {
  client: GitLabClient;
  /** The pipeline trigger token (a secret). */
  triggerToken: string;
  /** Default ref of the private pipeline. */
  ref: string;
  /** Signs a dispatch token, e.g. (c) => signDispatch(c, key.privateKey). */
  sign: (claims: DispatchClaims) => string;
  /** How long a dispatch token stays valid (it must outlive the pipeline's queueing). */
  dispatchTtlMs?: number;
  /** Longest the pipeline may take before Airlock cancels it. */
  timeoutMs?: number;
  poll?: { initialMs?: number; maxMs?: number; factor?: number };
  /** Triggers in all when answers are lost and no pipeline of the run turns up. */
  triggerAttempts?: number;
  /** Wait after a lost answer before looking for the pipeline, so that GitLab can finish it. */
  lookupDelayMs?: number;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** One GitLab pipeline per run, for the GitLab executor (executor.ts) to share among its jobs. */
export class GitLabPipelines {
  readonly #o: Required<Omit<GitLabPipelinesOptions, "poll">> & {
    poll: { initialMs: number; maxMs: number; factor: number };
  };

  constructor(opts: GitLabPipelinesOptions) {
    this.#o = {
      dispatchTtlMs: 6 * 3600_000,
      timeoutMs: 3 * 3600_000,
      triggerAttempts: 3,
      lookupDelayMs: 2_000,
      now: Date.now,
      sleep: abortableSleep,
      ...opts,
      poll: { initialMs: 5_000, maxMs: 60_000, factor: 1.5, ...opts.poll },
    };
  }

  /** The variables a pipeline is triggered with (exported for the docs and tests). */
  variables(req: RestrictedRunRequest, dispatch: string): Record<string, string> {
    return {
      [V.tests]: req.tests.join(","),
      [V.testsJson]: JSON.stringify(req.tests),
      [V.repo]: req.repo,
      ...(req.repoUrl ? { [V.repoUrl]: req.repoUrl } : {}),
      ...(req.branch !== null ? { [V.branch]: req.branch } : {}),
      [V.sha]: req.sha,
      ...(req.suite ? { [V.suiteRef]: req.suite.ref, [V.suiteSha]: req.suite.sha } : {}),
      [V.runId]: req.runId,
      [V.dispatch]: dispatch,
      ...(req.idTokenUrl ? { [V.idTokenUrl]: req.idTokenUrl } : {}),
    };
  }

  async runRestricted(req: RestrictedRunRequest): Promise<RestrictedRunResult> {
    if (req.tests.length === 0) throw new EmptySelectionError(req.labels);
    const bad = req.tests.find((t) => t === "" || t.includes(","));
    if (bad !== undefined)
      throw new Error(
        `test name ${JSON.stringify(bad)} cannot be sent: it is empty or has a comma`,
      );
    const o = this.#o;
    const started = o.now();
    const done = (r: Omit<RestrictedRunResult, "durationMs">): RestrictedRunResult => ({
      ...r,
      durationMs: o.now() - started,
    });
    const allAs = (status: JobStatus, error: string) =>
      mapToSelectedJobs(req.tests, [], { status, error });

    if (req.signal.aborted) {
      return done({
        pipeline: null,
        status: "cancelled",
        jobs: allAs("cancelled", "cancelled before the pipeline was triggered"),
        gitlabJobs: [],
        error: "cancelled before the pipeline was triggered",
      });
    }
    const ref = req.ref ?? o.ref;
    const dispatch = o.sign({
      runId: req.runId,
      repo: req.repo,
      sha: req.sha,
      tests: req.tests,
      approver: req.approver,
      issuedAt: started,
      expiresAt: started + o.dispatchTtlMs,
      ref,
      ...(req.suite ? { suiteRef: req.suite.ref } : {}),
    });

    let pipeline: GitLabPipeline;
    try {
      pipeline = await this.#start(req, ref, this.variables(req, dispatch), started);
      req.onPipeline?.(pipeline);
    } catch (e) {
      const error = `could not trigger the GitLab pipeline: ${messageOf(e)}`;
      const status: JobStatus = req.signal.aborted ? "cancelled" : "error";
      return done({ pipeline: null, status, jobs: allAs(status, error), gitlabJobs: [], error });
    }

    const deadline = started + o.timeoutMs;
    let delay = o.poll.initialMs;
    let lastSeen = "";
    for (;;) {
      if (req.signal.aborted) {
        if (isShutdown(req.signal)) return done(detachedResult(req, pipeline));
        return done(
          await stoppedResult(
            o.client,
            req,
            pipeline,
            "cancelled",
            `cancelled: GitLab pipeline ${pipeline.id} was cancelled${reasonOf(req.signal)}`,
          ),
        );
      }
      if (o.now() >= deadline) {
        return done(
          await stoppedResult(
            o.client,
            req,
            pipeline,
            "timed_out",
            `GitLab pipeline ${pipeline.id} took longer than ${Math.round(o.timeoutMs / 60_000)} min and was cancelled`,
          ),
        );
      }
      try {
        pipeline = await o.client.getPipeline(pipeline.id, req.signal);
      } catch (e) {
        if (req.signal.aborted) continue; // handled at the top of the loop
        return done(
          await stoppedResult(
            o.client,
            req,
            pipeline,
            "error",
            `lost track of GitLab pipeline ${pipeline.id}: ${messageOf(e)}`,
          ),
        );
      }
      const phase = pipelinePhase(pipeline.status);
      if (phase === "unknown") {
        return done(
          await stoppedResult(
            o.client,
            req,
            pipeline,
            "error",
            `GitLab reported pipeline ${pipeline.id} in unknown status ${JSON.stringify(pipeline.status)}: Airlock stopped following it and cancelled it`,
          ),
        );
      }
      if (phase === "final") return done(await finishedResult(o.client, req, pipeline));
      if (pipeline.status !== lastSeen) {
        lastSeen = pipeline.status;
        delay = o.poll.initialMs; // something moved: look again soon
        if (req.onUpdate) {
          const jobs = await o.client.listPipelineJobs(pipeline.id, req.signal).catch(() => null);
          if (jobs)
            req.onUpdate({ pipeline, jobs: jobs.map((j) => jobOutcome(j, pipeline.status)) });
        }
      }
      await o.sleep(Math.min(delay, Math.max(0, deadline - o.now())), req.signal);
      delay = Math.min(o.poll.maxMs, delay * o.poll.factor);
    }
  }

  /**
   * Starts the run's pipeline at most once. GitLab's trigger has no idempotency key, so where a
   * pipeline may exist already (an earlier attempt of the run, or a trigger whose answer was
   * lost) it is looked up by its variables and adopted rather than triggered a second time. The
   * run's abort is not passed on: an answer dropped mid-way would leave a pipeline nobody cancels,
   * while a pipeline that is returned is cancelled by the caller.
   */
  async #start(
    req: RestrictedRunRequest,
    ref: string,
    variables: Record<string, string>,
    started: number,
  ): Promise<GitLabPipeline> {
    const o = this.#o;
    const since = (req.requestedAt ?? started) - CLOCK_SKEW_MS;
    const runIds = [req.runId, ...(req.earlierRunIds ?? [])];
    if (req.earlierRunIds?.length) {
      const earlier = await this.#findStarted(req, ref, since, runIds).catch((e: unknown) => {
        throw new Error(
          `could not check whether an earlier attempt of this run started a GitLab pipeline (${messageOf(e)}), so none was triggered: a second one would run with the secrets again. ${LOOKUP_HINT}`,
        );
      });
      if (earlier) return earlier;
    }
    for (let attempt = 1; ; attempt++) {
      let lost: GitLabUncertainError;
      try {
        return await o.client.triggerPipeline(o.triggerToken, ref, variables);
      } catch (e) {
        if (!(e instanceof GitLabUncertainError)) throw e;
        lost = e;
      }
      await o.sleep(o.lookupDelayMs);
      let found: GitLabPipeline | null;
      try {
        found = await this.#findStarted(req, ref, since, runIds);
      } catch (e) {
        throw new Error(
          `the answer to the trigger was lost (${lost.message}) and Airlock could not check whether GitLab started the pipeline anyway (${messageOf(e)}), so it did not trigger again: a second pipeline would run with the secrets twice. ${LOOKUP_HINT}`,
        );
      }
      if (found) return found;
      if (attempt >= o.triggerAttempts) {
        throw new GitLabUnavailableError(
          `${lost.message}; GitLab started no pipeline for this run in ${attempt} attempts`,
        );
      }
    }
  }

  /** The newest triggered pipeline on `ref` whose variables name one of `runIds`, this commit and these tests. */
  async #findStarted(
    req: RestrictedRunRequest,
    ref: string,
    since: number,
    runIds: string[],
  ): Promise<GitLabPipeline | null> {
    // A pipeline Airlock cancelled (the earlier attempt's shutdown) is no result to adopt.
    const stopped = (p: GitLabPipeline) => p.status === "canceled" || p.status === "canceling";
    for await (const { pipeline, variables: v } of triggeredPipelines(
      this.#o.client,
      ref,
      since,
      stopped,
    )) {
      if (
        runIds.includes(v[V.runId] ?? "") &&
        v[V.sha] === req.sha &&
        v[V.tests] === req.tests.join(",")
      ) {
        return pipeline;
      }
    }
    return null;
  }
}

function reasonOf(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  return typeof r === "string" && r !== "" ? ` (${r})` : "";
}
