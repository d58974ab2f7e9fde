// The job API over a real HTTP server: a job's token fetches its own attempt's source and
// secrets once, and nothing else. Attacks: a token used twice, by another attempt, after the
// job ended, for another commit, altered, expired, or from a public job asking for secrets.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import { JobApi } from "../../src/jobapi/job-api.js";
import type { JobApiAttempt } from "../../src/jobapi/types.js";
import { jobApiRoute } from "../../src/web/routes/job-api.js";

const SHA = "a".repeat(40);
const OTHER = "b".repeat(40);
const KEY = "SECRET_TOKEN_VALUE_9f8e7d";
const keys = generateKeyPairSync("ed25519");
let now = Date.now();
const api = new JobApi({ privateKey: keys.privateKey, publicKey: keys.publicKey, now: () => now });
let app: FastifyInstance;
let url = "";

function attempt(over: Partial<JobApiAttempt> = {}): JobApiAttempt {
  return {
    runId: "run-1",
    jobId: "functional",
    repo: "acme/app",
    sha: SHA,
    source: async () => Readable.from([Buffer.from("tar bytes")]),
    reports: [],
    ...over,
  };
}

async function call(
  token: string,
  name: string,
  o: { sha?: string; method?: string; body?: string; headers?: Record<string, string> } = {},
) {
  const res = await fetch(`${url}/job-api/v1/${name}?sha=${o.sha ?? SHA}`, {
    method: o.method ?? "GET",
    headers: { authorization: `Bearer ${token}`, ...o.headers },
    ...(o.body !== undefined ? { body: o.body } : {}),
  });
  return { status: res.status, text: await res.text() };
}

before(async () => {
  app = Fastify();
  await app.register(jobApiRoute, { jobApi: api });
  url = await app.listen({ host: "127.0.0.1", port: 0 });
});
after(() => app.close());

