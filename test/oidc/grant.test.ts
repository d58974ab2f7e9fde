// The ID-token grant and its fresh-token endpoint, attacked directly over real Unix sockets:
// another job's credential, a job that has ended, an authorization that no longer holds, a job
// whose redactor is not ready, a public job and a job that declares no id_tokens.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { request } from "node:http";
import { after, before, describe, test } from "node:test";
import { SecretsService } from "../../src/secrets/grants.js";
import type { RunIdentity } from "../../src/secrets/oidc/claims.js";
import { MAX_FRESH_TOKENS } from "../../src/secrets/oidc/endpoint.js";
import { grantIdTokens, ID_TOKEN_ENV } from "../../src/secrets/oidc/grant.js";
import type { SecretGrant } from "../../src/secrets/types.js";
import { jobIdentity, startIssuer, type TestIssuer } from "./helpers.js";

const MIN = 60_000;
const { runId: _r, jobId: _j, template: _t, ...identity } = jobIdentity();
const RUN: RunIdentity = identity;

function ask(
  socketPath: string,
  credential: string,
  audience: string | null,
): Promise<{ status: number; body: Record<string, string> }> {
  const path = `/id-token${audience === null ? "" : `?audience=${encodeURIComponent(audience)}`}`;
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, path, headers: { authorization: `Bearer ${credential}` } },
      (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(body) }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

const job = (id: string) => ({
  id,
  template: id,
  secrets: [],
  timeoutMs: 30 * MIN,
  idTokens: { CLOUD_ID_TOKEN: { aud: ["sts.amazonaws.com"], file: false, lifetimeMs: 10 * MIN } },
});

describe("ID-token grant", () => {
  let t: TestIssuer;
  let authorized = true;
  const ctx = (jobId: string) => ({
    runId: "run-1",
    jobId,
    timeoutMs: 30 * MIN,
    identity: RUN,
    authorize: async () => {
      if (!authorized) throw new Error("secrets withheld: the head moved on");
    },
  });
  const settings = () => ({ issuer: t.issuer, sub: "repo:{repo}:job:{job}", actor: "test" });
  const watched: string[] = [];
  let a: SecretGrant;
  let b: SecretGrant;

  before(async () => {
    t = await startIssuer();
    a = await grantIdTokens(job("job-a"), ctx("job-a"), settings());
    b = await grantIdTokens(job("job-b"), ctx("job-b"), settings());
    a.watch?.((s) => watched.push(...s.map((x) => x.value)));
    b.watch?.(() => {});
  });
  after(async () => {
    await a?.release();
    await b?.release();
    await t.close();
  });

  test("the job's token, its credential and the endpoint's URL; all of them masked", () => {
    assert.ok(a.env.CLOUD_ID_TOKEN?.startsWith("eyJ"));
    assert.equal(a.env[ID_TOKEN_ENV.url], "http://airlock/id-token");
    const cred = a.env[ID_TOKEN_ENV.token]!;
    assert.ok(cred.length >= 40);
    assert.deepEqual(a.mask.map((m) => m.value).sort(), [a.env.CLOUD_ID_TOKEN, cred].sort());
    assert.ok(a.socket && existsSync(a.socket));
    assert.notEqual(a.socket, b.socket);
  });

  test("a fresh token for another audience, registered with the redactor first", async () => {
    const r = await ask(a.socket!, a.env[ID_TOKEN_ENV.token]!, "vault");
    assert.equal(r.status, 200);
    assert.ok(watched.includes(r.body.value!), "registered before it was returned");
    const payload = JSON.parse(Buffer.from(r.body.value!.split(".")[1]!, "base64url").toString());
    assert.equal(payload.aud, "vault");
    assert.equal(payload.job, "job-a");
  });

  test("another job's credential is refused on this job's socket", async () => {
    const r = await ask(b.socket!, a.env[ID_TOKEN_ENV.token]!, "vault");
    assert.equal(r.status, 401);
    assert.equal(r.body.value, undefined);
    const none = await ask(a.socket!, "", "vault");
    assert.equal(none.status, 401);
  });

  test("no token once the authorization no longer holds", async () => {
    authorized = false;
    try {
      const r = await ask(a.socket!, a.env[ID_TOKEN_ENV.token]!, "vault");
      assert.equal(r.status, 403);
      assert.match(r.body.error!, /secrets withheld/);
      await assert.rejects(
        grantIdTokens(job("job-c"), ctx("job-c"), settings()),
        /secrets withheld/,
      );
    } finally {
      authorized = true;
    }
  });

  test("a bounded number of fresh tokens per job", async () => {
    const c = await grantIdTokens(job("job-d"), ctx("job-d"), settings());
    c.watch?.(() => {});
    try {
      const cred = c.env[ID_TOKEN_ENV.token]!;
      let last = 0;
      for (let i = 0; i <= MAX_FRESH_TOKENS; i++)
        last = (await ask(c.socket!, cred, `a${i}`)).status;
      assert.equal(last, 429);
    } finally {
      await c.release();
    }
  });

  test("before the job's redactor exists, nothing is issued", async () => {
    const d = await grantIdTokens(job("job-e"), ctx("job-e"), settings());
    try {
      const r = await ask(d.socket!, d.env[ID_TOKEN_ENV.token]!, "vault");
      assert.equal(r.status, 403);
      assert.match(r.body.error!, /has not started/);
    } finally {
      await d.release();
    }
  });

  test("after the job ended, the socket is gone and the endpoint refuses", async () => {
    const e = await grantIdTokens(job("job-f"), ctx("job-f"), settings());
    e.watch?.(() => {});
    const socket = e.socket!;
    await e.release();
    assert.equal(existsSync(socket), false);
    await assert.rejects(ask(socket, e.env[ID_TOKEN_ENV.token]!, "vault"), /ENOENT|ECONNREFUSED/);
  });

  test("a public job and a job without id_tokens get nothing from the service", async () => {
    const service = new SecretsService({
      dataDir: t.dataDir,
      store: t.db,
      sets: { cloud: { backend: "env", env_override: false, keys: ["CLOUD"] } },
      env: { CLOUD: "cloud-value-123" },
      idTokens: { issuer: t.issuer, sub: "x:{job}" },
    });
    const c = { runId: "run-1", jobId: "p", timeoutMs: 30 * MIN, identity: RUN };
    assert.deepEqual(await service.grantsFor({ id: "public", secrets: [] }, c), []);
    const grants = await service.grantsFor({ id: "secret-only", secrets: ["cloud"] }, c);
    assert.deepEqual(
      grants.map((g) => [g.set, Object.keys(g.env), g.socket]),
      [["cloud", ["CLOUD"], undefined]],
    );
    const withTokens = await service.grantsFor({ ...job("tokens"), secrets: ["cloud"] }, c);
    try {
      assert.deepEqual(
        withTokens.map((g) => g.set),
        ["cloud", "id_tokens"],
      );
    } finally {
      for (const g of withTokens) await g.release();
    }
  });
});
