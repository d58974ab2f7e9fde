// The issuer's public documents: OpenID Connect discovery and the JWKS. Both are public and
// cacheable; a verifier (AWS STS, Google STS, Azure AD, Vault) fetches the first from
// `<issuer>/.well-known/openid-configuration` and the keys from its `jwks_uri`.
import type { JWK } from "jose";
import { DEFAULT_ALG } from "./keys.js";

export const DISCOVERY_PATH = "/.well-known/openid-configuration";
export const JWKS_PATH = "/.well-known/jwks.json";
/** How long verifiers and proxies may cache the documents (seconds). A rotation waits longer. */
export const CACHE_MAX_AGE_S = 300;

/** The claims a token can carry (see claims.ts). */
export const CLAIMS_SUPPORTED = [
  "iss",
  "sub",
  "aud",
  "exp",
  "iat",
  "nbf",
  "jti",
  "repository",
  "repository_owner",
  "pr",
  "sha",
  "base_ref",
  "job",
  "job_template",
  "run_id",
  "run_attempt",
  "authorization",
  "authorized_by",
  "fork",
  "source",
];

export function discoveryDocument(issuer: string, jwks: { keys: JWK[] }): Record<string, unknown> {
  const algs = [...new Set(jwks.keys.map((k) => k.alg).filter((a): a is string => !!a))];
  return {
    issuer,
    jwks_uri: `${issuer}${JWKS_PATH}`,
    response_types_supported: ["id_token"],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: algs.length > 0 ? algs.sort() : [DEFAULT_ALG],
    scopes_supported: ["openid"],
    claims_supported: CLAIMS_SUPPORTED,
  };
}

/** The issuer URL from `raw`, or a one-line reason naming `where` it came from. */
export function parseIssuer(raw: string, where: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`${where} is not a URL: write e.g. https://ci.example.org`);
  }
  if ((u.protocol !== "https:" && u.protocol !== "http:") || u.search || u.hash || u.username) {
    throw new Error(
      `${where} must be a plain https URL (no query, fragment or credentials), e.g. https://ci.example.org`,
    );
  }
  return u.toString().replace(/\/+$/, "");
}
