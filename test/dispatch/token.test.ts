import assert from "node:assert/strict";
import { generateKeyPairSync, sign } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import {
  DISPATCH_KEY_FILE,
  type DispatchClaims,
  DispatchError,
  type DispatchRejection,
  loadOrCreateDispatchKey,
  parsePublicKey,
  signDispatch,
  verifyDispatch,
} from "../../src/dispatch/index.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "airlock-dispatch-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const key = loadOrCreateDispatchKey(path.join(dir, "data"));
const NOW = Date.parse("2030-01-01T12:00:00Z");
const SHA = "a".repeat(40);
const claims: DispatchClaims = {
  runId: "run-42",
  repo: "example-org/engine",
  sha: SHA,
  tests: ["aws-infra", "scaleway-managed-services"],
  approver: "alice",
  issuedAt: NOW,
  expiresAt: NOW + 3600_000,
  ref: "main",
  suiteRef: "feature/x",
};
const token = signDispatch(claims, key.privateKey);

function rejects(code: DispatchRejection, fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof DispatchError, `expected DispatchError, got ${e}`);
    assert.equal(e.code, code, e.message);
    assert.doesNotMatch(e.message, /\n/);
    return e.message;
  }
  assert.fail(`expected rejection ${code}`);
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
const payloadOf = (t: string) =>
  JSON.parse(Buffer.from(t.split(".")[0]!, "base64url").toString("utf8")) as Record<
    string,
    unknown
  >;

describe("dispatch key", () => {
  it("is created once with mode 0600 and reloaded unchanged", () => {
    const file = path.join(dir, "data", DISPATCH_KEY_FILE);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const again = loadOrCreateDispatchKey(path.join(dir, "data"));
    assert.equal(again.publicPem, key.publicPem);
    assert.match(key.publicPem, /^-----BEGIN PUBLIC KEY-----/);
    assert.doesNotMatch(key.publicPem, /PRIVATE/);
    assert.match(readFileSync(file, "utf8"), /PRIVATE KEY/);
  });

  it("parses the printed PEM and refuses a non-Ed25519 key", () => {
    assert.equal(parsePublicKey(key.publicPem).asymmetricKeyType, "ed25519");
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey.export({
      type: "spki",
      format: "pem",
    });
    assert.throws(() => parsePublicKey(rsa.toString()), /not an Ed25519 key/);
    assert.throws(() => parsePublicKey("hello"), /not a PEM public key/);
  });
});

