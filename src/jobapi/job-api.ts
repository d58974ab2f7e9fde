// The job API: what a job running off Airlock's machine (a Kubernetes pod) may ask Airlock for,
// with the per-attempt job token it was started with (dispatch/job-token.ts). Built in:
//
//   GET /job-api/v1/source?sha=SHA    the commit as a tar stream (no forge credential leaves Airlock)
//   GET /job-api/v1/secrets?sha=SHA   the attempt's granted secrets, as a shell script to eval
//   PUT /job-api/v1/reports?sha=SHA   one report file (X-Airlock-Report: its path), size-capped
//   GET /job-api/v1/id-token?audience=NAME, /jwks   fresh OIDC ID tokens, the keys (id-token.ts)
//
// Every call is checked here, on Airlock's side: the token's signature and expiry; that it is the
// token of an attempt that is still running (a retry's new attempt, or the end of the job,
// voids it); that the commit asked for is the attempt's own; that an endpoint marked `once` was
// not answered for this token already; and, for secrets, that the run's authorization still
// holds. Any failure answers the same way, naming no detail a thief could use.
//
// A GitLab pipeline's job has no job token (the pipeline's variables are stored in clear, so none
// is sent): it shows the run's dispatch token as its Bearer token and its CI job token, which
// GitLab itself confirms (`foreign()`), and reaches only the endpoints marked `foreign`.
//
// Other features add endpoints with `endpoint()`, authorised by the same token.
// web/routes/job-api.ts serves them all.
import type { KeyObject } from "node:crypto";
import { type JobTokenClaims, signJobToken, verifyJobToken } from "../dispatch/job-token.js";
import { verifyDispatch } from "../dispatch/token.js";
import { idTokenEndpoints } from "./id-token.js";
import { secretsScript } from "./secrets-script.js";
import {
  DENIED,
  type ForeignRun,
  type ForeignRunHandle,
  type JobApiAttempt,
  type JobApiCall,
  JobApiDenied,
  type JobApiEndpoint,
  type JobApiReply,
} from "./types.js";

export const JOB_API_PREFIX = "/job-api/v1";
/** The job API's endpoints' base URL (AIRLOCK_JOB_API), from the address jobs reach Airlock at. */
export const jobApiBase = (url: string): string => `${url.replace(/\/+$/, "")}${JOB_API_PREFIX}`;
export const MAX_REPORT_BYTES = 8 * 1024 * 1024;
export const MAX_REPORTS_TOTAL = 32 * 1024 * 1024;
export const MAX_REPORT_FILES = 200;

export interface JobApiOptions {
  /** The dispatch key pair: tokens are signed with it. */
  privateKey: KeyObject;
  publicKey: KeyObject;
  now?: () => number;
}

/** A registered attempt and the token it was given. */
export interface JobApiGrant {
  token: string;
  claims: JobTokenClaims;
  /** Ends the attempt's access at once (the job ended or was cancelled). Idempotent. */
  revoke(): void;
}

export class JobApi {
  /** The URL jobs reach the API at; set by whoever serves it. */
  url: string | undefined;
  readonly #o: Required<JobApiOptions>;
  readonly #attempts = new Map<string, JobApiAttempt>();
  readonly #used = new Set<string>();
  readonly #endpoints = new Map<string, JobApiEndpoint>();
  readonly #foreign = new Map<string, ForeignRun & { attempts: Map<string, JobApiAttempt> }>();

  constructor(o: JobApiOptions) {
    this.#o = { now: Date.now, ...o };
    for (const e of [...builtInEndpoints(), ...idTokenEndpoints()]) this.endpoint(e);
  }

