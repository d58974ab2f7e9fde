// How the Vault double's JWT auth checks a login, as Vault's jwt plugin does: the key set from
// `auth/jwt/config` (OIDC discovery or static public keys), the issuer, the role's bound
// audiences, subject and claims, and its user claim.
import { createPublicKey } from "node:crypto";
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
} from "jose";
import type { Json } from "./double-kv.js";

async function jwtKeys(config: Json): Promise<JWTVerifyGetKey | null> {
  if (typeof config.oidc_discovery_url === "string") {
    const issuer = config.oidc_discovery_url.replace(/\/+$/, "");
    const doc = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as {
      issuer: string;
      jwks_uri: string;
    };
    // Vault checks that the discovery document names the issuer it was given.
    if (doc.issuer !== issuer) return null;
    return createRemoteJWKSet(new URL(doc.jwks_uri));
  }
  if (Array.isArray(config.jwt_validation_pubkeys)) {
    const keys = (config.jwt_validation_pubkeys as string[]).map(
      (pem) => createPublicKey(pem).export({ format: "jwk" }) as JWK,
    );
    return createLocalJWKSet({ keys });
  }
  return null;
}

/** The claims of an accepted login, or Vault's error message for a refused one. */
export async function checkJwtLogin(
  config: Json | undefined,
  role: Json,
  jwt: string,
  now: number,
): Promise<{ claims: JWTPayload } | { error: string }> {
  const keys = config ? await jwtKeys(config) : null;
  if (!keys) return { error: "could not load configuration" };
  let claims: JWTPayload;
  try {
    const audiences = (role.bound_audiences as string[] | undefined) ?? [];
    ({ payload: claims } = await jwtVerify(jwt, keys, {
      ...(typeof config?.bound_issuer === "string" ? { issuer: config.bound_issuer } : {}),
      ...(audiences.length ? { audience: audiences } : {}),
      currentDate: new Date(now),
      clockTolerance: 60,
    }));
  } catch (e) {
    return { error: `error validating token: ${(e as Error).message}` };
  }
  if (claims.aud !== undefined && !role.bound_audiences) {
    return { error: "audience claim found in JWT but no audiences bound to the role" };
  }
  if (typeof role.bound_subject === "string" && role.bound_subject !== claims.sub) {
    return { error: "sub claim does not match bound subject" };
  }
  for (const [k, want] of Object.entries((role.bound_claims as Json | undefined) ?? {})) {
    const allowed = Array.isArray(want) ? want.map(String) : [String(want)];
    if (!allowed.includes(String(claims[k]))) {
      return { error: `claim "${k}" does not match any associated bound claim values` };
    }
  }
  const userClaim = String(role.user_claim ?? "sub");
  if (claims[userClaim] === undefined) return { error: `claim "${userClaim}" not found in token` };
  return { claims };
}
