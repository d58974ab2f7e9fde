// ID tokens on the Kubernetes executor, attacked: a pod cannot reach the local sandbox's socket,
// so its fresh tokens come from the job API with its job token. The real grant (secrets/oidc) and
// a real issuer mint them; the pods run in the double's sandboxes and talk HTTP to the job API on
// loopback. A public job never gets a token; the token of an ended attempt or of another attempt
// gets nothing; a commit no longer authorized gets nothing; every token is masked in the log.
import assert from "node:assert/strict";
import { finished } from "node:stream/promises";
import { after, before, describe, it } from "node:test";
import { createLocalJWKSet, jwtVerify } from "jose";
import { runAttempt } from "../../../src/executors/attempt.js";
import { jobName } from "../../../src/executors/kubernetes/manifests.js";
import type { JobRequest, JobSpec } from "../../../src/executors/types.js";
import { createRedactor } from "../../../src/redact/redactor.js";
import type { RunIdentity } from "../../../src/secrets/oidc/claims.js";
import { grantIdTokens, ID_TOKEN_ENV } from "../../../src/secrets/oidc/grant.js";
import type { SecretGrant } from "../../../src/secrets/types.js";
import { jobIdentity, startIssuer, type TestIssuer } from "../../oidc/helpers.js";
import { jobRequest, type KubeWorld, kubeWorld, runContext, spec, until } from "./world.js";

const MIN = 60_000;

// Asks the job API for a fresh token the way a portable job script does, and prints what it got:
// the token itself (to be masked), and reversed (which no masker catches) for the test to verify.
const ASK = `
const rev = (s) => [...String(s)].reverse().join("");
const url = process.env.AIRLOCK_ID_TOKEN_REQUEST_URL;
const token = process.env.AIRLOCK_ID_TOKEN_REQUEST_TOKEN;
async function ask(audience, tok = token) {
  const u = new URL(url);
  if (audience) u.searchParams.set("audience", audience);
  const r = await fetch(u, { headers: { authorization: "Bearer " + tok } });
  return { status: r.status, body: await r.json() };
}
console.log("socket " + (process.env.AIRLOCK_JOB_API_SOCKET ?? "none"));
console.log("rev-initial " + rev(process.env.CLOUD_ID_TOKEN));
const fresh = await ask("vault");
console.log("fresh status " + fresh.status);
console.log("fresh token: " + fresh.body.value);
console.log("rev-fresh " + rev(fresh.body.value));
console.log("request token: " + token);
console.log("no audience " + (await ask(null)).status);
console.log("wrong token " + (await ask("vault", "not.this")).status);
const keys = await fetch(new URL("jwks", url), { headers: { authorization: "Bearer " + token } });
console.log("jwks " + keys.status + " " + (await keys.json()).keys.length);
`;

// A public job that tries the same with the only token it has.
const STEAL = `
for name in id-token jwks; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $AIRLOCK_JOB_TOKEN" \\
    "$AIRLOCK_JOB_API/$name?audience=vault")
  echo "public $name $code"
done
echo "request variables: \${AIRLOCK_ID_TOKEN_REQUEST_URL:-none} \${AIRLOCK_ID_TOKEN_REQUEST_TOKEN:-none}"
`;

const { runId: _r, jobId: _j, template: _t, ...identity } = jobIdentity();
const RUN: RunIdentity = identity;

let w: KubeWorld;
let t: TestIssuer;
let authorized = true;
before(async () => {
  w = await kubeWorld({ "ask.mjs": ASK, "steal.sh": STEAL });
  t = await startIssuer();
});
after(async () => {
  await w.close();
  await t.close();
});

const deploy = (id: string, run: string): JobSpec =>
  spec(run, {
    id,
    timeoutMs: 30 * MIN,
    idTokens: { CLOUD_ID_TOKEN: { aud: ["sts.amazonaws.com"], file: false, lifetimeMs: 10 * MIN } },
  });

/** The grant the runner makes for a job with id_tokens, as `airlock run` makes it. */
function grant(runId: string, job: JobSpec): Promise<SecretGrant> {
  return grantIdTokens(
    job,
    {
      runId,
      jobId: job.id,
      timeoutMs: job.timeoutMs,
      identity: RUN,
      authorize: async () => {
        if (!authorized) throw new Error("the pull request's head moved on: approve it again");
      },
    },
    { issuer: t.issuer, sub: "repo:{repo}:job:{job}", actor: "test" },
  );
}

/** Runs `req` as the runner does: output through a redactor that knows the grant's values. */
async function runMasked(
  g: SecretGrant | null,
  req: JobRequest,
  o: { signal?: AbortSignal; during?: (log: () => string) => void } = {},
) {
  const redactor = createRedactor({ secrets: g?.mask ?? [] });
  g?.watch?.((values) => redactor.register(values));
  const output = redactor.stream();
  let log = "";
  output.on("data", (c: Buffer) => {
    log += c.toString();
  });
  o.during?.(() => log);
  const prepared = await w.executor.prepare(runContext(w, [req.job], { runId: req.runId }));
  const full: JobRequest = {
    ...req,
    ...(g
      ? {
          secretEnv: g.env,
          secretFiles: g.files,
          ...(g.socket ? { apiSocket: g.socket } : {}),
          ...(g.idTokens ? { idTokens: g.idTokens } : {}),
        }
      : {}),
    mask: (values) => redactor.register(values),
  };
  try {
    const result = await runAttempt(prepared, full, {
      output,
      signal: o.signal ?? new AbortController().signal,
    });
    output.end();
    await finished(output);
    return { result, log };
  } finally {
    await g?.release();
  }
}

