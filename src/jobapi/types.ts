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
  claims: Pick<JobTokenClaims, "runId" | "jobId" | "repo" | "sha">;
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
  /**
   * Also answers a job of a foreign run (see JobApi.foreign): one that shows the run's dispatch
   * token and proves with its platform's own credential which job it is.
   */
  foreign?: boolean;
  /** Largest request body accepted, in bytes. */
  maxBody: number;
  handle(call: JobApiCall): Promise<JobApiReply>;
}

/**
 * A run whose jobs Airlock cannot hand a job token (a GitLab pipeline's variables are stored in
 * clear): each proves which of the run's jobs it is with its platform's own credential.
 */
export interface ForeignRun {
  /** The job id these request headers prove, asked of the platform; throws JobApiDenied if none. */
  prove(headers: Record<string, string | string[] | undefined>): Promise<string>;
}

export interface ForeignRunHandle {
  /** Lets the job `jobId` of the run call the API while it runs; the returned function ends that. */
  attach(jobId: string, attempt: JobApiAttempt): () => void;
  /** Ends the run's access. Idempotent. */
  close(): void;
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
