// The GitLab executor: a run's jobs on it as one pipeline of a private GitLab project. The first
// of them to start triggers the pipeline for all (or adopts the one an earlier attempt of the run
// triggered); each then waits for its own GitLab job's result. GitLab's own logs are never
// fetched: the job's log says how the pipeline went. The secrets live in GitLab's CI variables,
// released by the pipeline's `airlock verify-dispatch` step once it checked the signed dispatch.
import { durationMs } from "../../config/schema.js";
import { loadOrCreateDispatchKey, signDispatch } from "../../dispatch/index.js";
import type { Redactor } from "../../redact/types.js";
import { attemptOf } from "../attempt.js";
import type {
  AbandonedWork,
  Executor,
  JobIO,
  JobRequest,
  JobResult,
  PreparedRun,
  RunContext,
  SweptWork,
} from "../types.js";
import { cancelAbandonedPipelines, PipelineCancelError } from "./abandoned.js";
import { GitLabClient } from "./client.js";
import { type GitLabExecutorConfig, gitlabTokensFromSecretEnv } from "./config.js";
import {
  GitLabPipelines,
  type RestrictedRunRequest,
  type RestrictedRunResult,
} from "./pipeline.js";

export interface GitLabExecutorOptions {
  config: GitLabExecutorConfig;
  /** The data directory, whose dispatch key signs the pipeline's dispatch. */
  dataDir: string;
  name?: string;
}

export class GitLabExecutor implements Executor {
  readonly name: string;
  readonly kind = "gitlab";
  readonly remoteSecrets = true;
  readonly fetchesSuite = true;

  constructor(private readonly o: GitLabExecutorOptions) {
    this.name = o.name ?? "gitlab";
  }

  async prepare(run: RunContext): Promise<PreparedRun> {
    const c = this.o.config;
    const fail = (e: unknown): never => {
      throw new Error(`cannot set up the GitLab pipeline: ${messageOf(e)}`);
    };
    const grant = await run
      .grantSet(c.secrets, {
        runId: run.runId,
        jobId: "gitlab-pipeline",
        timeoutMs: durationMs(c.timeout),
      })
      .catch(fail);
    try {
      const tokens = gitlabTokensFromSecretEnv(grant.env);
      const key = loadOrCreateDispatchKey(this.o.dataDir);
      const pipelines = new GitLabPipelines({
        client: new GitLabClient({ baseUrl: c.url, project: c.project, apiToken: tokens.apiToken }),
        triggerToken: tokens.triggerToken,
        ref: c.ref,
        sign: (claims) => signDispatch(claims, key.privateKey),
        timeoutMs: durationMs(c.timeout),
        dispatchTtlMs: durationMs(c.dispatch_ttl),
        poll: pollOf(c.poll_interval),
      });
      const suite = run.suite ?? null;
      const shared = new SharedPipeline(
        pipelines,
        {
          runId: run.runId,
          repo: run.repo,
          ...(run.repoUrl ? { repoUrl: run.repoUrl } : {}),
          branch: run.branch,
          sha: run.sha,
          approver: run.approver,
          tests: run.jobs.map((j) => j.id),
          labels: run.labels,
          ...(run.earlierRunIds?.length ? { earlierRunIds: run.earlierRunIds } : {}),
          ...(run.requestedAt !== undefined ? { requestedAt: run.requestedAt } : {}),
          suite: suite ? { ref: suite.ref, sha: suite.sha } : null,
          // A matched suite branch is the private project's branch of the same name.
          ...(suite?.matched ? { ref: suite.ref } : {}),
        },
        run.signal,
        run.createRedactor(grant.mask),
        this.name,
      );
      return {
        start: async (req) => attemptOf((r) => shared.run(r), req),
        close: () => grant.release(),
      };
    } catch (e) {
      await grant.release();
      return fail(e);
    }
  }

