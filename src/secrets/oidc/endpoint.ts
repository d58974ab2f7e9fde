// The fresh-token endpoint of one job: during the job, it asks for an ID token for another
// audience (as GitHub's ACTIONS_ID_TOKEN_REQUEST_URL does), authorised by the job's own
// credential. Transport-free: the local executor serves it on a per-job Unix socket (socket.ts),
// executors whose jobs run elsewhere through Airlock's job API (jobapi/id-token.ts), which
// authenticates the job with its job token and then calls `issue`.
import { timingSafeEqual } from "node:crypto";

/** Fresh tokens one job may ask for: plenty for several clouds, bounded for the audit log. */
export const MAX_FRESH_TOKENS = 100;
const MAX_AUDIENCE = 256;

export interface EndpointReply {
  status: number;
  body: Record<string, unknown>;
}

export class JobTokenEndpoint {
  private ended = false;
  private issued = 0;
  private readonly credential: Buffer;

  constructor(
    private readonly o: {
      jobId: string;
      /** The job's own credential (AIRLOCK_ID_TOKEN_REQUEST_TOKEN). */
      credential: string;
      /** Mints a token for `aud`, or throws saying why not (authorization, deadline). */
      mint(aud: string): Promise<string>;
      maxTokens?: number;
    },
  ) {
    this.credential = Buffer.from(o.credential, "utf8");
  }

  /** The job ended: no token is issued any more, whatever the credential. */
  end(): void {
    this.ended = true;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** `authorization` is the request's Authorization header; `audience` its query parameter. */
  async request(
    authorization: string | undefined,
    audience: string | null,
  ): Promise<EndpointReply> {
    const given = Buffer.from(/^Bearer (.+)$/.exec(authorization ?? "")?.[1] ?? "", "utf8");
    if (given.length !== this.credential.length || !timingSafeEqual(given, this.credential)) {
      return fail(401, "send this job's AIRLOCK_ID_TOKEN_REQUEST_TOKEN as a Bearer token");
    }
    return this.issue(audience);
  }

  /**
   * A fresh token for `audience`, for a caller that has authenticated the job already (the job
   * API, by the job's token): the job must not have ended, the audience must be sound, the count
   * bounded, and the minter re-checks the run's authorization.
   */
  async issue(audience: string | null): Promise<EndpointReply> {
    if (this.ended) return fail(410, `job ${this.o.jobId} has ended: no more ID tokens`);
    if (!audience || audience.length > MAX_AUDIENCE || /[\u0000-\u001f\u007f]/.test(audience)) {
      return fail(400, `give the audience as ?audience=NAME (at most ${MAX_AUDIENCE} characters)`);
    }
    if (this.issued >= (this.o.maxTokens ?? MAX_FRESH_TOKENS)) {
      return fail(429, `job ${this.o.jobId} has asked for ${this.issued} ID tokens: no more`);
    }
    this.issued++;
    try {
      const token = await this.o.mint(audience);
      // The job may have ended while the token was minted.
      if (this.ended) return fail(410, `job ${this.o.jobId} has ended: no more ID tokens`);
      return { status: 200, body: { value: token } };
    } catch (e) {
      return fail(403, e instanceof Error ? e.message : String(e));
    }
  }
}

function fail(status: number, message: string): EndpointReply {
  return { status, body: { error: message } };
}
