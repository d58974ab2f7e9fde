// ID tokens through `airlock run`, end to end: real CLI, real git repository, real bubblewrap
// sandboxes. The job reads its tokens (variable and file), asks for a fresh one over its API
// socket, and prints them reversed (a deliberate transformation, which no masker can catch) so
// that the test can verify exactly what the job held against the JWKS `airlock oidc jwks` prints.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from "jose";
import { show } from "../support/cli.js";
import { Project, runIdOf } from "../support/project.js";

const ISSUER = "https://ci.example.org";

const CHECK = `
import { readFileSync } from "node:fs";
import { request } from "node:http";
const rev = (s) => [...s].reverse().join("");
function ask(audience, token = process.env.AIRLOCK_ID_TOKEN_REQUEST_TOKEN) {
  const url = new URL(process.env.AIRLOCK_ID_TOKEN_REQUEST_URL);
  if (audience !== null) url.searchParams.set("audience", audience);
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: process.env.AIRLOCK_JOB_API_SOCKET, path: url.pathname + url.search,
        headers: { authorization: "Bearer " + token } },
      (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode, body: JSON.parse(body) }));
      });
    req.on("error", reject);
    req.end();
  });
}
const env = process.env.AWS_ID_TOKEN;
const path = process.env.AWS_WEB_IDENTITY_TOKEN_FILE;
const file = readFileSync(path, "utf8");
console.log("file at " + path);
console.log("env token: " + env);
console.log("rev-env " + rev(env));
console.log("rev-file " + rev(file));
const fresh = await ask("vault");
console.log("fresh status " + fresh.status);
console.log("fresh token: " + fresh.body.value);
console.log("rev-fresh " + rev(fresh.body.value));
console.log("wrong credential " + (await ask("vault", "not-the-credential")).status);
console.log("no audience " + (await ask(null)).status);
`;

const PIPELINE = `version: 1
secrets:
  cloud: {}
oidc:
  sub: "repo:{repo}:pr:{pr}:job:{job}:auth:{authorization}"
jobs:
  lint:
    run: |
      test -z "\${AIRLOCK_ID_TOKEN_REQUEST_TOKEN:-}" && test ! -e /run/airlock/api.sock
      env | grep -c '^AWS' || true
      echo "public job: no token, no socket"
  with-secret:
    secrets: [cloud]
    run: |
      test -z "\${AIRLOCK_ID_TOKEN_REQUEST_TOKEN:-}" && test ! -e /run/airlock/api.sock
      echo "secret-only job: no token, no socket"
  deploy:
    needs: [lint]
    id_tokens:
      AWS_ID_TOKEN: { aud: sts.amazonaws.com }
      AWS_WEB_IDENTITY_TOKEN_FILE: { aud: [sts.amazonaws.com, backup], file: true, lifetime: 20m }
    timeout: 15m
    run: node check.mjs
`;

const grab = (log: string, tag: string) => {
  const m = new RegExp(`^${tag} (\\S+)$`, "m").exec(log);
  assert.ok(m, `${tag} in the log:\n${log}`);
  return [...m[1]!].reverse().join("");
};

