// An unsuccessful answer from the GitHub API, with what a caller needs to decide on a retry.

export class GitHubError extends Error {
  constructor(
    readonly status: number,
    /** "POST /repos/{owner}/{repo}/check-runs": the route, never the token or the body. */
    readonly route: string,
    message: string,
    /** From `Retry-After`, or the wait until `x-ratelimit-reset` when the quota is spent. */
    readonly retryAfterMs: number | undefined,
    /** True for a primary or secondary rate limit (429, or 403 with the rate-limit signals). */
    readonly rateLimited: boolean,
  ) {
    super(`GitHub answered ${status} to ${route}: ${message}`);
    this.name = "GitHubError";
  }

  /** Worth trying again later: rate limits, server errors, and network failures (status 0). */
  get transient(): boolean {
    return this.rateLimited || this.status === 0 || this.status >= 500 || this.status === 408;
  }
}

/** Reads the rate-limit signals of a response. `now` is in milliseconds. */
export function rateLimitOf(
  status: number,
  headers: Headers,
  message: string,
  now: number,
): { rateLimited: boolean; retryAfterMs: number | undefined } {
  let retryAfterMs: number | undefined;
  const retryAfter = headers.get("retry-after");
  if (retryAfter !== null && retryAfter.trim() !== "") {
    const secs = Number(retryAfter);
    if (Number.isFinite(secs)) retryAfterMs = Math.max(0, secs * 1000);
    else {
      const at = Date.parse(retryAfter);
      if (Number.isFinite(at)) retryAfterMs = Math.max(0, at - now);
    }
  }
  const spent = headers.get("x-ratelimit-remaining") === "0";
  if (spent && retryAfterMs === undefined) {
    const reset = Number(headers.get("x-ratelimit-reset"));
    if (Number.isFinite(reset) && reset > 0) retryAfterMs = Math.max(0, reset * 1000 - now);
  }
  const secondary = /secondary rate limit|abuse/i.test(message);
  const rateLimited =
    status === 429 ||
    ((status === 403 || status === 429) && (spent || secondary || retryAfterMs !== undefined));
  return { rateLimited, retryAfterMs };
}
