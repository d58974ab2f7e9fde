// Facts about a request that sign-in decisions depend on: whether it came over TLS, its
// origin as the browser sees it, and whether a cross-site page could have sent it.
import type { FastifyRequest } from "fastify";

export interface OriginOptions {
  /** The console's external URL, e.g. https://ci.example.org (wins over headers). */
  publicUrl?: string;
  /** Honour X-Forwarded-Proto/-Host from a reverse proxy. Only when one is in front. */
  trustProxy?: boolean;
}

function firstHeader(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s?.split(",")[0]?.trim() || undefined;
}

export function isHttps(req: FastifyRequest, o: OriginOptions): boolean {
  if (o.publicUrl) return o.publicUrl.startsWith("https:");
  if ((req.raw.socket as { encrypted?: boolean }).encrypted) return true;
  return o.trustProxy === true && firstHeader(req, "x-forwarded-proto") === "https";
}

/** scheme://host[:port] of the console as the browser addresses it. */
export function ownOrigin(req: FastifyRequest, o: OriginOptions): string {
  if (o.publicUrl) return new URL(o.publicUrl).origin;
  const host =
    (o.trustProxy ? firstHeader(req, "x-forwarded-host") : undefined) ??
    firstHeader(req, "host") ??
    "localhost";
  return `${isHttps(req, o) ? "https" : "http"}://${host}`;
}

/**
 * False when the browser says another site sent this request: an Origin header naming another
 * origin, or Sec-Fetch-Site other than same-origin. Requests without either (old clients, curl)
 * pass here and still need the CSRF token.
 */
export function sameOrigin(req: FastifyRequest, o: OriginOptions): boolean {
  const origin = firstHeader(req, "origin");
  if (origin !== undefined) return origin === ownOrigin(req, o);
  const site = firstHeader(req, "sec-fetch-site");
  return site === undefined || site === "same-origin" || site === "none";
}

/** A local path to return to after sign-in; anything else (//host, scheme:, \) becomes /runs. */
export function safeNext(next: unknown): string {
  if (typeof next !== "string" || !/^\/(?![/\\])[^\s\\]*$/.test(next) || next.length > 2000) {
    return "/runs";
  }
  return next;
}