describe("verifyDispatch", () => {
  const expect = { repo: "example-org/engine", sha: SHA, now: NOW + 1000 };

  it("accepts a genuine token and returns its claims", () => {
    const got = verifyDispatch(token, key.publicKey, { ...expect, ref: "main" });
    assert.deepEqual(got.tests, claims.tests);
    assert.equal(got.runId, "run-42");
    assert.equal(got.approver, "alice");
    assert.equal(got.suiteRef, "feature/x");
    assert.equal(got.expiresAt, claims.expiresAt);
    // Repository names are case-insensitive on the forge.
    verifyDispatch(token, key.publicKey, { ...expect, repo: "Example-Org/Engine" });
  });

  it("rejects a tampered payload (same signature)", () => {
    const p = payloadOf(token);
    for (const change of [
      { tests: ["aws-infra", "scaleway-managed-services", "everything"] },
      { sha: "b".repeat(40) },
      { exp: (p.exp as number) + 3600 },
      { approver: "mallory" },
    ]) {
      const forged = `${b64({ ...p, ...change })}.${token.split(".")[1]}`;
      const e = { ...expect, ...("sha" in change ? { sha: change.sha } : {}) };
      rejects("bad-signature", () => verifyDispatch(forged, key.publicKey, e));
    }
  });

  it("rejects a flipped signature bit", () => {
    const [body, sig] = token.split(".") as [string, string];
    const bytes = Buffer.from(sig, "base64url");
    bytes[10] = (bytes[10] ?? 0) ^ 1;
    rejects("bad-signature", () =>
      verifyDispatch(`${body}.${bytes.toString("base64url")}`, key.publicKey, expect),
    );
  });

  it("rejects an expired token, at and after the expiry", () => {
    const m = rejects("expired", () =>
      verifyDispatch(token, key.publicKey, { ...expect, now: claims.expiresAt }),
    );
    assert.match(m, /expired at 2030-01-01T13:00:00.000Z/);
    rejects("expired", () =>
      verifyDispatch(token, key.publicKey, { ...expect, now: claims.expiresAt + 86400_000 }),
    );
  });

  it("rejects a token issued far in the future", () => {
    const t = signDispatch(
      { ...claims, issuedAt: NOW + 3600_000, expiresAt: NOW + 7200_000 },
      key.privateKey,
    );
    rejects("not-yet-valid", () => verifyDispatch(t, key.publicKey, expect));
  });

  it("rejects a re-targeted token: other commit, repository, ref or tests", () => {
    const m = rejects("wrong-sha", () =>
      verifyDispatch(token, key.publicKey, { ...expect, sha: "c".repeat(40) }),
    );
    assert.match(m, /not c{40}/);
    rejects("wrong-repo", () =>
      verifyDispatch(token, key.publicKey, { ...expect, repo: "attacker/engine" }),
    );
    rejects("wrong-repo", () =>
      verifyDispatch(token, key.publicKey, { ...expect, repo: "example-org/engine-fork" }),
    );
    rejects("wrong-ref", () =>
      verifyDispatch(token, key.publicKey, { ...expect, ref: "attacker-branch" }),
    );
    rejects("wrong-tests", () =>
      verifyDispatch(token, key.publicKey, { ...expect, tests: ["aws-infra", "all-the-things"] }),
    );
    // Same set in another order is the same selection.
    verifyDispatch(token, key.publicKey, {
      ...expect,
      tests: ["scaleway-managed-services", "aws-infra"],
    });
  });

  it("rejects unsigned tokens and alg:none", () => {
    const p = payloadOf(token);
    rejects("unsigned", () =>
      verifyDispatch(`${b64({ ...p, alg: "none" })}.`, key.publicKey, expect),
    );
    rejects("unsigned", () =>
      verifyDispatch(`${b64({ ...p, alg: "none" })}.${token.split(".")[1]}`, key.publicKey, expect),
    );
    rejects("unsigned", () => verifyDispatch(`${token.split(".")[0]}.`, key.publicKey, expect));
    rejects("unsigned", () => {
      const { alg: _alg, ...rest } = p;
      return verifyDispatch(`${b64(rest)}.${token.split(".")[1]}`, key.publicKey, expect);
    });
    rejects("unsupported", () =>
      verifyDispatch(
        `${b64({ ...p, alg: "HS256" })}.${token.split(".")[1]}`,
        key.publicKey,
        expect,
      ),
    );
  });

  it("rejects a token signed by another key, even with a forged key id", () => {
    const other = generateKeyPairSync("ed25519");
    const t = signDispatch(claims, other.privateKey);
    const m = rejects("wrong-key", () => verifyDispatch(t, key.publicKey, expect));
    assert.match(m, /check the public key/);
    // Claim our key id, sign with the other key: the signature itself must fail.
    const body = b64({ ...payloadOf(t), kid: key.keyId });
    const sig = sign(null, Buffer.from(body, "ascii"), other.privateKey).toString("base64url");
    rejects("bad-signature", () => verifyDispatch(`${body}.${sig}`, key.publicKey, expect));
  });

  it("rejects malformed tokens with a reason", () => {
    const p = payloadOf(token);
    const sig = token.split(".")[1]!;
    const cases: [string, RegExp][] = [
      ["", /empty/],
      ["   ", /empty/],
      ["abc", /<payload>\.<signature>/],
      [`${token}.extra`, /<payload>\.<signature>/],
      [`eyJ!!.${sig}`, /not base64url/],
      [`${Buffer.from("not json").toString("base64url")}.${sig}`, /not JSON/],
      [`${b64([1, 2])}.${sig}`, /not an object/],
      [`${b64({ ...p, typ: "JWT" })}.${sig}`, /not an Airlock dispatch token/],
      [`${token.split(".")[0]}.${sig}$`, /signature is not base64url/],
      ["x".repeat(20000), /too long/],
    ];
    for (const [t, re] of cases) {
      const m = rejects("malformed", () => verifyDispatch(t, key.publicKey, expect));
      assert.match(m, re);
    }
    rejects("unsupported", () =>
      verifyDispatch(`${b64({ ...p, v: 2 })}.${sig}`, key.publicKey, expect),
    );
  });

  it("rejects a validly signed token whose claims are malformed", () => {
    const p = payloadOf(token);
    for (const change of [{ tests: [] }, { sha: "HEAD" }, { exp: "soon" }, { run: "" }]) {
      const body = b64({ ...p, ...change });
      const sig = sign(null, Buffer.from(body, "ascii"), key.privateKey).toString("base64url");
      rejects("malformed", () => verifyDispatch(`${body}.${sig}`, key.publicKey, expect));
    }
  });

  it("refuses to sign an empty selection or a short SHA", () => {
    assert.throws(
      () => signDispatch({ ...claims, tests: [] }, key.privateKey),
      /at least one test/,
    );
    assert.throws(() => signDispatch({ ...claims, sha: "abc123" }, key.privateKey), /full/);
  });

  it("repairs a widened key file mode on load", () => {
    const d = path.join(dir, "widened");
    loadOrCreateDispatchKey(d);
    const file = path.join(d, DISPATCH_KEY_FILE);
    chmodSync(file, 0o644);
    loadOrCreateDispatchKey(d);
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });
});
