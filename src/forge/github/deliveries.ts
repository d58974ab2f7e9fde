// The App's webhook deliveries as GitHub recorded them, and asking GitHub to send one again. GitHub
// does not retry a delivery on its own: one Airlock refused (503 while it could not store it) or
// never received is lost until someone redelivers it. Both calls authenticate as the App (JWT).
import type { AppAuth } from "./app-auth.js";
import type { GitHubHttp } from "./http.js";
import { api, query } from "./path.js";

/** One attempt at delivering an event (GitHub's "hook-delivery-item"). */
export interface HookDelivery {
  /** This attempt; the id a redelivery names. */
  id: number;
  /** The event (X-GitHub-Delivery): shared by every attempt at delivering it. */
  guid: string;
  delivered_at: string;
  redelivery: boolean;
  status: string;
  status_code: number;
  event: string;
  action: string | null;
}

const PAGE = 100;

/** The cursor of the next page, taken from the Link header (never its URL: the host stays ours). */
export function nextCursor(link: string | null): string | undefined {
  for (const part of (link ?? "").split(",")) {
    const m = /<([^>]*)>\s*;\s*rel="next"/.exec(part);
    if (!m) continue;
    try {
      return new URL(m[1]!).searchParams.get("cursor") ?? undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export class AppDeliveries {
  constructor(
    private readonly http: GitHubHttp,
    private readonly auth: AppAuth,
  ) {}

  /** Every attempt since `sinceMs`, newest first (GitHub lists them so, a page at a time). */
  async since(sinceMs: number): Promise<HookDelivery[]> {
    const out: HookDelivery[] = [];
    let cursor: string | undefined;
    for (;;) {
      const res = await this.http.request<HookDelivery[]>(
        "GET",
        `${api`/app/hook/deliveries`}${query({ per_page: PAGE, cursor })}`,
        "GET /app/hook/deliveries",
        { authorization: this.auth.appAuthorization(), retries: 2 },
      );
      for (const d of res.data) {
        if (Date.parse(d.delivered_at) < sinceMs) return out;
        out.push(d);
      }
      cursor = nextCursor(res.headers.get("link"));
      if (!cursor || res.data.length === 0) return out;
    }
  }

  /** Asks GitHub to send the event of attempt `id` again (as a new attempt with the same guid). */
  async redeliver(id: number): Promise<void> {
    await this.http.request(
      "POST",
      api`/app/hook/deliveries/${id}/attempts`,
      "POST /app/hook/deliveries/{delivery_id}/attempts",
      { authorization: this.auth.appAuthorization() },
    );
  }
}

const answered = (d: HookDelivery) => d.status_code >= 200 && d.status_code < 400;
/** Airlock could not take it then (503, a proxy's 502/504) or could not be reached at all. */
const refusedForNow = (d: HookDelivery) => d.status_code >= 500 || d.status_code === 0;

/** Whether attempt `a` came after `b` (ids break a tie within a second). */
function newer(a: HookDelivery, b: HookDelivery): boolean {
  const t = Date.parse(a.delivered_at) - Date.parse(b.delivered_at);
  return t !== 0 ? t > 0 : a.id > b.id;
}

/**
 * The events to send again, each as its newest attempt: those whose every attempt failed and the
 * newest for a reason that passes (a server error, no connection). A 4xx (a bad signature, a body
 * refused) would be refused again. Events named in `guids` are sent again whatever the failure.
 */
export function toRedeliver(attempts: HookDelivery[], guids?: ReadonlySet<string>): HookDelivery[] {
  const newest = new Map<string, HookDelivery>();
  const done = new Set<string>();
  for (const d of attempts) {
    if (answered(d)) done.add(d.guid);
    const seen = newest.get(d.guid);
    if (!seen || newer(d, seen)) newest.set(d.guid, d);
  }
  return [...newest.values()]
    .filter((d) => !done.has(d.guid) && (guids ? guids.has(d.guid) : refusedForNow(d)))
    .sort((a, b) => (newer(a, b) ? 1 : -1));
}
