// Tokens Airlock issues verify with a standard JOSE library against the JWKS the issuer
// publishes (fetched over HTTP through the discovery document): signature, every claim, expiry,
// and across a key rotation until the old key's tokens have expired.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify } from "jose";
import { PUBLISH_LEEWAY_MS } from "../../src/secrets/oidc/keys.js";
import { jobIdentity, startIssuer, type TestIssuer } from "./helpers.js";

const MIN = 60_000;
const SUB = "repo:{repo}:pr:{pr}:job:{job}";

/** Verifies as a cloud would: discovery, then a fresh fetch of its jwks_uri, at `at`. */
async function verifyAt(t: TestIssuer, token: string, aud: string, at: number) {
  const discovery = (await (
    await fetch(`${t.url}/.well-known/openid-configuration`)
  ).json()) as Record<string, string>;
  const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri!), { cacheMaxAge: 0 });
  return jwtVerify(token, jwks, {
    issuer: discovery.issuer,
    audience: aud,
    currentDate: new Date(at),
    algorithms: ["RS256", "ES256"],
  });
}

async function mint(t: TestIssuer, aud = "sts.amazonaws.com", lifetimeMs = 10 * MIN) {
  return t.issuer.mint(jobIdentity(), {
    aud: [aud],
    sub: SUB,
    lifetimeMs,
    notAfter: t.clock.now + 60 * MIN,
    purpose: "AWS_ID_TOKEN",
    actor: "test",
  });
}