/** The job token the executor put in the Job it created for `runId`/`jobId`. */
function jobTokenOf(runId: string, jobId: string): string {
  const job = w.k8s.jobs.get(jobName(runId, jobId)) as {
    spec: { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } };
  };
  const env = job.spec.template.spec.containers[0]!.env;
  return env.find((e) => e.name === "AIRLOCK_JOB_TOKEN")!.value;
}

/** Asks the job API for a fresh ID token with `token`, as a thief outside the pod would. */
async function steal(token: string): Promise<{ status: number; body: Record<string, string> }> {
  const r = await fetch(`${w.jobApi.url}/job-api/v1/id-token?audience=vault`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return { status: r.status, body: (await r.json()) as Record<string, string> };
}

const issued = async () => (await t.audit.list({ action: "id-token" })).length;

const grab = (log: string, tag: string): string => {
  const m = new RegExp(`^${tag} (\\S+)$`, "m").exec(log);
  assert.ok(m, `${tag} in the log:\n${log}`);
  return [...m[1]!].reverse().join("");
};

describe("ID tokens on the Kubernetes executor", () => {
  it("a pod gets its tokens through the job API with its job token; each one masked", async () => {
    const job = deploy("deploy", "node ask.mjs");
    const g = await grant("run-1", job);
    const before = await issued();
    const { result, log } = await runMasked(g, jobRequest(w, job));
    assert.equal(result.status, "passed", log + (result.error ?? ""));
    assert.match(log, /^socket none$/m, "no socket in a pod");
    assert.match(log, /^fresh status 200$/m);
    assert.match(log, /^no audience 400$/m);
    assert.match(log, /^wrong token 401$/m);
    assert.match(log, /^jwks 200 1$/m);
    assert.match(log, /^fresh token: \[redacted:[A-Za-z_]+\]$/m);
    assert.match(log, /^request token: \[redacted:AIRLOCK_JOB_TOKEN\]$/m);

    const keys = createLocalJWKSet(await t.issuer.jwks());
    const initial = await jwtVerify(grab(log, "rev-initial"), keys, {
      issuer: t.url,
      audience: "sts.amazonaws.com",
    });
    const fresh = await jwtVerify(grab(log, "rev-fresh"), keys, {
      issuer: t.url,
      audience: "vault",
    });
    assert.equal(fresh.payload.job, "deploy");
    assert.equal(fresh.payload.run_id, "run-1");
    assert.notEqual(fresh.payload.jti, initial.payload.jti);
    assert.equal((await issued()) - before, 1, "the fresh token was audited");

    // The request variables point at the job API, never at a socket; no token in the Job.
    const created = JSON.stringify(w.k8s.jobs.get(jobName("run-1", "deploy")));
    assert.ok(!created.includes(grab(log, "rev-initial")), "the token is not in the Job");
    assert.ok(!created.includes(ID_TOKEN_ENV.token), "nor its request variables");

    // After the job: its token gets nothing, from the job API or the grant's endpoint.
    const token = jobTokenOf("run-1", "deploy");
    const late = await steal(token);
    assert.equal(late.status, 403);
    assert.equal(late.body.value, undefined);
    assert.equal((await g.idTokens!.issue("vault")).status, 410);
    assert.equal((await issued()) - before, 1, "nothing more was minted");
    assert.deepEqual(w.k8s.problems, []);
  });

  it("a public job never gets a token, whatever it asks the job API", async () => {
    const before = await issued();
    const job = spec("sh steal.sh", { id: "lint" });
    const { result, log } = await runMasked(null, jobRequest(w, job, { runId: "run-2" }));
    assert.equal(result.status, "passed", log + (result.error ?? ""));
    assert.match(log, /^public id-token 403$/m);
    assert.match(log, /^public jwks 403$/m);
    assert.match(log, /^request variables: none none$/m);
    assert.match(log, /an ID token was asked for and refused: the job declares no id_tokens/);
    assert.equal(await issued(), before, "no token was minted");
  });

  it("refuses another attempt's token and a commit no longer authorized, while the job runs", async () => {
    // The first attempt ends; the retry runs until the test has made its requests.
    const first = deploy("deploy-retried", "true");
    const ended = await runMasked(
      await grant("run-3", first),
      jobRequest(w, first, { runId: "run-3" }),
    );
    assert.equal(ended.result.status, "passed", ended.log);
    const old = jobTokenOf("run-3", first.id);

    const job = deploy("deploy-retried", "echo ready; sleep 300");
    const g = await grant("run-4", job);
    const stop = new AbortController();
    const before = await issued();
    const answers: Record<string, { status: number; body: Record<string, string> }> = {};
    let attacked: Promise<void> = Promise.resolve();
    let current = "";
    const { result, log } = await runMasked(g, jobRequest(w, job, { runId: "run-4" }), {
      signal: stop.signal,
      during: (text) => {
        attacked = (async () => {
          await until("the retry to run", () => /^ready$/m.test(text()));
          current = jobTokenOf("run-4", job.id);
          answers.old = await steal(old);
          answers.current = await steal(current);
          authorized = false;
          answers.voided = await steal(current);
          authorized = true;
          stop.abort();
        })();
      },
    });
    await attacked;
    assert.equal(result.status, "cancelled", log);
    assert.equal(answers.old?.status, 403, "the ended attempt's token");
    assert.equal(answers.old?.body.value, undefined);
    assert.equal(answers.current?.status, 200, "the running attempt's own token works");
    assert.equal(answers.voided?.status, 403, "the commit is no longer authorized");
    assert.match(answers.voided?.body.error ?? "", /approve it again/);
    assert.equal((await issued()) - before, 1, "only the running attempt's token was minted");
    // Cancelling deleted the Job; its token gets nothing any more either.
    const after = await steal(current);
    assert.equal(after.status, 403, "and nothing once it ended");
  });
});
