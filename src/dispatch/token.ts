// Signed dispatch tokens: Airlock vouches that a run may use the private side's secrets for
// one repository, one commit and one test selection, until an expiry. The private pipeline
// verifies the token offline with the published public key before it touches a secret.
//
// Format: base64url(JSON payload) "." base64url(Ed25519 signature over the first segment).
// The payload carries its own version and algorithm; only Ed25519 is ever accepted.
import { createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { dispatchKeyId } from "./keys.js";

export const DISPATCH_VERSION = 1;
export const DISPATCH_ALG = "Ed25519";
const MAX_TOKEN_LENGTH = 16 * 1024;
/** Clock difference tolerated between Airlock and the machine that verifies. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;

export interface DispatchClaims {
  runId: string;
  /** Source repository, "owner/name". */
  repo: string;
  /** Head commit the run was authorized for. */
  sha: string;
  /** Selected tests (restricted job ids). Never empty. */
  tests: string[];
  /** Who authorized the commit: the trusted author or the approving member. */
  approver: string;
  /** Milliseconds since the epoch (second precision in the token). */
  expiresAt: number;
  issuedAt?: number;
  /** The ref of the private pipeline the token is for. */
  ref?: string;
  /** The companion suite's resolved ref. */
  suiteRef?: string;
}

export type DispatchRejection =
  | "malformed"
  | "unsigned"
  | "unsupported"
  | "wrong-key"
  | "bad-signature"
  | "expired"
  | "not-yet-valid"
  | "wrong-repo"
  | "wrong-sha"
  | "wrong-ref"
  | "wrong-tests";

export class DispatchError extends Error {
  constructor(
    readonly code: DispatchRejection,
    message: string,
  ) {
    super(message);
  }
}

interface Payload {
  v: number;
  alg: string;
  typ: "airlock-dispatch";
  kid: string;
  run: string;
  repo: string;
  sha: string;
  tests: string[];
  approver: string;
  iat: number;
  exp: number;
  ref?: string;
  suite_ref?: string;
}

const SHA_RE = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const B64URL_RE = /^[A-Za-z0-9_-]+$/;

export function signDispatch(claims: DispatchClaims, privateKey: KeyObject): string {
  if (!SHA_RE.test(claims.sha)) throw new Error("a dispatch binds a full lowercase commit SHA");
  if (claims.tests.length === 0) throw new Error("a dispatch needs at least one test");
  if (!claims.runId || !claims.repo || !claims.approver) {
    throw new Error("a dispatch needs a run id, a repository and an approver");
  }
  const payload: Payload = {
    v: DISPATCH_VERSION,
    alg: DISPATCH_ALG,
    typ: "airlock-dispatch",
    kid: dispatchKeyId(createPublicKey(privateKey)),
    run: claims.runId,
    repo: claims.repo,
    sha: claims.sha,
    tests: [...claims.tests],
    approver: claims.approver,
    iat: Math.floor((claims.issuedAt ?? Date.now()) / 1000),
    exp: Math.floor(claims.expiresAt / 1000),
    ...(claims.ref !== undefined ? { ref: claims.ref } : {}),
    ...(claims.suiteRef !== undefined ? { suite_ref: claims.suiteRef } : {}),
  };
  const body = Buffer.from(JSON.stringify(payload), "utf8").toString("base64url");
  const signature = sign(null, Buffer.from(body, "ascii"), privateKey).toString("base64url");
  return `${body}.${signature}`;
}

export interface DispatchExpectation {
  /** Repository the verifier is about to test ("owner/name"; compared case-insensitively). */
  repo?: string;
  /** Commit the verifier is about to test. */
  sha?: string;
  /** The ref the private pipeline runs on. */
  ref?: string;
  /** Tests the verifier was asked to run: must equal the signed selection (as a set). */
  tests?: string[];
  /** Milliseconds since the epoch. */
  now: number;
}

