// A small typed client for the GitLab endpoints the pipeline executor uses: trigger, get
// pipeline, list pipeline jobs, cancel pipeline, and (to find a pipeline whose trigger answer was
// lost) list pipelines and a pipeline's variables. Transient failures (network, 5xx, 429) are
// retried with bounded backoff, except where a retry could trigger a second pipeline. Job logs
// (traces) are never requested.
import { abortableSleep } from "../sleep.js";

export interface RetryPolicy {
  /** Attempts in total, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface GitLabClientOptions {
  /** The GitLab instance, e.g. https://gitlab.example.com (the API is under /api/v4). */
  baseUrl: string;
  /** Numeric project id or its full path ("group/subgroup/project"). */
  project: string | number;
  /** Token with read_api on the project (PRIVATE-TOKEN), for polling and cancelling. */
  apiToken: string;
  retry?: Partial<RetryPolicy>;
  requestTimeoutMs?: number;
  /** Waits between retries; resolves early when `signal` aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface GitLabPipeline {
  id: number;
  status: string;
  ref: string;
  sha: string;
  webUrl: string;
}

export interface GitLabJob {
  id: number;
  name: string;
  stage: string;
  status: string;
  allowFailure: boolean;
  /** Seconds, as GitLab reports it (null until the job ran). */
  duration: number | null;
  failureReason: string | null;
  webUrl: string;
}

/** The job a CI job token belongs to (GET /job). */
export interface GitLabTokenJob {
  id: number;
  name: string;
  status: string;
  pipelineId: number;
  projectId: number | null;
}

/** GitLab answered, and the answer is final (4xx other than 429, or malformed). */
export class GitLabApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** GitLab could not be reached, or kept failing, after every retry. */
export class GitLabUnavailableError extends Error {}

/**
 * A request that is not safe to repeat was sent, but its answer was lost (connection reset,
 * timeout, 5xx from GitLab or a proxy): GitLab may or may not have acted on it.
 */
export class GitLabUncertainError extends Error {}

/**
 * Filters of GET /projects/:id/pipelines. No `sha`: a triggered pipeline's sha is the private
 * project's commit of `ref`, not the commit Airlock tests (that one is a variable).
 */
export interface PipelineQuery {
  ref: string;
  /** Only pipelines started this way ("trigger" for the trigger API). */
  source: string;
  /** Only pipelines updated after this time (a pipeline is updated when it is created). */
  updatedAfter: Date;
}

const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 500, maxDelayMs: 15_000 };
const MAX_JOB_PAGES = 50;
/** Network failures that mean the request never reached GitLab, so repeating it is safe. */
const NOT_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"]);

/** The project as one URL path segment: "group/project" becomes "group%2Fproject". */
export function projectSegment(project: string | number): string {
  const s = String(project);
  if (s === "" || s === "." || s === "..") {
    throw new Error(`GitLab project ${JSON.stringify(s)} is not a project id or path`);
  }
  return encodeURIComponent(s);
}

