// What a job declaring `id_tokens` receives: each token in its variable (or a file whose path
// the variable holds), and the fresh-token endpoint with the job's own credential. Every token
// goes to the job's redactor before the job holds it; the endpoint closes when the job ends.
import { randomBytes } from "node:crypto";
import type { PlannedJob } from "../../pipeline/types.js";
import type { RegisteredSecret } from "../../redact/types.js";
import { SecretsError } from "../errors.js";
import type { GrantContext, SecretGrant } from "../types.js";
import type { JobIdentity } from "./claims.js";
import { JobTokenEndpoint } from "./endpoint.js";
import type { IdTokenIssuer } from "./issuer.js";
import { type JobSocket, SOCKET_REQUEST_URL, serveOnSocket } from "./socket.js";

/** The variables a job with ID tokens receives besides the tokens themselves. */
export const ID_TOKEN_ENV = {
  /** The fresh-token endpoint: GET it with `?audience=NAME`. */
  url: "AIRLOCK_ID_TOKEN_REQUEST_URL",
  /** The job's own credential for that endpoint (a Bearer token). */
  token: "AIRLOCK_ID_TOKEN_REQUEST_TOKEN",
} as const;

export interface IdTokenSettings {
  issuer: IdTokenIssuer;
  /** The `sub` template of the trusted configuration. */
  sub: string;
  /** Recorded as the actor of each token's audit entry. */
  actor: string;
  /** Where the job's socket directory is made (default: the OS temp directory). */
  socketDir?: string;
}

type Job = Pick<PlannedJob, "id" | "idTokens"> & Partial<Pick<PlannedJob, "template">>;

/** A minter bound to one job: checks the authorization, then issues and audits. */
export function jobMinter(job: Job, ctx: GrantContext, s: IdTokenSettings) {
  if (!ctx.identity) {
    throw new SecretsError(`job ${job.id}: ID tokens need the run's identity, which is missing`);
  }
  const identity: JobIdentity = {
    ...ctx.identity,
    runId: ctx.runId,
    jobId: job.id,
    template: job.template ?? job.id,
  };
  const deadline = Date.now() + ctx.timeoutMs;
  return async (aud: string[], lifetimeMs: number, purpose: string) => {
    // Invariant 1: no token unless the commit is still authorized, at every issue.
    await ctx.authorize?.();
    return s.issuer.mint(identity, {
      aud,
      sub: s.sub,
      lifetimeMs,
      notAfter: deadline,
      purpose,
      actor: s.actor,
    });
  };
}

export async function grantIdTokens(
  job: Job,
  ctx: GrantContext,
  s: IdTokenSettings,
): Promise<SecretGrant> {
  const mint = jobMinter(job, ctx, s);
  let register: ((secrets: RegisteredSecret[]) => void) | null = null;
  let socket: JobSocket | undefined;
  let endpoint: JobTokenEndpoint | undefined;
  const grant: SecretGrant = {
    set: "id_tokens",
    env: {},
    files: [],
    mask: [],
    versions: {},
    notes: [],
    overridable: [],
    watch: (r) => {
      register = r;
    },
    release: async () => {
      endpoint?.end();
      await socket?.close();
    },
  };
  try {
    const defaultLifetime = Math.min(...Object.values(job.idTokens ?? {}).map((t) => t.lifetimeMs));
    for (const [name, t] of ctx.freshOnly ? [] : Object.entries(job.idTokens ?? {})) {
      const m = await mint(t.aud, t.lifetimeMs, name);
      if (t.file) grant.files.push({ name, value: m.token, pathEnv: name });
      else grant.env[name] = m.token;
      grant.mask.push({ name, value: m.token });
      grant.versions[name] = `jti:${m.claims.jti}`;
    }
    const credential = randomBytes(32).toString("base64url");
    const ep = new JobTokenEndpoint({
      jobId: job.id,
      credential,
      mint: async (aud) => {
        if (!register) throw new SecretsError(`job ${job.id} has not started`);
        const m = await mint([aud], defaultLifetime, "job-api");
        register([{ name: "ID_TOKEN", value: m.token }]);
        return m.token;
      },
    });
    endpoint = ep;
    // The local executor binds the socket; others serve `idTokens` through the job API.
    grant.idTokens = { issue: (aud) => ep.issue(aud), jwks: () => s.issuer.jwks() };
    if (ctx.freshOnly) {
      grant.notes.push(
        `ID tokens (${Object.keys(job.idTokens ?? {}).join(", ")}) from Airlock's job API while the job runs`,
      );
      return grant;
    }
    socket = await serveOnSocket(ep, grant.idTokens.jwks, s.socketDir);
    grant.socket = socket.path;
    grant.env[ID_TOKEN_ENV.url] = SOCKET_REQUEST_URL;
    grant.env[ID_TOKEN_ENV.token] = credential;
    grant.mask.push({ name: ID_TOKEN_ENV.token, value: credential });
    grant.notes.push(
      `ID tokens for ${Object.entries(job.idTokens ?? {})
        .map(([n, t]) => `${n} (aud ${t.aud.join(", ")})`)
        .join(", ")}; fresh ones at ${ID_TOKEN_ENV.url} while the job runs`,
    );
    return grant;
  } catch (e) {
    await grant.release();
    throw e;
  }
}