describe("job API", () => {
  it("serves the attempt's source and secrets, each once; secrets as a script that quotes", async () => {
    const notes: string[] = [];
    const g = api.register(
      attempt({
        secrets: {
          env: { API_KEY: `${KEY}'; rm -rf /` },
          files: [{ name: "key.json", value: "{}" }],
        },
        note: (t) => notes.push(t),
      }),
      60_000,
    );
    const src = await call(g.token, "source");
    assert.equal(src.status, 200);
    assert.equal(src.text, "tar bytes");
    const sec = await call(g.token, "secrets");
    assert.equal(sec.status, 200);
    assert.match(sec.text, /^export API_KEY='SECRET_TOKEN_VALUE_9f8e7d'\\''; rm -rf \/'$/m);
    assert.match(sec.text, /printf '%s' '\{\}' > "\$AIRLOCK_SECRETS_DIR\/key\.json"/);
    // Attack: the same token again gets nothing, and the job's log says so.
    const again = await call(g.token, "secrets");
    assert.equal(again.status, 403);
    assert.doesNotMatch(again.text, new RegExp(KEY));
    assert.equal((await call(g.token, "source")).status, 403);
    assert.ok(
      notes.some((n) => /second secrets request/.test(n)),
      notes.join(),
    );
    g.revoke();
  });

  it("a token used after its job ended gets nothing", async () => {
    const g = api.register(attempt({ secrets: { env: { API_KEY: KEY }, files: [] } }), 60_000);
    g.revoke();
    const r = await call(g.token, "secrets");
    assert.equal(r.status, 403);
    assert.doesNotMatch(r.text, new RegExp(KEY));
    assert.equal((await call(g.token, "source")).status, 403);
  });

  it("a token of another attempt (an earlier try of the job) gets nothing", async () => {
    const first = api.register(attempt({ runId: "run-1" }), 60_000);
    first.revoke(); // its attempt ended; the retry has its own token
    const retry = api.register(
      attempt({ runId: "run-2", secrets: { env: { K: KEY }, files: [] } }),
      60_000,
    );
    assert.equal((await call(first.token, "secrets")).status, 403);
    assert.equal((await call(retry.token, "secrets")).status, 200);
    retry.revoke();
  });

  it("a token used for another commit gets nothing, and its secrets stay unserved", async () => {
    const g = api.register(attempt({ secrets: { env: { K: KEY }, files: [] } }), 60_000);
    const r = await call(g.token, "secrets", { sha: OTHER });
    assert.equal(r.status, 403);
    assert.equal((await call(g.token, "source", { sha: OTHER })).status, 403);
    // The right commit still works once: the refusal spent nothing.
    assert.equal((await call(g.token, "secrets")).status, 200);
    g.revoke();
  });

  it("a public job's token fetches no secret", async () => {
    const g = api.register(attempt(), 60_000);
    const r = await call(g.token, "secrets");
    assert.equal(r.status, 403);
    g.revoke();
  });

  it("an altered, foreign-key, missing or expired token gets nothing", async () => {
    const g = api.register(attempt({ secrets: { env: { K: KEY }, files: [] } }), 60_000);
    const [body, sig] = g.token.split(".");
    const payload = JSON.parse(Buffer.from(body!, "base64url").toString()) as Record<
      string,
      unknown
    >;
    const forged = `${Buffer.from(JSON.stringify({ ...payload, sha: OTHER })).toString("base64url")}.${sig}`;
    assert.equal((await call(forged, "secrets", { sha: OTHER })).status, 401);
    const other = new JobApi({ ...generateKeyPairSync("ed25519") });
    const foreign = other.register(attempt(), 60_000);
    assert.equal((await call(foreign.token, "secrets")).status, 401);
    const res = await fetch(`${url}/job-api/v1/secrets?sha=${SHA}`);
    assert.equal(res.status, 401);
    now += 2 * 60_000;
    assert.equal((await call(g.token, "secrets")).status, 401);
    now = Date.now();
    g.revoke();
  });

  it("secrets are withheld once the run's authorization no longer holds", async () => {
    const notes: string[] = [];
    const g = api.register(
      attempt({
        secrets: { env: { K: KEY }, files: [] },
        authorize: async () => {
          throw new Error("a push made the approval void");
        },
        note: (t) => notes.push(t),
      }),
      60_000,
    );
    const r = await call(g.token, "secrets");
    assert.equal(r.status, 403);
    assert.doesNotMatch(r.text, new RegExp(KEY));
    assert.ok(notes.some((n) => /secrets withheld: a push made the approval void/.test(n)));
    g.revoke();
  });

  it("takes report files, size- and count-capped, named by a header", async () => {
    const a = attempt();
    const g = api.register(a, 60_000);
    const put = (name: string, body: string) =>
      call(g.token, "reports", { method: "PUT", body, headers: { "x-airlock-report": name } });
    assert.equal((await put("reports/a.xml", "<testsuite/>")).status, 204);
    assert.equal((await put("reports/b.xml", "<testsuite name='b'/>")).status, 204);
    assert.equal((await call(g.token, "reports", { method: "PUT", body: "x" })).status, 400);
    assert.deepEqual(
      a.reports.map((r) => r.path),
      ["reports/a.xml", "reports/b.xml"],
    );
    const big = await call(g.token, "reports", {
      method: "PUT",
      body: "x".repeat(9 * 1024 * 1024),
      headers: { "x-airlock-report": "huge.xml" },
    });
    assert.equal(big.status, 413);
    g.revoke();
  });

  it("other features add endpoints authorised by the same token", async () => {
    api.endpoint({
      method: "POST",
      name: "echo-job",
      once: false,
      maxBody: 0,
      handle: async ({ claims }) => ({ status: 200, body: `${claims.runId}/${claims.jobId}` }),
    });
    const g = api.register(attempt(), 60_000);
    const r = await call(g.token, "echo-job", { method: "POST" });
    assert.deepEqual(r, { status: 200, text: "run-1/functional" });
    g.revoke();
    assert.equal((await call(g.token, "echo-job", { method: "POST" })).status, 403);
  });
});
