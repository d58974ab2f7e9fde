// Builds the GitLab pipeline executor of a run from `.airlock.yml`'s `executor.gitlab` and its
// secret set, as a per-job Executor for the run's restricted jobs.
import { durationMs } from "../../config/schema.js";
import { loadOrCreateDispatchKey, signDispatch } from "../../dispatch/index.js";
import type { Redactor, RegisteredSecret } from "../../redact/types.js";
import type { GrantContext, SecretGrant } from "../../secrets/types.js";
import { type BatchRequest, PipelineBatchExecutor } from "./batch.js";
import { GitLabClient } from "./client.js";
import { type GitLabExecutorConfig, gitlabTokensFromSecretEnv } from "./config.js";
import { GitLabPipelineExecutor } from "./executor.js";

export interface GitLabRunSetup {
  config: GitLabExecutorConfig;
  dataDir: string;
  grantSet(set: string, ctx: GrantContext): Promise<SecretGrant>;
  createRedactor(values: RegisteredSecret[]): Redactor;
  request: BatchRequest;
  signal: AbortSignal;
}

export interface GitLabRun {
  executor: PipelineBatchExecutor;
  /** Releases the token grant. */
  release(): Promise<void>;
}

export async function setUpGitLabRun(s: GitLabRunSetup): Promise<GitLabRun> {
  const grant = await s.grantSet(s.config.secrets, {
    runId: s.request.runId,
    jobId: "gitlab-pipeline",
    timeoutMs: durationMs(s.config.timeout),
  });
  try {
    const tokens = gitlabTokensFromSecretEnv(grant.env);
    const key = loadOrCreateDispatchKey(s.dataDir);
    const pipeline = new GitLabPipelineExecutor({
      client: new GitLabClient({
        baseUrl: s.config.url,
        project: s.config.project,
        apiToken: tokens.apiToken,
      }),
      triggerToken: tokens.triggerToken,
      ref: s.config.ref,
      sign: (claims) => signDispatch(claims, key.privateKey),
      timeoutMs: durationMs(s.config.timeout),
      dispatchTtlMs: durationMs(s.config.dispatch_ttl),
      poll: pollOf(s.config.poll_interval),
    });
    const redactor = s.createRedactor(grant.mask);
    return {
      executor: new PipelineBatchExecutor(pipeline, s.request, s.signal, redactor),
      release: () => grant.release(),
    };
  } catch (e) {
    await grant.release();
    throw e;
  }
}

/** The first poll interval, growing while nothing changes up to a minute (or to itself, if longer). */
function pollOf(interval: string): { initialMs: number; maxMs: number } {
  const initialMs = durationMs(interval);
  return { initialMs, maxMs: Math.max(60_000, initialMs) };
}
