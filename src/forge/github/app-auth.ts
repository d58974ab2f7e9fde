// GitHub App authentication: an RS256 JWT signs requests as the app, and buys installation access
// tokens, which are cached until shortly before they expire.
import { createPrivateKey, type KeyObject, sign } from "node:crypto";
import type { GitHubHttp } from "./http.js";
import { api } from "./path.js";

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

/** Parses a PEM private key (PKCS#1 as GitHub issues it, or PKCS#8) once, with a clear error. */
export function loadAppKey(pem: string): KeyObject {
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== "rsa") throw new Error("not an RSA key");
    return key;
  } catch {
    throw new Error(
      "the GitHub App private key is not a valid RSA PEM key: use the .pem file GitHub generated for the app",
    );
  }
}

/**
 * A JWT for the app. Issued 60 s in the past against clock drift; valid 9 minutes (GitHub allows
 * at most 10).
 */
export function appJwt(appId: string | number, key: KeyObject, nowMs = Date.now()): string {
  const iat = Math.floor(nowMs / 1000) - 60;
  const header = b64url(JSON.stringify({ alg: "RS256", typ: "JWT" }));
  const payload = b64url(JSON.stringify({ iat, exp: iat + 600 - 60, iss: String(appId) }));
  const signature = sign("RSA-SHA256", Buffer.from(`${header}.${payload}`), key);
  return `${header}.${payload}.${b64url(signature)}`;
}

export interface TokenSource {
  /** An `Authorization` header value. */
  authorization(): Promise<string>;
}

interface Cached {
  token: string;
  /** When to stop using it (ms): a margin before GitHub's expiry. */
  refreshAt: number;
}

/** Installation tokens of one app, cached per installation; concurrent callers share one request. */
export class AppAuth {
  private readonly key: KeyObject;
  private readonly cache = new Map<number, Cached>();
  private readonly inflight = new Map<number, Promise<Cached>>();

  constructor(
    private readonly http: GitHubHttp,
    private readonly appId: string | number,
    privateKeyPem: string,
    opts: {
      /** Tokens are dropped this long before their expiry (GitHub's tokens live one hour). */
      marginMs?: number;
      /** The clock of the cache; the JWT always uses the wall clock, as GitHub checks it. */
      now?: () => number;
    } = {},
  ) {
    this.key = loadAppKey(privateKeyPem);
    this.marginMs = opts.marginMs ?? 5 * 60_000;
    this.now = opts.now ?? Date.now;
  }

  private readonly marginMs: number;
  private readonly now: () => number;

  appAuthorization(): string {
    return `Bearer ${appJwt(this.appId, this.key)}`;
  }

  installation(installationId: number): TokenSource {
    return { authorization: async () => `token ${(await this.token(installationId)).token}` };
  }

  /** Forgets a token GitHub refused (401), so the next call buys a new one. */
  invalidate(installationId: number): void {
    this.cache.delete(installationId);
  }

  private async token(installationId: number): Promise<Cached> {
    const hit = this.cache.get(installationId);
    if (hit && hit.refreshAt > this.now()) return hit;
    let p = this.inflight.get(installationId);
    if (!p) {
      p = this.fetchToken(installationId).finally(() => this.inflight.delete(installationId));
      this.inflight.set(installationId, p);
    }
    return p;
  }

  private async fetchToken(installationId: number): Promise<Cached> {
    const res = await this.http.request<{ token: string; expires_at: string }>(
      "POST",
      api`/app/installations/${installationId}/access_tokens`,
      "POST /app/installations/{installation_id}/access_tokens",
      { authorization: this.appAuthorization() },
    );
    const expires = Date.parse(res.data.expires_at);
    const refreshAt = Number.isFinite(expires) ? expires - this.marginMs : this.now() + 30 * 60_000;
    const entry = { token: res.data.token, refreshAt };
    this.cache.set(installationId, entry);
    return entry;
  }
}

/** A fixed token (a personal access token in tests or a single-repository setup). */
export const staticToken = (token: string): TokenSource => ({
  authorization: async () => `token ${token}`,
});
