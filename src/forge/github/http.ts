// The one place that sends requests to the GitHub API. A small fetch client rather than
// @octokit/rest: writes are retried by the durable outbox (which must see the status and the
// rate-limit headers of each attempt, and must not have a plugin silently retry a non-idempotent
// create in memory), paths are built only by path.ts, and the base URL is all Enterprise needs.
import { GitHubError, rateLimitOf } from "./errors.js";

export interface HttpOptions {
  /** "https://api.github.com", or "https://github.example.com/api/v3" for Enterprise Server. */
  baseUrl?: string;
  fetch?: typeof fetch;
  userAgent?: string;
  /** Per-request timeout. */
  timeoutMs?: number;
  now?: () => number;
}

export interface Response<T> {
  status: number;
  data: T;
  headers: Headers;
}

export interface RequestInit {
  /** The credential: "Bearer <jwt>" or "token <installation token>". Never logged. */
  authorization?: string;
  body?: unknown;
  /** GET only: how many times to try again after a network failure or a 5xx. */
  retries?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long a request waits for its answer, by default. */
export const REQUEST_TIMEOUT_MS = 30_000;

export class GitHubHttp {
  readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly userAgent: string;
  private readonly timeoutMs: number;
  readonly now: () => number;

  constructor(opts: HttpOptions = {}) {
    this.baseUrl = (opts.baseUrl ?? "https://api.github.com").replace(/\/+$/, "");
    if (!/^https?:\/\//.test(this.baseUrl)) {
      throw new Error(`the GitHub API base URL must start with https:// (got ${this.baseUrl})`);
    }
    this.fetchImpl = opts.fetch ?? fetch;
    this.userAgent = opts.userAgent ?? "airlock";
    this.timeoutMs = opts.timeoutMs ?? REQUEST_TIMEOUT_MS;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Sends one request. `path` must come from path.ts (`api\`...\``); `route` names the operation in
   * errors. 2xx and 304 resolve; anything else rejects with a GitHubError (status 0: no answer).
   */
  async request<T>(
    method: string,
    path: string,
    route: string,
    init: RequestInit = {},
  ): Promise<Response<T>> {
    const attempts = method === "GET" ? 1 + (init.retries ?? 0) : 1;
    for (let i = 1; ; i++) {
      try {
        return await this.once<T>(method, path, route, init);
      } catch (e) {
        if (!(e instanceof GitHubError) || e.rateLimited || !e.transient || i >= attempts) throw e;
        await sleep(Math.min(2000, 200 * 2 ** (i - 1)));
      }
    }
  }

  private async once<T>(
    method: string,
    path: string,
    route: string,
    init: RequestInit,
  ): Promise<Response<T>> {
    if (!path.startsWith("/")) throw new Error(`API paths start with "/": ${route}`);
    const headers: Record<string, string> = {
      accept: "application/vnd.github+json",
      "user-agent": this.userAgent,
      "x-github-api-version": "2022-11-28",
    };
    if (init.authorization) headers.authorization = init.authorization;
    let body: string | undefined;
    if (init.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(init.body);
    }
    let res: globalThis.Response;
    try {
      res = await this.fetchImpl(this.baseUrl + path, {
        method,
        headers,
        body,
        redirect: "manual",
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      // The cause may name the host; it never holds the credential.
      const why = e instanceof Error ? e.message : String(e);
      throw new GitHubError(0, route, `no answer (${why})`, undefined, false);
    }
    const text = await res.text();
    let data: unknown = text;
    if (text && (res.headers.get("content-type") ?? "").includes("json")) {
      try {
        data = JSON.parse(text);
      } catch {
        data = text;
      }
    }
    if ((res.status >= 200 && res.status < 300) || res.status === 304) {
      return { status: res.status, data: data as T, headers: res.headers };
    }
    const message =
      typeof data === "object" && data !== null && "message" in data
        ? String((data as { message: unknown }).message).slice(0, 300)
        : res.statusText || "error";
    const rl = rateLimitOf(res.status, res.headers, message, this.now());
    throw new GitHubError(res.status, route, message, rl.retryAfterMs, rl.rateLimited);
  }
}
