// The HTTP side of the Vault client, on fetch: URL and headers, bounded retries with backoff,
// and errors scrubbed of every token and value the client family has seen. A request that may
// already have taken effect (token create, lease) is retried only when Vault says it did not
// process it (412, 429, 503) or was never reached. Apart from the endpoint methods (client.ts),
// which only say what to ask.
import type { VaultResponse } from "./answers.js";
import { capabilityOf, hintFor, scrub, VaultError } from "./errors.js";

export interface VaultClientOptions {
  /** e.g. https://vault.example.org:8200 */
  address: string;
  token?: string;
  namespace?: string;
  /** Per attempt. */
  timeoutMs?: number;
  /** Extra attempts after the first, for retriable answers. */
  retries?: number;
  /** First backoff; doubles each attempt, with jitter, capped at 5 s. */
  backoffMs?: number;
  /** Extra attempts while Vault says it is sealed: unsealing takes a human, so keep it short. */
  sealedRetries?: number;
  fetch?: typeof fetch;
}

interface RequestOptions {
  query?: Record<string, string>;
  body?: unknown;
  /** Ask Vault to wrap the answer in a single-use token (X-Vault-Wrap-TTL). */
  wrapTtl?: string;
  /** `null`: send no token (logins, unauthenticated endpoints). */
  token?: string | null;
  /** False when repeating the request could do the thing twice. */
  idempotent?: boolean;
  /** Answer `null` instead of throwing on 404. */
  notFoundOk?: boolean;
  /** Statuses that are answers, not errors (sys/health uses them). */
  okStatuses?: number[];
}

const RETRIABLE = new Set([412, 429, 500, 502, 503, 504]);
const NOT_PROCESSED = new Set([412, 429, 503]);

export class VaultTransport {
  readonly address: string;
  readonly namespace: string | undefined;
  private readonly token: string | undefined;
  protected readonly opts: Required<
    Pick<VaultClientOptions, "timeoutMs" | "retries" | "backoffMs" | "sealedRetries">
  >;
  protected readonly fetchFn: typeof fetch;
  /** Shared by derived clients: every token and credential this client family has seen. */
  protected readonly sensitive: Set<string>;

  constructor(options: VaultClientOptions, sensitive?: Set<string>) {
    let url: URL;
    try {
      url = new URL(options.address);
    } catch {
      throw new Error(
        `the Vault address ${JSON.stringify(options.address)} is not a URL: set VAULT_ADDR to e.g. https://vault.example.org:8200`,
      );
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new Error(`the Vault address must start with https:// or http://, not ${url.protocol}`);
    }
    this.address = options.address.replace(/\/+$/, "");
    this.namespace = options.namespace;
    this.token = options.token;
    this.opts = {
      timeoutMs: options.timeoutMs ?? 10_000,
      retries: options.retries ?? 3,
      backoffMs: options.backoffMs ?? 200,
      sealedRetries: options.sealedRetries ?? 1,
    };
    this.fetchFn = options.fetch ?? fetch;
    this.sensitive = sensitive ?? new Set();
    if (options.token) this.markSensitive(options.token);
  }

  /** Marks a string as never to be shown in an error (e.g. a secret value being written). */
  markSensitive(s: string): void {
    if (!s) return;
    this.sensitive.add(s);
    // Bounded for a long-running gateway: the oldest (long-revoked job tokens) go first.
    if (this.sensitive.size > 10_000) {
      const oldest = this.sensitive.values().next().value;
      if (oldest !== undefined && oldest !== this.token) this.sensitive.delete(oldest);
    }
  }

