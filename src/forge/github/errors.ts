// An unsuccessful answer from the GitHub API, with what a caller needs to decide on a retry.
import { ForgeError } from "../types.js";

export class GitHubError extends ForgeError {
  constructor(
    status: number,
    /** "POST /repos/{owner}/{repo}/check-runs": the route, never the token or the body. */
    readonly route: string,
    message: string,
    /** From `Retry-After`, or the wait until `x-ratelimit-reset` when the quota is spent. */
    retryAfterMs: number | undefined,
    /** True for a primary or secondary rate limit (429, or 403 with the rate-limit signals). */
    rateLimited: boolean,
  ) {
    super(status, `GitHub answered ${status} to ${route}: ${message}`, retryAfterMs, rateLimited);
    this.name = "GitHubError";
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
