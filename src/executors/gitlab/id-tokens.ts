// ID tokens for the jobs of a GitLab pipeline. Airlock sends a pipeline no credential (GitLab
// stores its variables in clear), so a job that declares `id_tokens` asks Airlock's job API for
// them while it runs, showing the run's dispatch token (AIRLOCK_DISPATCH) as its Bearer token and
// its own CI_JOB_TOKEN in the JOB-TOKEN header:
//
//   curl -fsS -H "Authorization: Bearer $AIRLOCK_DISPATCH" -H "JOB-TOKEN: $CI_JOB_TOKEN" \
//     "$AIRLOCK_ID_TOKEN_REQUEST_URL?audience=sts.amazonaws.com"
//
// Airlock asks GitLab whose job token that is (GET /job) and answers only a job that is running
// now, in the pipeline Airlock triggered for this run, under the name of an Airlock job that
// declares `id_tokens` and is waiting for it. A job token lives only while its job runs, so
// neither a copy of the variables nor a finished job's token is worth anything.
import type { JobApi } from "../../jobapi/job-api.js";
import {
  DENIED,
  type ForeignRunHandle,
  type JobApiAttempt,
  JobApiDenied,
} from "../../jobapi/types.js";
import type { JobIO, JobRequest } from "../types.js";
import { GitLabApiError, type GitLabClient } from "./client.js";

const MAX_JOB_TOKEN = 4096;

export class PipelineIdTokens {
  #pipelineId: number | null = null;
  readonly #handle: ForeignRunHandle;

  constructor(
    api: JobApi,
    private readonly client: GitLabClient,
    private readonly run: { runIds: string[]; repo: string; sha: string },
  ) {
    this.#handle = api.foreign(run.runIds, { prove: (headers) => this.#prove(headers) });
  }

  /** The run's pipeline, once triggered or adopted: only its jobs are answered. */
  pipelineIs(id: number): void {
    this.#pipelineId = id;
  }

  /** Opens the job API to the GitLab job named like `req`'s job; the result closes it again. */
  attach(req: JobRequest & JobIO): () => void {
    const attempt: JobApiAttempt = {
      runId: req.runId,
      jobId: req.job.id,
      repo: this.run.repo,
      sha: this.run.sha,
      // Only the ID-token endpoints answer a pipeline's job: nothing else is served to it.
      source: () => Promise.reject(new JobApiDenied(403, DENIED)),
      reports: [],
      ...(req.idTokens ? { idTokens: req.idTokens } : {}),
      note: (text) => req.output.write(`airlock: ${text}\n`),
    };
    return this.#handle.attach(req.job.id, attempt);
  }

  close(): void {
    this.#handle.close();
  }

  /** The name of the running job of this run's pipeline that the request's JOB-TOKEN belongs to. */
  async #prove(headers: Record<string, string | string[] | undefined>): Promise<string> {
    const raw = headers["job-token"];
    const token = typeof raw === "string" ? raw.trim() : "";
    if (token === "" || token.length > MAX_JOB_TOKEN || this.#pipelineId === null) {
      throw new JobApiDenied(403, DENIED);
    }
    let job: Awaited<ReturnType<GitLabClient["jobOfToken"]>>;
    try {
      job = await this.client.jobOfToken(token);
    } catch (e) {
      if (e instanceof GitLabApiError && e.status >= 400) throw new JobApiDenied(403, DENIED);
      throw new JobApiDenied(503, "GitLab could not confirm the job's token: ask again shortly");
    }
    if (job.pipelineId !== this.#pipelineId || job.status !== "running") {
      throw new JobApiDenied(403, DENIED);
    }
    return job.name;
  }
}
