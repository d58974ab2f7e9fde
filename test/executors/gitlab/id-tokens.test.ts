// ID tokens for a GitLab pipeline's jobs, attacked. Airlock sends the pipeline no credential: a
// job that declares `id_tokens` asks Airlock's job API (a real HTTP server on loopback) with the
// run's dispatch token and its CI_JOB_TOKEN, and Airlock asks the GitLab double whose token that
// is. Only a running job of the run's own pipeline, named like an Airlock job that declares
// `id_tokens`, gets a token, and only while the commit is authorized; the token verifies with a
// standard JOSE library against the issuer's JWKS and goes to the job's redactor.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { after, before, describe, test } from "node:test";
import { createLocalJWKSet, jwtVerify } from "jose";
import { type JobApiServer, startJobApiServer } from "../../../src/cli/job-api-server.js";
import { signDispatch } from "../../../src/dispatch/index.js";
import { runAttempt } from "../../../src/executors/attempt.js";
import { GitLabExecutor } from "../../../src/executors/gitlab/executor.js";
import { GITLAB_VARIABLES } from "../../../src/executors/gitlab/variables.js";
import type { JobResult, JobSpec, RunContext } from "../../../src/executors/types.js";
import { createRedactor } from "../../../src/redact/redactor.js";
import type { RegisteredSecret } from "../../../src/redact/types.js";
import type { RunIdentity } from "../../../src/secrets/oidc/claims.js";
import { grantIdTokens } from "../../../src/secrets/oidc/grant.js";
import type { SecretGrant } from "../../../src/secrets/types.js";
import { jobIdentity, startIssuer, type TestIssuer } from "../../oidc/helpers.js";
import { GitLabDouble, type ScriptedJob } from "./double.js";

const TRIGGER = "glptt-trigger-5e6f";
const API = "glpat-api-1a2b";
const SHA = "3b18e512dba79e4c8300dd08aeb37f8e728b8dad";
const MIN = 60_000;
const { runId: _r, jobId: _j, template: _t, ...RUN } = jobIdentity({ sha: SHA });
const IDENTITY: RunIdentity = RUN;

const deploy: JobSpec = {
  id: "deploy",
  run: "true",
  secrets: [],
  timeoutMs: 30 * MIN,
  network: true,
  reports: [],
  idTokens: { CLOUD_ID_TOKEN: { aud: ["sts.amazonaws.com"], file: false, lifetimeMs: 10 * MIN } },
};
const functional: JobSpec = { ...deploy, id: "functional", secrets: ["cloud"], idTokens: {} };
const running: ScriptedJob[] = [
  { name: "verify-dispatch", status: "success" },
  { name: "deploy", status: "running" },
  { name: "functional", status: "running" },
];
const passed: ScriptedJob[] = running.map((j) => ({ ...j, status: "success" }));

let gl: GitLabDouble;
let t: TestIssuer;
let api: JobApiServer;
let dataDir: string;
let seq = 0;
let authorized = true;

before(async () => {
  gl = await new GitLabDouble(TRIGGER, API).start();
  t = await startIssuer();
  dataDir = mkdtempSync(path.join(os.tmpdir(), "airlock-gitlab-idt-"));
  api = await startJobApiServer(dataDir);
});
after(async () => {
  await api.close();
  await gl.close();
  await t.close();
  rmSync(dataDir, { recursive: true, force: true });
});

function executor(withApi = true): GitLabExecutor {
  return new GitLabExecutor({
    config: {
      url: gl.url,
      project: "team/functional-tests",
      ref: "main",
      secrets: "gitlab",
      timeout: "1h",
      dispatch_ttl: "1h",
      poll_interval: "1s",
    },
    dataDir,
    ...(withApi ? { jobApi: api.jobApi } : {}),
  });
}

function runContext(runId: string, signal: AbortSignal): RunContext {
  return {
    runId,
    repo: RUN.repo,
    branch: "feature/dns",
    sha: SHA,
    approver: "maintainer-1",
    labels: [],
    jobs: [deploy, functional],
    signal,
    authorize: async () => {},
    grantSet: async () => ({
      set: "gitlab",
      env: { GITLAB_TRIGGER_TOKEN: TRIGGER, GITLAB_API_TOKEN: API },
      files: [],
      mask: [
        { name: "GITLAB_TRIGGER_TOKEN", value: TRIGGER },
        { name: "GITLAB_API_TOKEN", value: API },
      ],
      versions: {},
      notes: [],
      overridable: [],
      release: async () => {},
    }),
    createRedactor: (values) => createRedactor({ secrets: values }),
  };
}