export class GitLabClient {
  readonly #api: string;
  readonly #project: string;
  readonly #apiToken: string;
  readonly #retry: RetryPolicy;
  readonly #timeoutMs: number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(opts: GitLabClientOptions) {
    const base = new URL(opts.baseUrl);
    if (base.protocol !== "https:" && base.protocol !== "http:") {
      throw new Error("the GitLab URL must start with https://");
    }
    this.#api = `${base.origin}${base.pathname.replace(/\/+$/, "")}/api/v4`;
    this.#project = projectSegment(opts.project);
    this.#apiToken = opts.apiToken;
    this.#retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.#timeoutMs = opts.requestTimeoutMs ?? 30_000;
    this.#sleep = opts.sleep ?? abortableSleep;
  }

  /**
   * POST /projects/:id/trigger/pipeline; the trigger token goes in the body, never the URL.
   * The trigger has no idempotency key, so it is repeated only when GitLab surely did not act
   * on it (429, or a connection that was never made); a lost answer throws GitLabUncertainError.
   */
  async triggerPipeline(
    triggerToken: string,
    ref: string,
    variables: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<GitLabPipeline> {
    const body = JSON.stringify({ token: triggerToken, ref, variables });
    const res = await this.#request("POST", "trigger/pipeline", {
      body,
      signal,
      auth: false,
      repeatable: false,
    });
    try {
      return parsePipeline(res);
    } catch (e) {
      // A 2xx means GitLab created something: an unreadable answer leaves it unknown what.
      throw new GitLabUncertainError(`POST trigger/pipeline: ${(e as Error).message}`);
    }
  }

  /** GET /projects/:id/pipelines filtered by ref, source and update time, newest first. */
  async listPipelines(q: PipelineQuery, signal?: AbortSignal): Promise<GitLabPipeline[]> {
    const query = new URLSearchParams({
      ref: q.ref,
      source: q.source,
      updated_after: q.updatedAfter.toISOString(),
      order_by: "id",
      sort: "desc",
      per_page: "100",
    });
    const res = await this.#request("GET", "pipelines", { signal, query });
    if (!Array.isArray(res.json)) throw malformed("the pipeline list is not an array");
    return res.json.map((p) => parsePipeline({ json: p }));
  }

  /** GET /projects/:id/pipelines/:pipeline_id/variables, as key → value. */
  async pipelineVariables(id: number, signal?: AbortSignal): Promise<Record<string, string>> {
    const res = await this.#request("GET", `pipelines/${pipelineId(id)}/variables`, { signal });
    if (!Array.isArray(res.json)) throw malformed("the variable list is not an array");
    const out: Record<string, string> = {};
    for (const v of res.json as { key?: unknown; value?: unknown }[]) {
      if (typeof v?.key !== "string" || typeof v.value !== "string") {
        throw malformed("a pipeline variable lacks key or value");
      }
      out[v.key] = v.value;
    }
    return out;
  }

  async getPipeline(id: number, signal?: AbortSignal): Promise<GitLabPipeline> {
    return parsePipeline(await this.#request("GET", `pipelines/${pipelineId(id)}`, { signal }));
  }

  /** Every job of the pipeline (latest attempt of each), across pages. */
  async listPipelineJobs(id: number, signal?: AbortSignal): Promise<GitLabJob[]> {
    const jobs: GitLabJob[] = [];
    let page = "1";
    for (let i = 0; i < MAX_JOB_PAGES && page !== ""; i++) {
      const query = new URLSearchParams({ per_page: "100", page });
      const res = await this.#request("GET", `pipelines/${pipelineId(id)}/jobs`, {
        signal,
        query,
      });
      if (!Array.isArray(res.json)) throw malformed("the job list is not an array");
      for (const j of res.json) jobs.push(parseJob(j));
      page = (res.headers.get("x-next-page") ?? "").trim();
      if (!/^\d*$/.test(page)) throw malformed("x-next-page is not a page number");
    }
    return jobs;
  }

  async cancelPipeline(id: number, signal?: AbortSignal): Promise<GitLabPipeline> {
    return parsePipeline(
      await this.#request("POST", `pipelines/${pipelineId(id)}/cancel`, { signal }),
    );
  }

  /**
   * GET /job with a CI job token (JOB-TOKEN): the job that token belongs to, as GitLab knows it.
   * How a caller proves it is a given job of a given pipeline, running now; no API token is sent.
   */
  async jobOfToken(jobToken: string, signal?: AbortSignal): Promise<GitLabTokenJob> {
    // Not retried: a job waits on the answer, and asks again itself.
    const res = await this.#request("GET", "job", { signal, jobToken, repeatable: false });
    const j = parseJob(res.json);
    const p = (res.json as { pipeline?: { id?: unknown; project_id?: unknown } }).pipeline;
    if (!p || typeof p.id !== "number" || !Number.isSafeInteger(p.id)) {
      throw malformed("the job names no pipeline");
    }
    return {
      id: j.id,
      name: j.name,
      status: j.status,
      pipelineId: p.id,
      projectId: typeof p.project_id === "number" ? p.project_id : null,
    };
  }

  async #request(
    method: "GET" | "POST",
    path: string,
    opts: {
      body?: string;
      signal?: AbortSignal | undefined;
      query?: URLSearchParams;
      auth?: boolean;
      /** A CI job token: sent as JOB-TOKEN in place of the API token, for a path below /api/v4. */
      jobToken?: string;
      /** False: retried only when GitLab surely did not act on it. */
      repeatable?: boolean;
    },
  ): Promise<{ json: unknown; headers: Headers }> {
    const below = opts.jobToken === undefined ? `projects/${this.#project}/` : "";
    const url = `${this.#api}/${below}${path}${opts.query ? `?${opts.query}` : ""}`;
    const headers: Record<string, string> = { accept: "application/json" };
    if (opts.jobToken !== undefined) headers["JOB-TOKEN"] = opts.jobToken;
    else if (opts.auth !== false) headers["PRIVATE-TOKEN"] = this.#apiToken;
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    const what = `${method} ${path.replace(/\d+/g, ":id")}`;
    let lastProblem = "";
    for (let attempt = 1; ; attempt++) {
      if (opts.signal?.aborted) throw new GitLabUnavailableError(`${what}: cancelled`);
      let retryAfterMs: number | null = null;
      try {
        const timeout = AbortSignal.timeout(this.#timeoutMs);
        const res = await fetch(url, {
          method,
          headers,
          ...(opts.body !== undefined ? { body: opts.body } : {}),
          signal: opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout,
          redirect: "error", // a redirect could carry PRIVATE-TOKEN to another host
        });
        const text = await res.text();
        if (res.status >= 200 && res.status < 300) {
          try {
            return { json: JSON.parse(text), headers: res.headers };
          } catch {
            const why = `${what} answered with something that is not JSON`;
            throw opts.repeatable === false ? new GitLabUncertainError(why) : malformed(why);
          }
        }
        if (res.status >= 500 && opts.repeatable === false) {
          throw new GitLabUncertainError(`${what} answered HTTP ${res.status}`);
        }
        if (res.status >= 500 || res.status === 429) {
          lastProblem = `HTTP ${res.status}`;
          // Number(null) is 0: without the header, the backoff applies.
          const ra = Number(res.headers.get("retry-after") ?? Number.NaN);
          if (Number.isFinite(ra) && ra >= 0) retryAfterMs = ra * 1000;
        } else {
          throw new GitLabApiError(
            `GitLab refused ${what} (HTTP ${res.status}${describe(text)})${opts.jobToken === undefined ? hint(res.status, opts.auth !== false) : ""}`,
            res.status,
          );
        }
      } catch (e) {
        if (e instanceof GitLabApiError || e instanceof GitLabUncertainError) throw e;
        if (opts.signal?.aborted) throw new GitLabUnavailableError(`${what}: cancelled`);
        lastProblem = networkProblem(e);
        if (opts.repeatable === false && !NOT_SENT.has(lastProblem)) {
          throw new GitLabUncertainError(`${what}: the answer was lost (${lastProblem})`);
        }
      }
      if (attempt >= this.#retry.attempts) {
        throw new GitLabUnavailableError(
          `GitLab did not answer ${what} after ${attempt} attempts (last: ${lastProblem})`,
        );
      }
      const backoff = Math.min(
        this.#retry.maxDelayMs,
        this.#retry.baseDelayMs * 2 ** (attempt - 1) * (0.75 + Math.random() / 2),
      );
      await this.#sleep(
        retryAfterMs === null ? backoff : Math.min(this.#retry.maxDelayMs, retryAfterMs),
        opts.signal,
      );
    }
  }
}