  /** Adds an endpoint; its name must be new. */
  endpoint(e: JobApiEndpoint): void {
    const key = `${e.method} ${e.name}`;
    if (this.#endpoints.has(key)) throw new Error(`job API endpoint ${key} exists already`);
    this.#endpoints.set(key, e);
  }

  get endpoints(): JobApiEndpoint[] {
    return [...this.#endpoints.values()];
  }

  /** Registers an attempt and signs its token, valid for `ttlMs` at most. */
  register(attempt: JobApiAttempt, ttlMs: number): JobApiGrant {
    const { token, claims } = signJobToken(
      {
        runId: attempt.runId,
        jobId: attempt.jobId,
        repo: attempt.repo,
        sha: attempt.sha,
        expiresAt: this.#o.now() + ttlMs,
      },
      this.#o.privateKey,
    );
    this.#attempts.set(claims.tokenId, attempt);
    return { token, claims, revoke: () => this.#revoke(claims.tokenId) };
  }

  /**
   * Lets an attempt taken over after a restart answer the token an earlier Airlock process
   * issued: its source and reports, never its secrets (they may have been served already).
   */
  adopt(token: string, attempt: JobApiAttempt): JobApiGrant | null {
    let claims: JobTokenClaims;
    try {
      claims = verifyJobToken(token, this.#o.publicKey, this.#o.now());
    } catch {
      return null;
    }
    if (claims.jobId !== attempt.jobId || claims.sha !== attempt.sha) return null;
    // The token names the attempt that started the job; this one answers for it now.
    attempt.runId = claims.runId;
    delete attempt.secrets;
    this.#attempts.set(claims.tokenId, attempt);
    // This process cannot know whether its secrets were served before: they never are again.
    this.#used.add(`${claims.tokenId} GET secrets`);
    return { token, claims, revoke: () => this.#revoke(claims.tokenId) };
  }

  /**
   * Opens the API to the jobs of a run, which prove themselves through `run`. `runIds` are the
   * run ids its dispatch tokens may name: the run's own, and those of earlier attempts whose
   * pipeline it took over.
   */
  foreign(runIds: string[], run: ForeignRun): ForeignRunHandle {
    const entry = { prove: run.prove, attempts: new Map<string, JobApiAttempt>() };
    for (const id of runIds) this.#foreign.set(id, entry);
    return {
      attach: (jobId, attempt) => {
        entry.attempts.set(jobId, attempt);
        return () => {
          if (entry.attempts.get(jobId) === attempt) entry.attempts.delete(jobId);
        };
      },
      close: () => {
        entry.attempts.clear();
        for (const id of runIds) if (this.#foreign.get(id) === entry) this.#foreign.delete(id);
      },
    };
  }

  /** The attempt of a foreign run's job: its dispatch token, then the platform's proof. */
  async #foreignCaller(
    bearer: string,
    headers: JobApiCall["headers"],
  ): Promise<Pick<JobApiCall, "attempt" | "claims">> {
    let d: ReturnType<typeof verifyDispatch>;
    try {
      d = verifyDispatch(bearer, this.#o.publicKey, { now: this.#o.now() });
    } catch {
      throw new JobApiDenied(401, DENIED);
    }
    const run = this.#foreign.get(d.runId);
    if (!run) throw new JobApiDenied(403, DENIED);
    const jobId = await run.prove(headers);
    const attempt = run.attempts.get(jobId);
    if (
      !attempt ||
      !d.tests.includes(jobId) ||
      attempt.sha !== d.sha ||
      attempt.repo.toLowerCase() !== d.repo.toLowerCase()
    ) {
      throw new JobApiDenied(403, DENIED);
    }
    return { attempt, claims: { runId: attempt.runId, jobId, repo: attempt.repo, sha: d.sha } };
  }

  #revoke(tokenId: string): void {
    const a = this.#attempts.get(tokenId);
    if (a) delete a.secrets;
    this.#attempts.delete(tokenId);
    for (const k of this.#used) if (k.startsWith(`${tokenId} `)) this.#used.delete(k);
  }

  /** Answers one call; throws JobApiDenied when the token may not make it. */
  async call(
    method: string,
    name: string,
    req: {
      authorization?: string;
      query: Record<string, string>;
      headers: Record<string, string | string[] | undefined>;
      body: Buffer;
    },
  ): Promise<JobApiReply> {
    const e = this.#endpoints.get(`${method} ${name}`);
    if (!e) throw new JobApiDenied(404, `no job API endpoint ${method} ${name}`);
    const m = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(req.authorization ?? "");
    if (!m) throw new JobApiDenied(401, "the job API needs the job's token as a Bearer token");
    let claims: JobTokenClaims;
    try {
      claims = verifyJobToken(m[1]!, this.#o.publicKey, this.#o.now());
    } catch {
      if (!e.foreign) throw new JobApiDenied(401, DENIED);
      const caller = await this.#foreignCaller(m[1]!, req.headers);
      if (req.body.length > e.maxBody) throw new JobApiDenied(413, "the request body is too large");
      return e.handle({ ...caller, query: req.query, headers: req.headers, body: req.body });
    }
    const attempt = this.#attempts.get(claims.tokenId);
    if (
      !attempt ||
      attempt.runId !== claims.runId ||
      attempt.jobId !== claims.jobId ||
      attempt.sha !== claims.sha ||
      attempt.repo !== claims.repo
    ) {
      throw new JobApiDenied(403, DENIED);
    }
    if (req.query.sha !== undefined && req.query.sha !== claims.sha) {
      attempt.note?.(`a request for another commit (${req.query.sha.slice(0, 40)}) was refused`);
      throw new JobApiDenied(403, DENIED);
    }
    if (e.once) {
      const key = `${claims.tokenId} ${method} ${name}`;
      if (this.#used.has(key)) {
        attempt.note?.(`a second ${name} request with the job's token was refused`);
        throw new JobApiDenied(403, DENIED);
      }
      this.#used.add(key);
    }
    if (req.body.length > e.maxBody) throw new JobApiDenied(413, "the request body is too large");
    return e.handle({ attempt, claims, query: req.query, headers: req.headers, body: req.body });
  }
}

function builtInEndpoints(): JobApiEndpoint[] {
  return [
    {
      method: "GET",
      name: "source",
      once: true,
      maxBody: 0,
      handle: async ({ attempt }) => ({
        status: 200,
        type: "application/x-tar",
        body: await attempt.source(),
      }),
    },
    {
      method: "GET",
      name: "secrets",
      once: true,
      maxBody: 0,
      handle: async ({ attempt }) => {
        const secrets = attempt.secrets;
        // A public job has none to fetch; a restricted one gets them only while authorized.
        if (!secrets) throw new JobApiDenied(403, DENIED);
        delete attempt.secrets;
        try {
          await attempt.authorize?.();
        } catch (e) {
          attempt.note?.(`secrets withheld: ${e instanceof Error ? e.message : String(e)}`);
          throw new JobApiDenied(403, "secrets withheld: the run is no longer authorized");
        }
        return { status: 200, type: "text/x-shellscript", body: secretsScript(secrets) };
      },
    },
    {
      method: "PUT",
      name: "reports",
      once: false,
      maxBody: MAX_REPORT_BYTES,
      handle: async ({ attempt, headers, body }) => {
        const raw = headers["x-airlock-report"];
        const path = typeof raw === "string" ? raw.trim() : "";
        if (path === "" || path.length > 1024 || path.includes("\0")) {
          throw new JobApiDenied(400, "name the report file in the X-Airlock-Report header");
        }
        const total = attempt.reports.reduce((n, r) => n + r.content.length, 0);
        if (attempt.reports.length >= MAX_REPORT_FILES || total + body.length > MAX_REPORTS_TOTAL) {
          attempt.note?.(`report skipped: ${path}: more reports than allowed`);
          throw new JobApiDenied(413, "more reports than allowed");
        }
        attempt.reports.push({ path, content: body.toString("utf8") });
        return { status: 204, body: "" };
      },
    },
  ];
}