/** The grant the runner makes for a job with id_tokens on an executor that holds its secrets. */
function grant(runId: string): Promise<SecretGrant> {
  return grantIdTokens(
    deploy,
    {
      runId,
      jobId: deploy.id,
      timeoutMs: deploy.timeoutMs,
      identity: IDENTITY,
      freshOnly: true,
      authorize: async () => {
        if (!authorized) throw new Error("the pull request's head moved on: approve it again");
      },
    },
    { issuer: t.issuer, sub: "repo:{repo}:job:{job}", actor: "test" },
  );
}

interface Started {
  runId: string;
  pipelineId: number;
  variables: Record<string, string>;
  masked: RegisteredSecret[];
  /** Ends the pipeline as passed and waits for both jobs' results. */
  finish(): Promise<JobResult[]>;
}

/** Starts both jobs of a run on the executor and waits until GitLab runs them. */
async function start(): Promise<Started> {
  gl.script = [{ status: "running", jobs: running }];
  const runId = `run-gl-${++seq}`;
  const g = await grant(runId);
  const masked: RegisteredSecret[] = [];
  g.watch?.((values) => masked.push(...values));
  const prepared = await executor().prepare(runContext(runId, new AbortController().signal));
  const results = [deploy, functional].map((job) =>
    runAttempt(
      prepared,
      {
        runId,
        job,
        checkout: { kind: "commit", repoDir: dataDir, sha: SHA },
        env: {},
        secretEnv: {},
        secretFiles: [],
        mounts: [],
        ...(job === deploy && g.idTokens ? { idTokens: g.idTokens } : {}),
      },
      { output: new PassThrough().resume(), signal: new AbortController().signal },
    ),
  );
  const trigger = await until(() => gl.triggers.find((x) => x.variables.AIRLOCK_RUN_ID === runId));
  // The executor learns its pipeline from the trigger's answer, before any job can ask.
  await until(() => (gl.pipeline(trigger.pipelineId)?.gets ?? 0) > 0 || undefined);
  return {
    runId,
    pipelineId: trigger.pipelineId,
    variables: trigger.variables,
    masked,
    finish: async () => {
      gl.finish(trigger.pipelineId, { status: "success", jobs: passed });
      const out = await Promise.all(results);
      await prepared.close();
      await g.release();
      return out;
    },
  };
}