describe("airlock run: a job with id_tokens", () => {
  let project: Project;
  let sha: string;
  let runId: string;
  let logs: Record<string, string>;
  let jwks: JSONWebKeySet;

  before(async () => {
    project = new Project({ files: { ".airlock.yml": PIPELINE, "check.mjs": CHECK } });
    sha = project.commit({ README: "x\n" });
    await project.setSecret("cloud", "CLOUD_TOKEN", "ct_0123456789abcdef");
    const r = await project.cli(["run", "--plain"], {
      env: project.env({ AIRLOCK_PUBLIC_URL: ISSUER }),
    });
    assert.equal(r.code, 0, show(r));
    runId = runIdOf(r.stdout);
    logs = await project.logs(runId);
    const k = await project.cli(["oidc", "jwks"]);
    assert.equal(k.code, 0, show(k));
    jwks = JSON.parse(k.stdout) as JSONWebKeySet;
  });
  after(() => project?.cleanup());

  test("the tokens the job held verify against the published keys, with the run's claims", async () => {
    const log = logs.deploy!;
    const keys = createLocalJWKSet(jwks);
    const env = await jwtVerify(grab(log, "rev-env"), keys, {
      issuer: ISSUER,
      audience: "sts.amazonaws.com",
    });
    assert.equal(
      env.payload.sub,
      `repo:${project.query<{ repo: string }>("select repo from runs")[0]!.repo}:pr:local:job:deploy:auth:local`,
    );
    assert.equal(env.payload.aud, "sts.amazonaws.com");
    assert.equal(env.payload.sha, sha);
    assert.equal(env.payload.run_id, runId);
    assert.equal(env.payload.job, "deploy");
    assert.equal(env.payload.authorization, "local");
    assert.match(String(env.payload.authorized_by), /^local:/);
    assert.equal(env.payload.source, "local");
    assert.equal(env.payload.pr, undefined);
    assert.equal(Number(env.payload.exp) - Number(env.payload.iat), 600, "oidc.lifetime default");

    const file = await jwtVerify(grab(log, "rev-file"), keys, {
      issuer: ISSUER,
      audience: "backup",
    });
    assert.deepEqual(file.payload.aud, ["sts.amazonaws.com", "backup"]);
    // 20m asked, but never past the job's 15m timeout.
    assert.ok(Number(file.payload.exp) - Number(file.payload.iat) <= 15 * 60);
    assert.ok(Number(file.payload.exp) - Number(file.payload.iat) > 14 * 60);

    const fresh = await jwtVerify(grab(log, "rev-fresh"), keys, {
      issuer: ISSUER,
      audience: "vault",
    });
    assert.equal(fresh.payload.job, "deploy");
    assert.notEqual(fresh.payload.jti, env.payload.jti);
  });

  test("the file is on the private tmpfs, and every token is masked in the log", () => {
    const log = logs.deploy!;
    assert.match(log, /^file at \/run\/airlock\/secrets\/AWS_WEB_IDENTITY_TOKEN_FILE$/m);
    assert.match(log, /^fresh status 200$/m);
    assert.match(log, /^env token: \[redacted:[A-Za-z_]+\]$/m);
    assert.match(log, /^fresh token: \[redacted:[A-Za-z_]+\]$/m);
    for (const tag of ["rev-env", "rev-file", "rev-fresh"]) {
      assert.ok(!log.includes(grab(log, tag)), `${tag}'s token appears nowhere in clear`);
    }
  });

  test("the job API refuses another credential and a request without audience", () => {
    assert.match(logs.deploy!, /^wrong credential 401$/m);
    assert.match(logs.deploy!, /^no audience 400$/m);
  });

  test("a public job and a job with secrets only get no token and no socket", () => {
    assert.match(logs.lint!, /public job: no token, no socket/);
    assert.match(logs["with-secret"]!, /secret-only job: no token, no socket/);
    assert.match(logs.lint!, /^0$/m, "no AWS variable in a public job");
  });

  test("every token is audited with its claims, never the token", async () => {
    const entries = project.query<{ job_id: string; key: string; detail: string }>(
      "select job_id, key, detail from audit where action = 'id-token' and run_id = ? order by seq",
      runId,
    );
    assert.deepEqual(
      entries.map((e) => [e.job_id, e.key]),
      [
        ["deploy", "AWS_ID_TOKEN"],
        ["deploy", "AWS_WEB_IDENTITY_TOKEN_FILE"],
        ["deploy", "job-api"],
      ],
    );
    const audit = JSON.stringify(project.query("select * from audit"));
    for (const tag of ["rev-env", "rev-file", "rev-fresh"]) {
      assert.ok(!audit.includes(grab(logs.deploy!, tag).split(".")[2]!));
    }
  });

  test("without an issuer URL, the run refuses before anything runs", async () => {
    const r = await project.cli(["run", "--plain"]);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /job deploy declares id_tokens: .*AIRLOCK_PUBLIC_URL/);
  });
});