/** Verifies a token and returns its claims; throws DispatchError naming the first problem. */
export function verifyDispatch(
  token: string,
  publicKey: KeyObject,
  expect: DispatchExpectation,
): DispatchClaims {
  const malformed = (why: string) =>
    new DispatchError("malformed", `malformed dispatch token: ${why}`);
  if (typeof token !== "string" || token.trim() === "") throw malformed("it is empty");
  const text = token.trim();
  if (text.length > MAX_TOKEN_LENGTH) throw malformed("it is too long");
  const parts = text.split(".");
  if (parts.length !== 2) throw malformed("expected <payload>.<signature>");
  const [body = "", sig = ""] = parts;
  if (!B64URL_RE.test(body)) throw malformed("the payload is not base64url");
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
  } catch {
    throw malformed("the payload is not JSON");
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw malformed("the payload is not an object");
  }
  const p = raw as Record<string, unknown>;
  if (p.typ !== "airlock-dispatch") throw malformed("it is not an Airlock dispatch token");
  if (p.v !== DISPATCH_VERSION) {
    throw new DispatchError(
      "unsupported",
      `unsupported dispatch token version ${JSON.stringify(p.v)}: this verifier reads version ${DISPATCH_VERSION}`,
    );
  }
  // The algorithm field is only read to explain a rejection; verification is always Ed25519.
  if (sig === "" || p.alg === undefined || String(p.alg).toLowerCase() === "none") {
    throw new DispatchError(
      "unsigned",
      "unsigned dispatch token: Airlock always signs with Ed25519",
    );
  }
  if (p.alg !== DISPATCH_ALG) {
    throw new DispatchError(
      "unsupported",
      `dispatch token algorithm ${JSON.stringify(p.alg)} is not accepted: only ${DISPATCH_ALG}`,
    );
  }
  if (!B64URL_RE.test(sig)) throw malformed("the signature is not base64url");
  const signature = Buffer.from(sig, "base64url");
  const kid = dispatchKeyId(publicKey);
  if (typeof p.kid === "string" && p.kid !== kid) {
    throw new DispatchError(
      "wrong-key",
      `dispatch token was signed by key ${p.kid.slice(0, 16)}, not by the configured key ${kid}: check the public key`,
    );
  }
  if (signature.length !== 64 || !verify(null, Buffer.from(body, "ascii"), publicKey, signature)) {
    throw new DispatchError(
      "bad-signature",
      "dispatch token signature does not verify: the token was altered or signed by another key",
    );
  }
  const claims = readClaims(p);
  if (expect.now >= claims.expiresAt) {
    throw new DispatchError(
      "expired",
      `dispatch token expired at ${new Date(claims.expiresAt).toISOString()}: re-run from Airlock`,
    );
  }
  if ((claims.issuedAt ?? 0) > expect.now + CLOCK_SKEW_MS) {
    throw new DispatchError(
      "not-yet-valid",
      "dispatch token is issued in the future: check the clocks of Airlock and the runner",
    );
  }
  if (expect.repo !== undefined && expect.repo.toLowerCase() !== claims.repo.toLowerCase()) {
    throw new DispatchError(
      "wrong-repo",
      `dispatch token is for repository ${claims.repo}, not ${expect.repo}`,
    );
  }
  if (expect.sha !== undefined && expect.sha.toLowerCase() !== claims.sha) {
    throw new DispatchError(
      "wrong-sha",
      `dispatch token is for commit ${claims.sha}, not ${expect.sha}`,
    );
  }
  if (expect.ref !== undefined && claims.ref !== undefined && expect.ref !== claims.ref) {
    throw new DispatchError(
      "wrong-ref",
      `dispatch token is for pipeline ref ${claims.ref}, not ${expect.ref}`,
    );
  }
  if (expect.tests !== undefined) {
    const want = new Set(claims.tests);
    const got = new Set(expect.tests);
    const same = want.size === got.size && [...got].every((t) => want.has(t));
    if (!same) {
      throw new DispatchError(
        "wrong-tests",
        `the requested tests (${[...got].join(",")}) differ from the signed selection (${claims.tests.join(",")})`,
      );
    }
  }
  return claims;
}

function readClaims(p: Record<string, unknown>): DispatchClaims {
  const bad = (field: string) =>
    new DispatchError(
      "malformed",
      `malformed dispatch token: field ${field} is missing or invalid`,
    );
  const str = (k: string): string => {
    const v = p[k];
    if (typeof v !== "string" || v === "") throw bad(k);
    return v;
  };
  const int = (k: string): number => {
    const v = p[k];
    if (typeof v !== "number" || !Number.isSafeInteger(v)) throw bad(k);
    return v;
  };
  const opt = (k: string): string | undefined => (p[k] === undefined ? undefined : str(k));
  const sha = str("sha");
  if (!SHA_RE.test(sha)) throw bad("sha");
  const tests = p.tests;
  if (
    !Array.isArray(tests) ||
    tests.length === 0 ||
    !tests.every((t) => typeof t === "string" && t !== "")
  ) {
    throw bad("tests");
  }
  const ref = opt("ref");
  const suiteRef = opt("suite_ref");
  return {
    runId: str("run"),
    repo: str("repo"),
    sha,
    tests: tests as string[],
    approver: str("approver"),
    issuedAt: int("iat") * 1000,
    expiresAt: int("exp") * 1000,
    ...(ref !== undefined ? { ref } : {}),
    ...(suiteRef !== undefined ? { suiteRef } : {}),
  };
}