async function until<T>(f: () => T | undefined): Promise<T> {
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Asks for a token as the pipeline's job does (curl in the docs). */
async function ask(
  s: Started,
  o: { jobToken?: string; bearer?: string; audience?: string; endpoint?: string } = {},
) {
  const url = new URL(s.variables[GITLAB_VARIABLES.idTokenUrl]!);
  if (o.endpoint) url.pathname = url.pathname.replace(/id-token$/, o.endpoint);
  url.searchParams.set("audience", o.audience ?? "sts.amazonaws.com");
  const headers: Record<string, string> = {
    authorization: `Bearer ${o.bearer ?? s.variables[GITLAB_VARIABLES.dispatch]}`,
  };
  if (o.jobToken !== undefined) headers["job-token"] = o.jobToken;
  const r = await fetch(url, { headers });
  return { status: r.status, body: (await r.json()) as { value?: string; error?: string } };
}

describe("ID tokens for a GitLab pipeline's jobs", () => {
  test("the running job that declares id_tokens gets a token that verifies, and nothing is a pipeline variable", async () => {
    const s = await start();
    try {
      assert.match(
        s.variables[GITLAB_VARIABLES.idTokenUrl]!,
        /^http:\/\/127\.0\.0\.1:\d+\/job-api\/v1\/id-token$/,
      );
      // No token, and no credential for the job API, among the pipeline's variables.
      for (const v of Object.values(s.variables)) assert.notEqual(v.split(".").length, 3, v);
      const r = await ask(s, { jobToken: gl.jobToken(s.pipelineId, "deploy") });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const keys = createLocalJWKSet(await t.issuer.jwks());
      const { payload } = await jwtVerify(r.body.value!, keys, {
        issuer: t.url,
        audience: "sts.amazonaws.com",
      });
      assert.equal(payload.job, "deploy");
      assert.equal(payload.sha, SHA);
      assert.equal(payload.run_id, s.runId);
      assert.equal(payload.authorized_by, "maintainer-1");
      // Registered with the job's redactor before the job holds it.
      assert.ok(s.masked.some((m) => m.value === r.body.value));
      // GitLab was asked with the job's token alone, never with Airlock's API token.
      const asked = gl.requests.filter((q) => q.path === "/api/v4/job");
      assert.ok(asked.length > 0);
      for (const q of asked) assert.equal(q.headers["private-token"], undefined);
      const jwks = await ask(s, {
        jobToken: gl.jobToken(s.pipelineId, "deploy"),
        endpoint: "jwks",
      });
      assert.equal(jwks.status, 200);
    } finally {
      const results = await s.finish();
      assert.deepEqual(
        results.map((x) => x.status),
        ["passed", "passed"],
      );
    }
    assert.deepEqual(gl.violations, []);
  });

  test("attacks: no job token, another job's, another pipeline's, a forged dispatch, other endpoints", async () => {
    const s = await start();
    const other = await start();
    try {
      const refused = async (o: Parameters<typeof ask>[1], status: number) => {
        const r = await ask(s, o);
        assert.equal(r.status, status, JSON.stringify({ o, r }));
        assert.equal(r.body.value, undefined);
      };
      // The dispatch token alone (a copy of the pipeline's variables) is worth nothing.
      await refused({}, 403);
      await refused({ jobToken: "glcbt-made-up" }, 403);
      // A job of the pipeline that declares no id_tokens.
      await refused({ jobToken: gl.jobToken(s.pipelineId, "functional") }, 403);
      // A job that ran already (GitLab refuses its token) or never ran.
      await refused({ jobToken: gl.jobToken(s.pipelineId, "verify-dispatch") }, 403);
      // The right job name, in another run's pipeline: not this run's.
      await refused({ jobToken: gl.jobToken(other.pipelineId, "deploy") }, 403);
      // The other run's dispatch with this run's job token: the pipelines differ.
      await refused(
        {
          bearer: other.variables[GITLAB_VARIABLES.dispatch]!,
          jobToken: gl.jobToken(s.pipelineId, "deploy"),
        },
        403,
      );
      // A dispatch signed by another key, for this run and job.
      const forged = signDispatch(
        {
          runId: s.runId,
          repo: RUN.repo,
          sha: SHA,
          tests: ["deploy"],
          approver: "mallory",
          expiresAt: Date.now() + MIN,
        },
        generateKeyPairSync("ed25519").privateKey,
      );
      await refused({ bearer: forged, jobToken: gl.jobToken(s.pipelineId, "deploy") }, 401);
      // The dispatch opens only the ID-token endpoints, never the source or secrets.
      for (const endpoint of ["source", "secrets"]) {
        await refused({ endpoint, jobToken: gl.jobToken(s.pipelineId, "deploy") }, 401);
      }
      // GitLab failing to answer is said as such: nothing is issued.
      gl.fail("job", 502);
      await refused({ jobToken: gl.jobToken(s.pipelineId, "deploy") }, 503);
    } finally {
      await s.finish();
      await other.finish();
    }
  });

  test("no token once the commit is no longer authorized, or once the job ended", async () => {
    const s = await start();
    const token = gl.jobToken(s.pipelineId, "deploy");
    try {
      authorized = false;
      const r = await ask(s, { jobToken: token });
      assert.equal(r.status, 403);
      assert.match(r.body.error ?? "", /no longer authorized|approve it again/);
    } finally {
      authorized = true;
    }
    await s.finish();
    // Even were GitLab still to take the token for a running job, Airlock's side has closed.
    gl.finish(s.pipelineId, { status: "running", jobs: running });
    const ended = await ask(s, { jobToken: token });
    assert.equal(ended.status, 403);
    assert.equal(ended.body.value, undefined);
  });

  test("without a job API the pipeline is not started: the message names the fix", async () => {
    gl.script = [{ status: "running", jobs: running }];
    const before = gl.triggers.length;
    await assert.rejects(
      executor(false).prepare(runContext(`run-gl-${++seq}`, new AbortController().signal)),
      /job deploy declares id_tokens.*airlock serve.*AIRLOCK_PUBLIC_URL/,
    );
    assert.equal(gl.triggers.length, before);
  });
});