  /**
   * Cancels the pipelines the runs of `work` triggered that are still active. They are found as
   * the executor finds a run's pipeline: on the configured ref, or on the suite branch a run
   * matched, by AIRLOCK_RUN_ID.
   */
  async sweep(work: AbandonedWork): Promise<SweptWork[]> {
    const c = this.o.config;
    const refs = [c.ref];
    for (const n of work.notes) {
      const suite = (n as { suite?: { ref?: string; matched?: boolean } }).suite;
      if (suite?.matched && suite.ref) refs.push(suite.ref);
    }
    try {
      const found = await work.withSecretSet(c.secrets, (env) =>
        cancelAbandonedPipelines({
          client: new GitLabClient({
            baseUrl: c.url,
            project: c.project,
            apiToken: gitlabTokensFromSecretEnv(env).apiToken,
          }),
          refs,
          runIds: work.runIds,
          requestedAt: work.requestedAt,
        }),
      );
      return found.map((p) => ({
        id: String(p.id),
        url: p.webUrl,
        runId: p.runId,
        status: p.status,
        outcome: p.outcome === "cancelled" ? "stopped" : "ended",
      }));
    } catch (e) {
      throw new Error(
        e instanceof PipelineCancelError
          ? `${e.message}: cancel pipeline ${e.pipelineId} in GitLab (${c.project}), and check that GITLAB_API_TOKEN of the secret set ${c.secrets} may cancel pipelines`
          : `${messageOf(e)}: look in GitLab (${c.project}) for a running pipeline whose AIRLOCK_RUN_ID is one of ${work.runIds.join(", ")} and cancel it, and check that GITLAB_API_TOKEN of the secret set ${c.secrets} can read pipelines and their variables`,
      );
    }
  }
}

/** The run's one pipeline, triggered by the first job that starts and awaited by every job. */
class SharedPipeline {
  #result: Promise<RestrictedRunResult> | null = null;

  constructor(
    private readonly pipelines: GitLabPipelines,
    private readonly request: Omit<RestrictedRunRequest, "signal" | "onUpdate">,
    /** Cancelling the run cancels the pipeline; one job's own cancel does not. */
    private readonly runSignal: AbortSignal,
    /** Masks the executor's own tokens in what it writes to job logs. */
    private readonly redactor: Redactor,
    private readonly name: string,
  ) {}

  async run(req: JobRequest & JobIO): Promise<JobResult> {
    if (!this.request.tests.includes(req.job.id)) {
      return {
        status: "error",
        exitCode: null,
        durationMs: 0,
        reports: [],
        error: `job ${req.job.id} is not part of the ${this.name} pipeline's selection`,
      };
    }
    const say = (line: string) => req.output.write(`${this.redactor.redact(line)}\n`);
    if (!this.#result) {
      say(
        `airlock: triggering the ${this.name} pipeline for ${this.request.tests.length} restricted job(s)`,
      );
      let lastStatus = "";
      this.#result = this.pipelines.runRestricted({
        ...this.request,
        signal: this.runSignal,
        onUpdate: ({ pipeline }) => {
          if (pipeline.status !== lastStatus)
            say(`airlock: pipeline ${pipeline.id}: ${pipeline.status}`);
          lastStatus = pipeline.status;
        },
      });
    } else {
      say(`airlock: waiting for the ${this.name} pipeline`);
    }
    const result = await this.#result;
    const mine = result.jobs[req.job.id];
    if (result.pipeline) say(`airlock: pipeline ${result.pipeline.id} ${result.pipeline.status}`);
    const job: JobResult = mine ?? {
      status: result.status === "passed" ? "error" : result.status,
      exitCode: null,
      durationMs: result.durationMs,
      reports: [],
      error: result.error ?? `the pipeline reported nothing for ${req.job.id}`,
    };
    return job.error ? { ...job, error: this.redactor.redact(job.error) } : job;
  }
}

/** The first poll interval, growing while nothing changes up to a minute (or to itself, if longer). */
function pollOf(interval: string): { initialMs: number; maxMs: number } {
  const initialMs = durationMs(interval);
  return { initialMs, maxMs: Math.max(60_000, initialMs) };
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
