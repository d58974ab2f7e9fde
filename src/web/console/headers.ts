// Response headers for every console and sign-in response: a strict Content-Security-Policy (no
// inline script, so an escaping slip cannot run code), no framing, no sniffing, no referrer to other sites (a
// one-time link or a run id stays out of other sites' logs), and no caching of private pages.
import type { FastifyReply, FastifyRequest } from "fastify";

export const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export function setSecurityHeaders(reply: FastifyReply): void {
  reply.header("content-security-policy", CSP);
  reply.header("x-content-type-options", "nosniff");
  reply.header("x-frame-options", "DENY");
  reply.header("referrer-policy", "same-origin");
  if (!reply.hasHeader("cache-control")) reply.header("cache-control", "no-store");
}

export async function securityHeadersHook(_req: FastifyRequest, reply: FastifyReply) {
  setSecurityHeaders(reply);
}
