// Job tokens: the per-attempt credential a job that runs off Airlock's machine (a Kubernetes pod)
// presents to Airlock's job API to download its source, fetch its granted secrets and upload its
// reports. Signed with the dispatch key (Ed25519), bound to one attempt of one job on one commit,
// and short-lived; the job API keeps each endpoint to one use per token and refuses a token whose
// attempt ended (see jobapi/).
//
// Format: base64url(JSON payload) "." base64url(Ed25519 signature over the first segment).
import { createPublicKey, type KeyObject, randomBytes, sign, verify } from "node:crypto";
import { dispatchKeyId } from "./keys.js";

const TYP = "airlock-job";
const VERSION = 1;
const MAX_TOKEN_LENGTH = 4 * 1024;
const B64URL_RE = /^[A-Za-z0-9_-]+$/;
const SHA_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

export interface JobTokenClaims {
  /** The run attempt the job belongs to. */
  runId: string;
  jobId: string;
  /** Source repository, "owner/name". */
  repo: string;
  /** The exact commit the attempt runs. */
  sha: string;
  /** Unique per token: the job API counts uses by it. */
  tokenId: string;
  /** Milliseconds since the epoch (second precision in the token). */
  issuedAt: number;
  expiresAt: number;
}

export type JobTokenRejection = "malformed" | "wrong-key" | "bad-signature" | "expired";

export class JobTokenError extends Error {
  constructor(
    readonly code: JobTokenRejection,
    message: string,
  ) {
    super(message);
  }
}

/** Signs a token for one attempt; `tokenId` is made here when not given. */
export function signJobToken(
  claims: Omit<JobTokenClaims, "tokenId" | "issuedAt"> & { tokenId?: string; issuedAt?: number },
  privateKey: KeyObject,
): { token: string; claims: JobTokenClaims } {
  if (!SHA_RE.test(claims.sha)) throw new Error("a job token binds a full lowercase commit SHA");
  if (!claims.runId || !claims.jobId || !claims.repo) {
    throw new Error("a job token needs a run id, a job id and a repository");
  }
  const full: JobTokenClaims = {
    ...claims,
    tokenId: claims.tokenId ?? randomBytes(16).toString("base64url"),
    issuedAt: claims.issuedAt ?? Date.now(),
  };
  const payload = {
    v: VERSION,
    typ: TYP,
    kid: dispatchKeyId(createPublicKey(privateKey)),
    run: full.runId,
    job: full.jobId,
    repo: full.repo,
    sha: full.sha,
    jti: full.tokenId,
    iat: Math.floor(full.issuedAt / 1000),
    exp: Math.floor(full.expiresAt / 1000),
  };
  const body = Buffer.from(JSON.stringify(payload), "utf8").toString("base64url");
  const signature = sign(null, Buffer.from(body, "ascii"), privateKey).toString("base64url");
  return { token: `${body}.${signature}`, claims: full };
}

/** Checks the signature and the expiry; the job API checks the attempt itself. */
export function verifyJobToken(token: string, publicKey: KeyObject, now: number): JobTokenClaims {
  const malformed = new JobTokenError("malformed", "malformed job token");
  const text = typeof token === "string" ? token.trim() : "";
  if (text === "" || text.length > MAX_TOKEN_LENGTH) throw malformed;
  const [body = "", sig = "", ...rest] = text.split(".");
  if (rest.length > 0 || !B64URL_RE.test(body) || !B64URL_RE.test(sig)) throw malformed;
  let p: Record<string, unknown>;
  try {
    p = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as Record<string, unknown>;
  } catch {
    throw malformed;
  }
  if (typeof p !== "object" || p === null || p.typ !== TYP || p.v !== VERSION) throw malformed;
  if (typeof p.kid === "string" && p.kid !== dispatchKeyId(publicKey)) {
    throw new JobTokenError("wrong-key", "the job token was signed by another key");
  }
  const signature = Buffer.from(sig, "base64url");
  if (signature.length !== 64 || !verify(null, Buffer.from(body, "ascii"), publicKey, signature)) {
    throw new JobTokenError("bad-signature", "the job token's signature does not verify");
  }
  const str = (k: string) => {
    if (typeof p[k] !== "string" || p[k] === "") throw malformed;
    return p[k] as string;
  };
  const int = (k: string) => {
    if (typeof p[k] !== "number" || !Number.isSafeInteger(p[k])) throw malformed;
    return (p[k] as number) * 1000;
  };
  const claims: JobTokenClaims = {
    runId: str("run"),
    jobId: str("job"),
    repo: str("repo"),
    sha: str("sha"),
    tokenId: str("jti"),
    issuedAt: int("iat"),
    expiresAt: int("exp"),
  };
  if (!SHA_RE.test(claims.sha)) throw malformed;
  if (now >= claims.expiresAt) throw new JobTokenError("expired", "the job token has expired");
  return claims;
}
