// What an Airlock ID token says about a job. Every claim comes from Airlock's own records (the
// run, the trusted definition, the authorization), never from text a pull request chose: no
// branch name of the head, no title. Custom claims are strings, as GitHub's and GitLab's are, so
// that cloud conditions (AWS StringEquals, Vault bound_claims) compare them as written.
import { SUB_PLACEHOLDER_RE, type SubPlaceholder } from "../../config/oidc-schema.js";

/** How the commit came to be authorized. */
export type AuthorizationKind = "trusted-author" | "approval" | "local";

/** The run-wide facts of a token, gathered where the run is authorized. */
export interface RunIdentity {
  /** "github" for a pull request run of `airlock serve`, "local" for `airlock run`. */
  source: "github" | "local";
  /** "owner/name". */
  repo: string;
  /** The pull request; null for a local run. */
  pr: number | null;
  /** The head commit the authorization covers. */
  sha: string;
  /** The pull request's base branch; null for a local run. */
  baseRef: string | null;
  /** Whether the head lives in another repository than the base. */
  fork: boolean;
  authorization: AuthorizationKind;
  /** The trusted author, the approving member, or `local:<user>`. */
  authorizedBy: string;
  /** 1 for the first attempt of a run request. */
  attempt: number;
}

export interface JobIdentity extends RunIdentity {
  runId: string;
  /** The planned job id, e.g. "functional-aws-infra". */
  jobId: string;
  /** The key under `jobs:` it came from, e.g. "functional". */
  template: string;
}

/** Where each placeholder of a `sub` template takes its value from. */
const SUB_FIELDS: Record<SubPlaceholder, (j: JobIdentity) => string> = {
  repo: (j) => j.repo,
  owner: (j) => j.repo.split("/")[0] ?? "",
  pr: (j) => (j.pr === null ? "local" : String(j.pr)),
  job: (j) => j.jobId,
  template: (j) => j.template,
  sha: (j) => j.sha,
  base_ref: (j) => j.baseRef ?? "",
  authorization: (j) => j.authorization,
  source: (j) => j.source,
};

/**
 * A value inside `sub`: everything but letters, digits and `._/-` is percent-encoded, so that
 * no value can add a `:`-separated field or a wildcard to the subject.
 */
export function escapeSubValue(v: string): string {
  return v.replace(/[^A-Za-z0-9._/-]/g, (c) =>
    Array.from(
      Buffer.from(c, "utf8"),
      (b) => `%${b.toString(16).toUpperCase().padStart(2, "0")}`,
    ).join(""),
  );
}

export function renderSub(template: string, j: JobIdentity): string {
  return template.replace(SUB_PLACEHOLDER_RE, (_, name: SubPlaceholder) =>
    escapeSubValue(SUB_FIELDS[name](j)),
  );
}

/** Airlock's own claims (beside iss, sub, aud, exp, iat, nbf and jti). */
export function airlockClaims(j: JobIdentity): Record<string, string> {
  return {
    repository: j.repo,
    repository_owner: j.repo.split("/")[0] ?? "",
    ...(j.pr !== null ? { pr: String(j.pr) } : {}),
    sha: j.sha,
    ...(j.baseRef !== null ? { base_ref: j.baseRef } : {}),
    job: j.jobId,
    job_template: j.template,
    run_id: j.runId,
    run_attempt: String(j.attempt),
    authorization: j.authorization,
    authorized_by: j.authorizedBy,
    fork: String(j.fork),
    source: j.source,
  };
}