  async request<T = unknown>(
    method: "GET" | "POST" | "DELETE",
    path: string,
    o: RequestOptions & { retriesOff?: boolean } = {},
  ): Promise<VaultResponse<T> | null> {
    const cleanPath = path.replace(/^\/+/, "");
    const urlPath = cleanPath
      .split("/")
      .map((s) => encodeURIComponent(s))
      .join("/");
    const qs = o.query ? `?${new URLSearchParams(o.query).toString()}` : "";
    const url = `${this.address}/v1/${urlPath}${qs}`;
    const headers: Record<string, string> = { "X-Vault-Request": "true" };
    const token = o.token === null ? undefined : (o.token ?? this.token);
    if (token) headers["X-Vault-Token"] = token;
    if (this.namespace) headers["X-Vault-Namespace"] = this.namespace;
    if (o.wrapTtl) headers["X-Vault-Wrap-TTL"] = o.wrapTtl;
    let body: string | undefined;
    if (o.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(o.body);
    }
    const idempotent = o.idempotent ?? true;
    const capability = capabilityOf(method, cleanPath, o.query?.list === "true");
    const maxRetries = o.retriesOff ? 0 : this.opts.retries;
    let sealedLeft = o.retriesOff ? 0 : this.opts.sealedRetries;

    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await this.fetchFn(url, {
          method,
          headers,
          body,
          signal: AbortSignal.timeout(this.opts.timeoutMs),
        });
      } catch (e) {
        const timedOut = (e as Error)?.name === "TimeoutError";
        const code = networkCode(e);
        // A refused connection never reached Vault; a timeout may have.
        const mayRetry = attempt < maxRetries && (!timedOut || idempotent);
        if (mayRetry) {
          await this.sleep(attempt);
          continue;
        }
        throw new VaultError({
          kind: timedOut ? "timeout" : "unreachable",
          status: 0,
          method,
          path: cleanPath,
          errors: [],
          warnings: [],
          hint: timedOut
            ? `no answer from Vault at ${this.address} within ${this.opts.timeoutMs} ms`
            : `cannot reach Vault at ${this.address} (${code}): check VAULT_ADDR and that Vault is running and reachable from Airlock`,
          attempts: attempt + 1,
        });
      }
      // Always read the body, so the connection is released even on errors.
      const text = await res.text().catch(() => "");
      const parsed = parseJson(text);
      if (res.ok || o.okStatuses?.includes(res.status)) {
        if (res.status === 204 || text.trim() === "") return null;
        const r = parsed as unknown as VaultResponse<T>;
        if (r?.auth?.client_token) this.markSensitive(r.auth.client_token);
        if (r?.wrap_info?.token) this.markSensitive(r.wrap_info.token);
        return r;
      }
      if (res.status === 404 && o.notFoundOk) return null;
      const errors = stringList(parsed?.errors).map((s) => scrub(oneLine(s), this.sensitive));
      const warnings = stringList(parsed?.warnings).map((s) => scrub(s, this.sensitive));
      const sealed = res.status === 503 && errors.some((e) => /sealed/i.test(e));
      let retry = attempt < maxRetries && RETRIABLE.has(res.status);
      if (retry && !idempotent && !NOT_PROCESSED.has(res.status)) retry = false;
      if (retry && sealed) retry = sealedLeft-- > 0;
      if (retry) {
        await this.sleep(attempt, res.headers.get("retry-after"));
        continue;
      }
      throw new VaultError({
        kind: "http",
        status: res.status,
        method,
        path: cleanPath,
        errors,
        warnings,
        hint: hintFor(res.status, capability, errors, this.address),
        attempts: attempt + 1,
      });
    }
  }

  protected markValues(data: Record<string, unknown>): void {
    for (const v of Object.values(data)) {
      if (typeof v === "string") this.markSensitive(v);
      else if (v !== null && typeof v === "object") this.markSensitive(JSON.stringify(v));
    }
  }

  private async sleep(attempt: number, retryAfter?: string | null): Promise<void> {
    const base = Math.min(5000, this.opts.backoffMs * 2 ** attempt);
    const after = retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : 0;
    const ms = Math.min(5000, Math.max(base * (0.5 + Math.random() / 2), after));
    await new Promise((r) => setTimeout(r, ms));
  }
}

function parseJson(text: string): Record<string, unknown> | null {
  if (!text) return null;
  try {
    const v = JSON.parse(text);
    return v !== null && typeof v === "object" ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/** Vault wraps errors as "1 error occurred:\n\t* permission denied\n\n": keep the bullets. */
function oneLine(s: string): string {
  const bullets = s
    .split("\n")
    .filter((l) => /^\s*\* /.test(l))
    .map((l) => l.replace(/^\s*\* /, "").trim());
  const text = /^\d+ errors? occurred:/.test(s) && bullets.length ? bullets.join("; ") : s;
  return text.replace(/\s*\n\s*/g, " ").trim();
}

function networkCode(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (e as Error)?.message ?? "network error";
}
