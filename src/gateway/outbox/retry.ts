// What becomes of an item whose send failed: given up (GitHub refused it for good, or it is past
// its deadline), or tried again after a delay (GitHub's Retry-After, a spent rate limit, or
// exponential backoff). A pure decision, apart from the loop that records it.
import { ForgeError } from "../../forge/types.js";
import type { OutboxItem } from "../../store/index.js";

export interface RetryPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
  /** Wait when GitHub signals a rate limit without saying for how long. */
  rateLimitDelayMs: number;
  /** Transient failures are retried until an item is this old; then it is marked failed. */
  deadlineMs: number;
  random: () => number;
}

export type Outcome =
  /** `refused`: GitHub refused the write (logged as an error), rather than it running out of time. */
  | { give: "up"; error: string; refused: boolean }
  /** `rateLimited`: the delay applies to every write of the App, not just this item. */
  | { give: "later"; delayMs: number; error: string; rateLimited: boolean };

export function afterFailure(p: RetryPolicy, item: OutboxItem, e: unknown, now: number): Outcome {
  const error = e instanceof Error ? e.message : String(e);
  const gh = e instanceof ForgeError ? e : undefined;
  const retryable = gh ? gh.transient || gh.status === 401 : true;
  if (!retryable) return { give: "up", error, refused: true };
  if (now - item.createdAt > p.deadlineMs) {
    return {
      give: "up",
      error: `gave up after ${item.attempts} attempts: ${error}`,
      refused: false,
    };
  }
  if (gh?.rateLimited) {
    return {
      give: "later",
      delayMs: gh.retryAfterMs ?? p.rateLimitDelayMs,
      error,
      rateLimited: true,
    };
  }
  const delayMs = gh?.retryAfterMs ?? backoff(p, item.attempts);
  return { give: "later", delayMs, error, rateLimited: false };
}

/** Exponential backoff with "equal jitter": half the step fixed, half random. */
export function backoff(p: RetryPolicy, attempts: number): number {
  const step = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(step / 2 + p.random() * (step / 2));
}
