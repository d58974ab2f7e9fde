// A small typed Vault/OpenBao HTTP client on fetch: the operations Airlock needs and no more.
// Retries are bounded; a request that may already have taken effect (token create, lease) is
// retried only when Vault says it did not process it (412, 429, 503) or was never reached.
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

export interface WrapInfo {
  token: string;
  accessor: string;
  ttl: number;
  creation_time: string;
  creation_path: string;
}

export interface VaultAuth {
  client_token: string;
  accessor: string;
  policies: string[];
  token_policies?: string[];
  metadata: Record<string, string> | null;
  lease_duration: number;
  renewable: boolean;
  num_uses?: number;
}

export interface VaultResponse<T> {
  request_id?: string;
  lease_id: string;
  lease_duration: number;
  renewable: boolean;
  data: T;
  wrap_info: WrapInfo | null;
  warnings: string[] | null;
  auth: VaultAuth | null;
}

export interface KvVersionMeta {
  version: number;
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
  custom_metadata?: Record<string, string> | null;
}

export interface KvSecret {
  data: Record<string, unknown>;
  metadata: KvVersionMeta;
}

export interface KvMetadata {
  current_version: number;
  oldest_version: number;
  created_time: string;
  updated_time: string;
  max_versions: number;
  cas_required: boolean;
  versions: Record<string, { created_time: string; deletion_time: string; destroyed: boolean }>;
}

export interface MountInfo {
  /** Without the trailing slash, e.g. `secret`. */
  mount: string;
  type: string;
  /** For KV mounts. */
  kvVersion?: 1 | 2;
}

export interface TokenInfo {
  accessor: string;
  policies: string[];
  ttl: number;
  num_uses: number;
  expire_time: string | null;
  display_name: string;
  meta: Record<string, string> | null;
  renewable: boolean;
}

export interface CreateTokenOptions {
  policies: string[];
  /** Vault duration, e.g. "3900s". */
  ttl: string;
  explicitMaxTtl?: string;
  numUses: number;
  meta?: Record<string, string>;
  displayName?: string;
  noDefaultPolicy?: boolean;
  renewable?: boolean;
}

export interface SealStatus {
  sealed: boolean;
  initialized: boolean;
  version?: string;
  type?: string;
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

export class VaultClient {
  readonly address: string;
  readonly namespace: string | undefined;
  private readonly token: string | undefined;
  private readonly opts: Required<
    Pick<VaultClientOptions, "timeoutMs" | "retries" | "backoffMs" | "sealedRetries">
  >;
  private readonly fetchFn: typeof fetch;
  /** Shared by derived clients: every token and credential this client family has seen. */
  private readonly sensitive: Set<string>;

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

