// The seam between secret storage and the jobs that receive secrets.
// Embedded store, Vault/OpenBao and the environment all implement SecretBackend.
import type { JWK } from "jose";
import type { RegisteredSecret } from "../redact/types.js";
import type { RunIdentity } from "./oidc/claims.js";
import type { EndpointReply } from "./oidc/endpoint.js";

export interface GrantContext {
  runId: string;
  jobId: string;
  /** The job's timeout, so that short-lived credentials can outlive it only by a margin. */
  timeoutMs: number;
  /** What ID tokens say about the run (absent: none can be issued). */
  identity?: RunIdentity;
  /**
   * Re-checks that the run's commit is still authorized (DESIGN.md invariant 1); throws saying
   * why not. Called before every ID token, the fresh ones during the job included.
   */
  authorize?: () => Promise<void>;
  /**
   * An ID token for this job with audience `aud`, for Airlock's own use (a Vault login); set
   * by the secrets service when it can issue one.
   */
  idToken?: (aud: string) => Promise<string>;
  /**
   * The job runs where Airlock hands it nothing (a GitLab pipeline): its ID tokens are neither
   * issued up front nor served on a socket; it asks the job API for each while it runs.
   */
  freshOnly?: boolean;
}

/** What one secret set gives one job. */
export interface SecretGrant {
  set: string;
  /** Environment variables for the job. */
  env: Record<string, string>;
  /** Keys delivered as files on the job's private tmpfs. */
  files: { name: string; value: string; pathEnv?: string }[];
  /** Every value the job could obtain through this grant (all live versions, tokens): the redactor masks them. */
  mask: RegisteredSecret[];
  /** Versions released, for the audit log and the run page. Never values. */
  versions: Record<string, number | string>;
  /** Notes for the run summary, e.g. "AWS_ACCESS_KEY_ID taken from the environment (env_override)". */
  notes: string[];
  /**
   * Keys of `env`/`files` that `env_override` may replace. Absent: all of them. A backend whose
   * env carries plumbing rather than set values (a Vault token, its address) lists none of those.
   */
  overridable?: string[];
  /** Host path of the job's API socket (the fresh-token endpoint), bound into its sandbox. */
  socket?: string;
  /** The same endpoint for executors that serve it themselves, through the job API. */
  idTokens?: IdTokenService;
  /**
   * Called once the job's redactor exists: values the grant creates later (fresh ID tokens) go
   * to `register` before the job receives them.
   */
  watch?(register: (secrets: RegisteredSecret[]) => void): void;
  /** Revokes whatever the grant created (child tokens, leases). Called when the job ends, whatever happened. */
  release(): Promise<void>;
}

/**
 * A job's fresh ID tokens, for a transport that has authenticated the job already (the job API,
 * by the job's token): each issue re-checks the run's authorization, registers the token with the
 * job's redactor and audits it; none is issued once the job has ended.
 */
export interface IdTokenService {
  /** `{value: token}` with status 200, or the refusal (400, 403, 410, 429) and its reason. */
  issue(audience: string | null): Promise<EndpointReply>;
  /** The issuer's public keys, so that a job can verify a token as a cloud would. */
  jwks(): Promise<{ keys: JWK[] }>;
}

export interface SecretKeyInfo {
  key: string;
  version: number;
  versions: number[];
  updatedAt: number;
  /** When the key was last rotated (`airlock secrets rotate`), if ever. */
  rotatedAt?: number | null;
  file: boolean;
}

export interface SecretBackend {
  readonly kind: string;
  grant(set: string, ctx: GrantContext): Promise<SecretGrant>;
  list(set: string): Promise<SecretKeyInfo[]>;
}
