// What the job API (job-api.ts) and its endpoints share: the attempt an executor registers, one
// call as an endpoint sees it, and the refusal.
import type { Readable } from "node:stream";
import type { JobTokenClaims } from "../dispatch/job-token.js";
import type { ReportFile, SecretFile } from "../executors/types.js";
import type { IdTokenService } from "../secrets/types.js";

/** What an executor registers for one attempt of one job. */
export interface JobApiAttempt {
  runId: string;
  jobId: string;
  repo: string;
  sha: string;
  /** The commit's files as a tar stream. */
  source(): Promise<Readable>;
  /** The attempt's granted secrets (restricted jobs only); dropped once served or ended. */
  secrets?: { env: Record<string, string>; files: SecretFile[] };
  /** Throws with the reason when the run's authorization no longer covers the commit. */
  authorize?(): Promise<void>;
  /** Report files the job uploaded, in arrival order (untrusted: redacted before use). */
  reports: ReportFile[];
  /** Fresh OIDC ID tokens, for a job that declares `id_tokens` (see id-token.ts). */
  idTokens?: IdTokenService;
  /** Notes for the job's log about what was refused. */
  note?(text: string): void;
}

export interface JobApiCall {
  attempt: JobApiAttempt;
  claims: JobTokenClaims;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface JobApiReply {
  status: number;
  type?: string;
  body: string | Buffer | Readable;
}

export interface JobApiEndpoint {
  method: "GET" | "PUT" | "POST";
  /** Path below JOB_API_PREFIX, e.g. "source". */
  name: string;
  /** Answered at most once per token. */
  once: boolean;
  /** Largest request body accepted, in bytes. */
  maxBody: number;
  handle(call: JobApiCall): Promise<JobApiReply>;
}

export class JobApiDenied extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Every refusal of a token says only this, naming no detail a thief could use. */
export const DENIED = "this job token is not valid for this request";