  /** The same client speaking with another token (a login's, or a job's). */
  withToken(token: string): VaultClient {
    return new VaultClient(
      {
        address: this.address,
        namespace: this.namespace,
        token,
        ...this.opts,
        fetch: this.fetchFn,
      },
      this.sensitive,
    );
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

  // ---- KV version 2 ----

  async kv2Read(mount: string, path: string, version?: number): Promise<KvSecret | null> {
    const query = version === undefined ? undefined : { version: String(version) };
    const r = await this.request<KvSecret>("GET", `${mount}/data/${path}`, {
      query,
      notFoundOk: true,
    });
    if (!r?.data?.data) return null;
    this.markValues(r.data.data);
    return r.data;
  }

  /** Writes a new version; `cas` makes the write fail unless the current version is `cas` (0: absent). */
  async kv2Write(
    mount: string,
    path: string,
    data: Record<string, unknown>,
    cas?: number,
  ): Promise<KvVersionMeta> {
    this.markValues(data);
    const body: Record<string, unknown> = { data };
    if (cas !== undefined) body.options = { cas };
    const r = await this.request<KvVersionMeta>("POST", `${mount}/data/${path}`, { body });
    return r!.data;
  }

  async kv2ReadMetadata(mount: string, path: string): Promise<KvMetadata | null> {
    const r = await this.request<KvMetadata>("GET", `${mount}/metadata/${path}`, {
      notFoundOk: true,
    });
    return r?.data ?? null;
  }

  /** Keys under a folder (names ending in `/` are folders). The API lists folders, not mounts. */
  async kv2List(mount: string, path: string): Promise<string[]> {
    if (path.replace(/\/+$/, "") === "") throw new Error("kv2List needs a folder inside the mount");
    const folder = `${path.replace(/\/+$/, "")}/`;
    const r = await this.request<{ keys: string[] }>("GET", `${mount}/metadata/${folder}`, {
      query: { list: "true" },
      notFoundOk: true,
    });
    return r?.data?.keys ?? [];
  }

  /** Soft-deletes the latest version. */
  async kv2DeleteLatest(mount: string, path: string): Promise<void> {
    await this.request("DELETE", `${mount}/data/${path}`);
  }

  async kv2DeleteVersions(mount: string, path: string, versions: number[]): Promise<void> {
    await this.request("POST", `${mount}/delete/${path}`, { body: { versions } });
  }

  async kv2Undelete(mount: string, path: string, versions: number[]): Promise<void> {
    await this.request("POST", `${mount}/undelete/${path}`, { body: { versions } });
  }

  async kv2Destroy(mount: string, path: string, versions: number[]): Promise<void> {
    await this.request("POST", `${mount}/destroy/${path}`, { body: { versions } });
  }

  // ---- KV version 1 ----

  async kv1Read(mount: string, path: string): Promise<Record<string, unknown> | null> {
    const r = await this.request<Record<string, unknown>>("GET", `${mount}/${path}`, {
      notFoundOk: true,
    });
    if (!r?.data) return null;
    this.markValues(r.data);
    return r.data;
  }

  async kv1Write(mount: string, path: string, data: Record<string, unknown>): Promise<void> {
    this.markValues(data);
    await this.request("POST", `${mount}/${path}`, { body: data });
  }

  // ---- mounts ----

  /** Which mount serves `path`, its type and KV version (sys/internal/ui/mounts). */
  async mountInfo(path: string): Promise<MountInfo> {
    const r = await this.request<{ path: string; type: string; options?: Record<string, string> }>(
      "GET",
      `sys/internal/ui/mounts/${path}`,
    );
    const d = r!.data;
    const mount = d.path.replace(/\/+$/, "");
    const info: MountInfo = { mount, type: d.type };
    if (d.type === "kv" || d.type === "generic") {
      info.kvVersion = d.options?.version === "2" ? 2 : 1;
    }
    return info;
  }

  // ---- login and tokens ----

  async loginAppRole(roleId: string, secretId: string, mount = "approle"): Promise<VaultAuth> {
    this.markSensitive(secretId);
    const r = await this.request("POST", `auth/${mount}/login`, {
      body: { role_id: roleId, secret_id: secretId },
      token: null,
    });
    return this.authOf(r, `auth/${mount}/login`);
  }

  async loginJwt(role: string, jwt: string, mount = "jwt"): Promise<VaultAuth> {
    this.markSensitive(jwt);
    const r = await this.request("POST", `auth/${mount}/login`, {
      body: { role, jwt },
      token: null,
    });
    return this.authOf(r, `auth/${mount}/login`);
  }

  async lookupSelf(): Promise<TokenInfo> {
    const r = await this.request<TokenInfo>("GET", "auth/token/lookup-self");
    return r!.data;
  }

  /** A child of this client's token: revoking the parent revokes it too. */
  async createToken(o: CreateTokenOptions): Promise<VaultAuth> {
    const body: Record<string, unknown> = {
      policies: o.policies,
      ttl: o.ttl,
      num_uses: o.numUses,
      no_default_policy: o.noDefaultPolicy ?? true,
      renewable: o.renewable ?? false,
    };
    if (o.explicitMaxTtl) body.explicit_max_ttl = o.explicitMaxTtl;
    if (o.meta) body.meta = o.meta;
    if (o.displayName) body.display_name = o.displayName;
    const r = await this.request("POST", "auth/token/create", { body, idempotent: false });
    return this.authOf(r, "auth/token/create");
  }

  async renewSelf(increment?: string): Promise<VaultAuth> {
    const r = await this.request("POST", "auth/token/renew-self", {
      body: increment ? { increment } : {},
    });
    return this.authOf(r, "auth/token/renew-self");
  }

  async renewToken(token: string, increment?: string): Promise<VaultAuth> {
    this.markSensitive(token);
    const body: Record<string, unknown> = { token };
    if (increment) body.increment = increment;
    const r = await this.request("POST", "auth/token/renew", { body });
    return this.authOf(r, "auth/token/renew");
  }

  /** Revokes a token and its children. */
  async revokeToken(token: string): Promise<void> {
    this.markSensitive(token);
    await this.request("POST", "auth/token/revoke", { body: { token } });
  }

  /** Revokes a token by its accessor, so the token itself need not travel again. */
  async revokeAccessor(accessor: string): Promise<void> {
    await this.request("POST", "auth/token/revoke-accessor", { body: { accessor } });
  }

  async revokeSelf(): Promise<void> {
    await this.request("POST", "auth/token/revoke-self");
  }

  // ---- leases (dynamic secrets) ----

  /** Reads a dynamic secret: each read creates credentials and a lease. */
  async readDynamic(path: string): Promise<VaultResponse<Record<string, unknown>>> {
    const r = await this.request<Record<string, unknown>>("GET", path, { idempotent: false });
    this.markValues(r!.data ?? {});
    return r!;
  }

  async revokeLease(leaseId: string): Promise<void> {
    await this.request("POST", "sys/leases/revoke", { body: { lease_id: leaseId } });
  }

  // ---- response wrapping ----

  /** Reads `path` but has Vault answer with a single-use wrapping token instead of the data. */
  async readWrapped(path: string, ttl: string): Promise<WrapInfo> {
    const r = await this.request("GET", path, { wrapTtl: ttl, idempotent: false });
    if (!r?.wrap_info) {
      throw new VaultError({
        kind: "http",
        status: 200,
        method: "GET",
        path,
        errors: [],
        warnings: r?.warnings ?? [],
        hint: "Vault did not wrap the answer (is a proxy dropping X-Vault-Wrap-TTL?)",
        attempts: 1,
      });
    }
    this.markSensitive(r.wrap_info.token);
    return r.wrap_info;
  }

  /** Opens a wrapping token (once: Vault destroys it). */
  async unwrap<T = Record<string, unknown>>(wrappingToken: string): Promise<VaultResponse<T>> {
    this.markSensitive(wrappingToken);
    // The wrapping token goes in the header; the description requires a body, so send an empty one.
    const r = await this.request<T>("POST", "sys/wrapping/unwrap", {
      body: {},
      token: wrappingToken,
      idempotent: false,
    });
    if (r?.auth?.client_token) this.markSensitive(r.auth.client_token);
    if (r?.data && typeof r.data === "object") this.markValues(r.data as Record<string, unknown>);
    return r!;
  }

  // ---- system ----

  async sealStatus(): Promise<SealStatus> {
    const r = await this.request<never>("GET", "sys/seal-status", {
      token: null,
      retriesOff: true,
    });
    // seal-status answers at the top level, not under `data`.
    return r as unknown as SealStatus;
  }

  /** An ACL policy's rules, or null when it does not exist. */
  async readPolicy(name: string): Promise<{ name: string; policy: string } | null> {
    const r = await this.request<{ name: string; policy: string }>(
      "GET",
      `sys/policies/acl/${name}`,
      { notFoundOk: true },
    );
    return r?.data ?? null;
  }

  /** What this client's token may do on each path (e.g. `["read"]`, `["deny"]`). */
  async capabilitiesSelf(paths: string[]): Promise<Record<string, string[]>> {
    const r = await this.request<Record<string, unknown>>("POST", "sys/capabilities-self", {
      body: { paths },
    });
    const out: Record<string, string[]> = {};
    for (const p of paths) {
      const caps = r?.data?.[p];
      out[p] = Array.isArray(caps) ? caps.filter((c): c is string => typeof c === "string") : [];
    }
    return out;
  }

  // ---- transport ----

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

  private authOf(r: VaultResponse<unknown> | null, path: string): VaultAuth {
    if (!r?.auth?.client_token) {
      throw new VaultError({
        kind: "http",
        status: 200,
        method: "POST",
        path,
        errors: [],
        warnings: r?.warnings ?? [],
        hint: "Vault answered without a token",
        attempts: 1,
      });
    }
    return r.auth;
  }

  private markValues(data: Record<string, unknown>): void {
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
