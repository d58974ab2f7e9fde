// Mints Airlock ID tokens: a JWT signed by the issuer's current key, saying which job of which
// authorized commit holds it. Each token is audited (claims, never the token) and keeps its
// signing key published until it expires.
import { randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import { SecretsError } from "../errors.js";
import { airlockClaims, type JobIdentity, renderSub } from "./claims.js";
import type { OidcKeyStore } from "./keys.js";

/** A token is never issued for less than this: a verifier must have time to use it. */
export const MIN_LIFETIME_MS = 60_000;

export interface MintRequest {
  /** One or more audiences; a single one is written as a string, as most verifiers expect. */
  aud: string[];
  /** The `sub` template (see claims.ts). */
  sub: string;
  lifetimeMs: number;
  /** The token never outlives this (ms since the epoch): the job's deadline. */
  notAfter: number;
  /** Recorded in the audit entry: the variable name, or "job-api". */
  purpose: string;
  /** Recorded as the actor of the audit entry. */
  actor: string;
}

export interface MintedToken {
  token: string;
  claims: Record<string, unknown>;
  kid: string;
  expiresAt: number;
}

export class IdTokenIssuer {
  private readonly now: () => number;

  constructor(
    private readonly o: {
      /** The issuer URL: `iss`, and where /.well-known/openid-configuration is served. */
      issuer: string;
      /** The signing keys; each token's audit entry is recorded beside its key's use. */
      keys: OidcKeyStore;
      now?: () => number;
    },
  ) {
    this.now = o.now ?? Date.now;
  }

  get issuer(): string {
    return this.o.issuer;
  }

  /** The published public keys. */
  jwks() {
    return this.o.keys.jwks();
  }

  async mint(job: JobIdentity, req: MintRequest): Promise<MintedToken> {
    if (req.aud.length === 0 || req.aud.some((a) => a.length === 0)) {
      throw new SecretsError("an ID token needs a non-empty audience");
    }
    const now = this.now();
    // Whole seconds, as the token says: the key stays published until exactly then.
    const exp = Math.floor(Math.min(now + req.lifetimeMs, req.notAfter) / 1000) * 1000;
    if (exp - now < Math.min(MIN_LIFETIME_MS, req.lifetimeMs)) {
      throw new SecretsError(
        `no ID token for job ${job.jobId}: its deadline is too close (${new Date(req.notAfter).toISOString()})`,
      );
    }
    const signer = await this.o.keys.signer();
    const iat = Math.floor(now / 1000);
    const claims: Record<string, unknown> = {
      iss: this.o.issuer,
      sub: renderSub(req.sub, job),
      aud: req.aud.length === 1 ? req.aud[0] : [...req.aud],
      iat,
      nbf: iat,
      exp: exp / 1000,
      jti: randomUUID(),
      ...airlockClaims(job),
    };
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: "JWT" })
      .sign(signer.key);
    // The key stays published until this token expires; recorded before anyone holds the token.
    await this.o.keys.noteSigned(signer.kid, exp, {
      action: "id-token",
      actor: req.actor,
      runId: job.runId,
      jobId: job.jobId,
      key: req.purpose,
      versions: { kid: signer.kid, jti: claims.jti },
      detail: JSON.stringify(claims),
      at: now,
    });
    return { token, claims, kid: signer.kid, expiresAt: exp };
  }
}