describe("OIDC issuer", () => {
  let t: TestIssuer;
  before(async () => {
    t = await startIssuer();
  });
  after(() => t.close());

  test("discovery and JWKS are public and cacheable, and name the issuer", async () => {
    await mint(t); // creates the first key
    const res = await fetch(`${t.url}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("cache-control") ?? "", /public, max-age=\d+/);
    const doc = (await res.json()) as Record<string, unknown>;
    assert.equal(doc.issuer, t.url);
    assert.equal(doc.jwks_uri, `${t.url}/.well-known/jwks.json`);
    assert.deepEqual(doc.id_token_signing_alg_values_supported, ["RS256"]);
    assert.deepEqual(doc.response_types_supported, ["id_token"]);
    const jwks = await fetch(`${t.url}/.well-known/jwks.json`);
    assert.match(jwks.headers.get("content-type") ?? "", /json/);
    assert.match(jwks.headers.get("cache-control") ?? "", /public/);
    const body = (await jwks.json()) as { keys: Record<string, string>[] };
    assert.equal(body.keys.length, 1);
    const [k] = body.keys;
    assert.equal(k!.kty, "RSA");
    assert.equal(k!.alg, "RS256");
    assert.equal(k!.use, "sig");
    // Public parts only.
    for (const p of ["d", "p", "q", "dp", "dq", "qi"]) assert.equal(k![p], undefined);
  });

  test("a token verifies: signature, every claim, expiry", async () => {
    const m = await mint(t, "sts.amazonaws.com", 10 * MIN);
    const { payload, protectedHeader } = await verifyAt(
      t,
      m.token,
      "sts.amazonaws.com",
      t.clock.now,
    );
    assert.equal(protectedHeader.alg, "RS256");
    assert.equal(protectedHeader.typ, "JWT");
    assert.equal(protectedHeader.kid, m.kid);
    const now = Math.floor(t.clock.now / 1000);
    assert.deepEqual(payload, {
      iss: t.url,
      sub: "repo:example-org/deploy-engine:pr:42:job:functional-aws-infra",
      aud: "sts.amazonaws.com",
      iat: now,
      nbf: now,
      exp: now + 600,
      jti: payload.jti,
      repository: "example-org/deploy-engine",
      repository_owner: "example-org",
      pr: "42",
      sha: "3b18e512dba79e4c8300dd08aeb37f8e728b8dad",
      base_ref: "main",
      job: "functional-aws-infra",
      job_template: "functional",
      run_id: "run-1",
      run_attempt: "1",
      authorization: "approval",
      authorized_by: "maintainer-1",
      fork: "true",
      source: "github",
    });
    assert.match(String(payload.jti), /^[0-9a-f-]{36}$/);
    // Another audience, and a time past the expiry, are refused.
    await assert.rejects(
      verifyAt(t, m.token, "vault", t.clock.now),
      errors.JWTClaimValidationFailed,
    );
    await assert.rejects(
      verifyAt(t, m.token, "sts.amazonaws.com", t.clock.now + 11 * MIN),
      errors.JWTExpired,
    );
    // A tampered payload fails the signature.
    const [h, p, s] = m.token.split(".");
    const forged = JSON.parse(Buffer.from(p!, "base64url").toString());
    forged.repository = "attacker/repo";
    await assert.rejects(
      verifyAt(
        t,
        `${h}.${Buffer.from(JSON.stringify(forged)).toString("base64url")}.${s}`,
        "sts.amazonaws.com",
        t.clock.now,
      ),
      errors.JWSSignatureVerificationFailed,
    );
  });

  test("the token never outlives the job's deadline", async () => {
    const m = await t.issuer.mint(jobIdentity(), {
      aud: ["vault"],
      sub: SUB,
      lifetimeMs: 60 * MIN,
      notAfter: t.clock.now + 5 * MIN,
      purpose: "VAULT_ID_TOKEN",
      actor: "test",
    });
    assert.equal(m.claims.exp, Math.floor((t.clock.now + 5 * MIN) / 1000));
    await assert.rejects(
      t.issuer.mint(jobIdentity(), {
        aud: ["vault"],
        sub: SUB,
        lifetimeMs: 60 * MIN,
        notAfter: t.clock.now,
        purpose: "VAULT_ID_TOKEN",
        actor: "test",
      }),
      /deadline/,
    );
  });

  test("each token is audited with its claims, never the token", async () => {
    const m = await mint(t, "audit-check");
    const entries = await t.audit.list({ action: "id-token" });
    const mine = entries.find((e) => e.detail?.includes('"audit-check"'));
    assert.ok(mine, "an id-token audit entry for the audience");
    assert.equal(mine.runId, "run-1");
    assert.equal(mine.jobId, "functional-aws-infra");
    assert.equal(mine.key, "AWS_ID_TOKEN");
    assert.deepEqual(mine.versions, { kid: m.kid, jti: m.claims.jti });
    assert.deepEqual(JSON.parse(mine.detail!), m.claims);
    const all = JSON.stringify(entries);
    assert.ok(!all.includes(m.token.split(".")[2]!), "no signature in the audit log");
  });

  test("the private key is sealed at rest", async () => {
    const signer = await t.keys.signer();
    // Everything written so far, moved from SQLite's WAL into the database file.
    await t.db.secrets.purgeDeleted();
    const der = signer.key.export({ format: "der", type: "pkcs8" });
    const dbFile = readFileSync(path.join(t.dataDir, "airlock.db"));
    // The modulus is public; the private exponent's bytes must not be on disk.
    const jwk = signer.key.export({ format: "jwk" });
    const d = Buffer.from(jwk.d!, "base64url");
    assert.equal(dbFile.indexOf(d.subarray(0, 32)), -1);
    assert.equal(dbFile.indexOf(der.subarray(der.length - 64)), -1);
  });
});

describe("OIDC key rotation", () => {
  test("the new key is published ahead; the old one stays until its tokens expire", async () => {
    const t = await startIssuer();
    try {
      const old = await mint(t, "sts.amazonaws.com", 30 * MIN);
      const next = await t.keys.rotate({ activateInMs: 10 * MIN, actor: "test" });
      assert.equal(next.state, "next");
      let jwks = await t.keys.jwks();
      assert.deepEqual(jwks.keys.map((k) => k.kid).sort(), [old.kid, next.kid].sort());

      // Until the new key activates, the old one still signs.
      t.clock.now += 5 * MIN;
      const stillOld = await mint(t, "sts.amazonaws.com", 30 * MIN);
      assert.equal(stillOld.kid, old.kid);

      t.clock.now += 5 * MIN;
      const fresh = await mint(t, "sts.amazonaws.com", 10 * MIN);
      assert.equal(fresh.kid, next.kid);
      assert.equal(decodeProtectedHeader(fresh.token).kid, next.kid);
      const states = Object.fromEntries((await t.keys.status()).map((k) => [k.kid, k.state]));
      assert.deepEqual(states, { [old.kid]: "retiring", [next.kid]: "signing" });

      // Both tokens verify against the published JWKS across the rotation.
      await verifyAt(t, stillOld.token, "sts.amazonaws.com", t.clock.now);
      await verifyAt(t, fresh.token, "sts.amazonaws.com", t.clock.now);

      // The old key is published until its last token (stillOld, 30 min from minute 5) has
      // expired, plus the leeway; then it is gone, and so is the old token's validity.
      const lastExp = Number(stillOld.claims.exp) * 1000;
      t.clock.now = lastExp + PUBLISH_LEEWAY_MS - 1000;
      jwks = await t.keys.jwks();
      assert.ok(
        jwks.keys.some((k) => k.kid === old.kid),
        "published until the leeway ends",
      );
      t.clock.now = lastExp + PUBLISH_LEEWAY_MS;
      jwks = await t.keys.jwks();
      assert.deepEqual(
        jwks.keys.map((k) => k.kid),
        [next.kid],
      );
      await assert.rejects(
        verifyAt(t, stillOld.token, "sts.amazonaws.com", lastExp - 1000),
        errors.JWKSNoMatchingKey,
      );
      // The next rotation deletes the expired key, private part included.
      await t.keys.rotate({ activateInMs: 0, actor: "test" });
      assert.ok(!(await t.db.oidcKeys.all()).some((r) => r.kid === old.kid));
    } finally {
      await t.close();
    }
  });

  test("ES256 keys, and a revoked key leaves the JWKS at once", async () => {
    const t = await startIssuer();
    try {
      const k = await t.keys.rotate({ alg: "ES256", activateInMs: 0, actor: "test" });
      const m = await mint(t);
      assert.equal(m.kid, k.kid);
      const { protectedHeader } = await verifyAt(t, m.token, "sts.amazonaws.com", t.clock.now);
      assert.equal(protectedHeader.alg, "ES256");
      const doc = (await (
        await fetch(`${t.url}/.well-known/openid-configuration`)
      ).json()) as Record<string, unknown>;
      assert.deepEqual(doc.id_token_signing_alg_values_supported, ["ES256"]);

      const r = await t.keys.revoke(k.kid, "test");
      assert.ok(r.replacement, "a revoked signing key is replaced");
      const jwks = await t.keys.jwks();
      assert.deepEqual(
        jwks.keys.map((x) => x.kid),
        [r.replacement.kid],
      );
      await assert.rejects(
        verifyAt(t, m.token, "sts.amazonaws.com", t.clock.now),
        errors.JWKSNoMatchingKey,
      );
      const after = await mint(t);
      assert.equal(after.kid, r.replacement.kid);
      const audit = await t.audit.list({});
      assert.ok(audit.some((e) => e.action === "oidc-revoke" && e.key === k.kid));
    } finally {
      await t.close();
    }
  });

  test("rekey --data-key re-seals the signing keys, which keep signing", async () => {
    const t = await startIssuer();
    try {
      const before = await mint(t);
      await t.store.rekey({ actor: "test", newKey: Buffer.alloc(32, 9), dataKey: true });
      // A fresh key store must open the key with the new data key.
      const { OidcKeyStore } = await import("../../src/secrets/oidc/keys.js");
      const { EmbeddedStore } = await import("../../src/secrets/embedded.js");
      const store = new EmbeddedStore({
        dataDir: t.dataDir,
        store: t.db,
        env: { AIRLOCK_MASTER_KEY: Buffer.alloc(32, 9).toString("hex") },
      });
      const keys = new OidcKeyStore({ db: t.db, store });
      const signer = await keys.signer();
      assert.equal(signer.kid, before.kid);
      assert.equal((await store.verify())?.values, 0);
    } finally {
      await t.close();
    }
  });
});