function pipelineId(id: number): string {
  if (!Number.isSafeInteger(id) || id <= 0) throw new Error(`pipeline id ${id} is not valid`);
  return String(id);
}

function malformed(why: string): GitLabApiError {
  return new GitLabApiError(`GitLab's answer is malformed: ${why}`, 0);
}

/** GitLab's own message ("404 Project Not Found", "ref is missing"), shortened. */
function describe(text: string): string {
  try {
    const j = JSON.parse(text) as { message?: unknown; error?: unknown };
    const m = j.message ?? j.error;
    if (m === undefined) return "";
    const s = (typeof m === "string" ? m : JSON.stringify(m)).replace(/\s+/g, " ");
    return `: ${s.slice(0, 200)}`;
  } catch {
    return "";
  }
}

function hint(status: number, apiAuth: boolean): string {
  if (status === 401 || status === 403) {
    return apiAuth ? "; check the API token (read_api, and Developer role to cancel)" : "";
  }
  if (status === 404) {
    return apiAuth
      ? "; check the project id or path"
      : "; check the project and the trigger token (GitLab answers 404 for a wrong token)";
  }
  return "";
}

function networkProblem(e: unknown): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === "TimeoutError") return "request timed out";
  if (err?.cause?.code) return err.cause.code;
  return err?.cause?.message ?? err?.message ?? String(e);
}

function parsePipeline(res: { json: unknown }): GitLabPipeline {
  const p = res.json as Record<string, unknown> | null;
  if (!p || typeof p !== "object") throw malformed("the pipeline is not an object");
  if (typeof p.id !== "number" || !Number.isSafeInteger(p.id)) throw malformed("pipeline id");
  if (typeof p.status !== "string") throw malformed("pipeline status");
  return {
    id: p.id,
    status: p.status,
    ref: typeof p.ref === "string" ? p.ref : "",
    sha: typeof p.sha === "string" ? p.sha : "",
    webUrl: typeof p.web_url === "string" ? p.web_url : "",
  };
}

function parseJob(raw: unknown): GitLabJob {
  const j = raw as Record<string, unknown> | null;
  if (!j || typeof j !== "object") throw malformed("a job is not an object");
  if (typeof j.id !== "number" || typeof j.name !== "string" || typeof j.status !== "string") {
    throw malformed("a job lacks id, name or status");
  }
  return {
    id: j.id,
    name: j.name,
    stage: typeof j.stage === "string" ? j.stage : "",
    status: j.status,
    allowFailure: j.allow_failure === true,
    duration: typeof j.duration === "number" ? j.duration : null,
    failureReason: typeof j.failure_reason === "string" ? j.failure_reason : null,
    webUrl: typeof j.web_url === "string" ? j.web_url : "",
  };
}
