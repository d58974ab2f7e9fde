// The GitLab executor: a run's jobs on it as one pipeline of a private GitLab project. The first
// of them to start triggers the pipeline for all (or adopts the one an earlier attempt of the run
// triggered); each then waits for its own GitLab job's result. GitLab's own logs are never
// fetched: the job's log says how the pipeline went. The secrets live in GitLab's CI variables,
// released by the pipeline's `airlock verify-dispatch` step once it checked the signed dispatch.
// A job declaring `id_tokens` asks Airlock's job API for them while it runs (id-tokens.ts).
import { durationMs } from "../../config/schema.js";
import { loadOrCreateDispatchKey, signDispatch } from "../../dispatch/index.js";
import { idTokenUrl } from "../../jobapi/id-token.js";
import { type JobApi, jobApiBase } from "../../jobapi/job-api.js";
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
import { PipelineIdTokens } from "./id-tokens.js";
import {
  GitLabPipelines,
  type RestrictedRunRequest,
  type RestrictedRunResult,
} from "./pipeline.js";
import { messageOf } from "./pipeline-end.js";

export interface GitLabExecutorOptions {
  config: GitLabExecutorConfig;
  /** The data directory, whose dispatch key signs the pipeline's dispatch. */
  dataDir: string;
  name?: string;
  /** Airlock's job API: the pipeline's jobs that declare `id_tokens` get them from it. */
  jobApi?: JobApi;
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
    let idTokens: PipelineIdTokens | null = null;
    try {
      const tokens = gitlabTokensFromSecretEnv(grant.env);
      const key = loadOrCreateDispatchKey(this.o.dataDir);
      const client = new GitLabClient({
        baseUrl: c.url,
        project: c.project,
        apiToken: tokens.apiToken,
      });
      const wanting = run.jobs.filter((j) => Object.keys(j.idTokens ?? {}).length > 0);
      if (wanting.length > 0) {
        const api = this.o.jobApi;
        if (!api?.url) {
          throw new Error(
            `job ${wanting[0]!.id} declares id_tokens, which a GitLab pipeline's job asks Airlock's job API for, and this Airlock serves none: run it through \`airlock serve\` with AIRLOCK_PUBLIC_URL set to an address the GitLab runners reach`,
          );
        }
        idTokens = new PipelineIdTokens(api, client, {
          runIds: [run.runId, ...(run.earlierRunIds ?? [])],
          repo: run.repo,
          sha: run.sha,
        });
      }
      const pipelines = new GitLabPipelines({
        client,
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
          ...(idTokens ? { idTokenUrl: idTokenUrl(jobApiBase(this.o.jobApi!.url!)) } : {}),
          // A matched suite branch is the private project's branch of the same name.
          ...(suite?.matched ? { ref: suite.ref } : {}),
        },
        run.signal,
        run.createRedactor(grant.mask),
        this.name,
        idTokens,
      );
      const ending = idTokens;
      return {
        start: async (req) => attemptOf((r) => shared.run(r), req),
        close: async () => {
          ending?.close();
          await grant.release();
        },
      };
    } catch (e) {
      idTokens?.close();
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
    /** Opens the job API to the pipeline's jobs that declare `id_tokens`, while they run. */
    private readonly idTokens: PipelineIdTokens | null,
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
        onPipeline: (p) => this.idTokens?.pipelineIs(p.id),
        onUpdate: ({ pipeline }) => {
          if (pipeline.status !== lastStatus)
            say(`airlock: pipeline ${pipeline.id}: ${pipeline.status}`);
          lastStatus = pipeline.status;
        },
      });
    } else {
      say(`airlock: waiting for the ${this.name} pipeline`);
    }
    const detach = req.idTokens ? this.idTokens?.attach(req) : undefined;
    let result: RestrictedRunResult;
    try {
      result = await this.#result;
    } finally {
      detach?.();
    }
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
