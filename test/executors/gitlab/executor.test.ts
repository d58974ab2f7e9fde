import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import {
  loadOrCreateDispatchKey,
  signDispatch,
  verifyDispatch,
} from "../../../src/dispatch/index.js";
import {
  EmptySelectionError,
  GITLAB_STATUSES,
  GitLabClient,
  GitLabPipelines,
  type RestrictedRunRequest,
} from "../../../src/executors/gitlab/index.js";
import { GitLabDouble, type ScriptedJob } from "./double.js";

const TRIGGER = "glptt-trigger-0a1b2c3d";
const API = "glpat-api-9z8y7x";
const dir = mkdtempSync(path.join(os.tmpdir(), "airlock-gitlab-"));
const key = loadOrCreateDispatchKey(dir);
const SHA = "3b18e512dba79e4c8300dd08aeb37f8e728b8dad";
let gl: GitLabDouble;

before(async () => {
  gl = await new GitLabDouble(TRIGGER, API).start();
});
after(async () => {
  await gl.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  gl.violations.length = 0;
  gl.requests.length = 0;
  gl.triggers.length = 0;
  gl.cancels.length = 0;
});

function executor(
  over: {
    project?: string | number;
    triggerToken?: string;
    timeoutMs?: number;
    attempts?: number;
  } = {},
) {
  const client = new GitLabClient({
    baseUrl: gl.url,
    project: over.project ?? "team/functional-tests",
    apiToken: API,
    retry: { attempts: over.attempts ?? 4, baseDelayMs: 1, maxDelayMs: 5 },
  });
  return new GitLabPipelines({
    client,
    triggerToken: over.triggerToken ?? TRIGGER,
    ref: "main",
    sign: (c) => signDispatch(c, key.privateKey),
    poll: { initialMs: 1, maxMs: 4 },
    lookupDelayMs: 1,
    ...(over.timeoutMs ? { timeoutMs: over.timeoutMs } : {}),
  });
}

function request(over: Partial<RestrictedRunRequest> = {}): RestrictedRunRequest {
  return {
    runId: "run-7",
    repo: "example-org/engine",
    repoUrl: "https://github.com/example-org/engine.git",
    branch: "feature/dns",
    sha: SHA,
    approver: "alice",
    tests: ["aws-infra", "do-managed"],
    labels: ["test-aws-infra", "test-do-managed"],
    suite: { ref: "feature/dns", sha: "c".repeat(40) },
    signal: new AbortController().signal,
    ...over,
  };
}

const ok = (name: string, duration = 12.5): ScriptedJob => ({ name, status: "success", duration });
const finalJobs = [ok("verify-dispatch", 1), ok("aws-infra"), ok("do-managed")];

function assertClean(): void {
  assert.deepEqual(gl.violations, [], "every request matched GitLab's documented API");
  for (const r of gl.requests) {
    assert.ok(!r.path.includes(TRIGGER) && !r.path.includes(API), "no token in a URL");
    assert.doesNotMatch(r.path, /trace|artifacts/, "never fetches logs or artifacts");
  }
}

describe("GitLab pipeline executor", () => {
  it("triggers with the selection and a dispatch token that verifies, then follows to success", async () => {
    gl.script = [
      { status: "created" },
      { status: "pending" },
      {
        status: "running",
        jobs: [ok("verify-dispatch", 1), { name: "aws-infra", status: "running" }],
      },
      { status: "success", jobs: finalJobs },
    ];
    const updates: string[] = [];
    const r = await executor().runRestricted(
      request({ onUpdate: (u) => updates.push(u.pipeline.status) }),
    );
    assert.equal(r.status, "passed", r.error);
    assert.equal(r.error, undefined);
    assert.deepEqual(Object.keys(r.jobs).sort(), ["aws-infra", "do-managed"]);
    assert.equal(r.jobs["aws-infra"]!.status, "passed");
    assert.equal(r.jobs["aws-infra"]!.durationMs, 12500);
    assert.equal(r.gitlabJobs.length, 3, "helper jobs are reported too");
    assert.deepEqual(updates, ["created", "pending", "running"]);
    assert.equal(r.pipeline?.status, "success");

    const [t] = gl.triggers;
    assert.ok(t);
    assert.equal(gl.triggers.length, 1);
    assert.equal(t.ref, "main");
    assert.equal(t.project, "team/functional-tests");
    assert.ok(gl.requests[0]!.path.includes("/projects/team%2Ffunctional-tests/trigger/pipeline"));
    assert.equal(
      gl.requests[0]!.headers["private-token"],
      undefined,
      "the trigger needs no API token",
    );
    const v = t.variables;
    assert.equal(v.AIRLOCK_TESTS, "aws-infra,do-managed");
    assert.deepEqual(JSON.parse(v.AIRLOCK_TESTS_JSON!), ["aws-infra", "do-managed"]);
    assert.equal(v.AIRLOCK_SOURCE_REPO, "example-org/engine");
    assert.equal(v.AIRLOCK_SOURCE_URL, "https://github.com/example-org/engine.git");
    assert.equal(v.AIRLOCK_SOURCE_BRANCH, "feature/dns");
    assert.equal(v.AIRLOCK_SOURCE_SHA, SHA);
    assert.equal(v.AIRLOCK_SUITE_REF, "feature/dns");
    assert.equal(v.AIRLOCK_SUITE_SHA, "c".repeat(40));
    assert.equal(v.AIRLOCK_RUN_ID, "run-7");

    const claims = verifyDispatch(v.AIRLOCK_DISPATCH!, key.publicKey, {
      repo: v.AIRLOCK_SOURCE_REPO,
      sha: v.AIRLOCK_SOURCE_SHA,
      ref: t.ref,
      tests: v.AIRLOCK_TESTS!.split(","),
      now: Date.now(),
    });
    assert.equal(claims.approver, "alice");
    assert.equal(claims.runId, "run-7");
    assert.equal(claims.suiteRef, "feature/dns");
    // The private side refuses the same token for another commit or ref.
    assert.throws(
      () =>
        verifyDispatch(v.AIRLOCK_DISPATCH!, key.publicKey, {
          sha: "d".repeat(40),
          now: Date.now(),
        }),
      /commit/,
    );
    assertClean();
  });

  it("keeps polling through every active status", async () => {
    const active = [
      "created",
      "waiting_for_resource",
      "preparing",
      "pending",
      "scheduled",
      "running",
      "canceling",
    ];
    assert.deepEqual(
      [...GITLAB_STATUSES].sort(),
      [...active, "success", "failed", "canceled", "skipped", "manual"].sort(),
      "the test covers every documented status",
    );
    gl.script = [...active.map((status) => ({ status })), { status: "success", jobs: finalJobs }];
    const seen: string[] = [];
    const r = await executor().runRestricted(
      request({ onUpdate: (u) => seen.push(u.pipeline.status) }),
    );
    assert.equal(r.status, "passed");
    assert.deepEqual(seen, active);
    assertClean();
  });

  const finals: [string, ScriptedJob[], string, RegExp | undefined][] = [
    [
      "failed",
      [
        ok("verify-dispatch"),
        { name: "aws-infra", status: "failed" },
        { name: "do-managed", status: "failed", failure_reason: "job_execution_timeout" },
      ],
      "failed",
      undefined,
    ],
    [
      "canceled",
      [
        ok("verify-dispatch"),
        { name: "aws-infra", status: "canceled" },
        { name: "do-managed", status: "skipped" },
      ],
      "cancelled",
      /was cancelled/,
    ],
    ["skipped", [], "error", /skipped pipeline \d+ entirely/],
    [
      "manual",
      [ok("verify-dispatch"), { name: "aws-infra", status: "manual" }, ok("do-managed")],
      "error",
      /blocked on a manual job/,
    ],
  ];
  for (const [status, jobs, want, message] of finals) {
    it(`reports a pipeline that ends ${status}`, async () => {
      gl.script = [{ status: "running" }, { status, jobs }];
      const r = await executor().runRestricted(request());
      assert.equal(r.status, want);
      if (message) assert.match(r.error ?? "", message);
      assert.equal(gl.cancels.length, 0, "a finished pipeline is not cancelled");
      assertClean();
      if (status === "failed") {
        assert.equal(r.jobs["aws-infra"]!.status, "failed");
        assert.equal(r.jobs["do-managed"]!.status, "timed_out");
      }
      if (status === "manual") assert.equal(r.jobs["aws-infra"]!.status, "cancelled");
    });
  }

  it("does not call a green pipeline a pass when a selected test did not run", async () => {
    gl.script = [{ status: "success", jobs: [ok("verify-dispatch"), ok("aws-infra")] }];
    const r = await executor().runRestricted(request());
    assert.equal(r.status, "failed");
    assert.equal(r.jobs["do-managed"]!.status, "error");
    assert.match(r.jobs["do-managed"]!.error!, /no job named do-managed/);
  });

  it("reports an unknown status at once, and cancels the pipeline", async () => {
    gl.script = [{ status: "running" }, { status: "exploded" }, { status: "exploded" }];
    const r = await executor().runRestricted(request());
    assert.equal(r.status, "error");
    assert.match(r.error!, /unknown status "exploded"/);
    assert.deepEqual(gl.cancels, [r.pipeline!.id]);
    assertClean();
  });

  it("retries 5xx, 429 and connection resets, then carries on", async () => {
    gl.script = [{ status: "running" }, { status: "success", jobs: finalJobs }];
    gl.fail("trigger", 502, 2);
    gl.fail("pipeline", "reset", 2);
    gl.fail("pipeline", 503, 1);
    gl.fail("jobs", 429, 1);
    gl.fail("jobs", 500, 1);
    const r = await executor().runRestricted(request({ runId: "run-5xx" }));
    assert.equal(r.status, "passed", r.error);
    assert.equal(gl.triggers.length, 1);
    const count = (suffix: string) => gl.requests.filter((q) => q.path.endsWith(suffix)).length;
    assert.equal(count("/trigger/pipeline"), 3, "two failures, then the trigger");
    // A 5xx may hide a created pipeline: each one was looked for before triggering again.
    assert.equal(count("/pipelines"), 2);
    assert.ok(count("/jobs") >= 3, "two failures, then the jobs");
    assertClean();
  });

  it("backs off between retries unless GitLab says how long to wait", async () => {
    const id = (await executor().runRestricted(request())).pipeline!.id;
    const waits: number[] = [];
    const client = new GitLabClient({
      baseUrl: gl.url,
      project: "team/functional-tests",
      apiToken: API,
      retry: { attempts: 3, baseDelayMs: 400, maxDelayMs: 1000 },
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    gl.fail("pipeline", 503, 1); // no Retry-After: the backoff applies
    gl.fail("pipeline", 429, 1); // Retry-After: 0
    await client.getPipeline(id);
    assert.equal(waits.length, 2);
    assert.ok(waits[0]! >= 300, `waited ${waits[0]} ms after a 503 without Retry-After`);
    assert.equal(waits[1], 0, "a Retry-After of 0 is obeyed");
  });

  it("gives up after the bounded retries, says so, and still tries to cancel", async () => {
    gl.script = [{ status: "running" }];
    gl.fail("pipeline", 503, 2 + 3); // first poll passes after 2, the next poll exhausts 3 attempts
    const r = await executor({ attempts: 3 }).runRestricted(request());
    assert.equal(r.status, "error");
    assert.match(
      r.error!,
      /lost track of GitLab pipeline \d+: GitLab did not answer GET pipelines\/:id after 3 attempts \(last: HTTP 503\)/,
    );
    assert.deepEqual(gl.cancels, [r.pipeline!.id]);
  });

  it("reports a trigger GitLab refuses without retrying and without echoing tokens", async () => {
    const r = await executor({ triggerToken: "wrong-token" }).runRestricted(request());
    assert.equal(r.status, "error");
    assert.equal(r.pipeline, null);
    assert.match(r.error!, /HTTP 404.*trigger token/);
    assert.ok(!r.error!.includes("wrong-token") && !r.error!.includes(API));
    assert.equal(gl.requests.length, 1);
    for (const j of Object.values(r.jobs)) assert.equal(j.status, "error");
    const unknown = await executor({ project: "team/nope" }).runRestricted(request());
    assert.match(unknown.error!, /404 Project Not Found/);
  });

  it("cancels the pipeline when the run is superseded", async () => {
    gl.script = [
      { status: "pending" },
      {
        status: "running",
        jobs: [ok("verify-dispatch"), { name: "aws-infra", status: "running" }],
      },
    ];
    const ctl = new AbortController();
    const r = await executor().runRestricted(
      request({
        signal: ctl.signal,
        onUpdate: (u) => {
          if (u.pipeline.status === "running") ctl.abort("superseded by a newer push");
        },
      }),
    );
    assert.equal(r.status, "cancelled");
    assert.match(
      r.error!,
      /cancelled: GitLab pipeline \d+ was cancelled \(superseded by a newer push\)/,
    );
    assert.deepEqual(gl.cancels, [r.pipeline!.id]);
    assert.equal(r.pipeline!.status, "canceling");
    assert.equal(r.jobs["aws-infra"]!.status, "cancelled");
    assertClean();
  });

  it("never triggers when aborted first", async () => {
    const ctl = new AbortController();
    ctl.abort();
    const r = await executor().runRestricted(request({ signal: ctl.signal }));
    assert.equal(r.status, "cancelled");
    assert.equal(gl.requests.length, 0);
  });

  it("cancels a pipeline that outlives its timeout", async () => {
    gl.script = [{ status: "running" }];
    const r = await executor({ timeoutMs: 40 }).runRestricted(request());
    assert.equal(r.status, "timed_out");
    assert.deepEqual(gl.cancels, [r.pipeline!.id]);
  });

  it("never triggers for an empty selection, and names the labels", async () => {
    await assert.rejects(
      executor().runRestricted(request({ tests: [], labels: ["test-docs", "needs-review"] })),
      (e: Error) =>
        e instanceof EmptySelectionError &&
        /the labels test-docs, needs-review select no restricted test/.test(e.message),
    );
    assert.equal(gl.requests.length, 0);
  });

  it("reads every page of a large job list, with a numeric project id", async () => {
    const many = Array.from({ length: 130 }, (_, i) => ok(`t${i}`));
    gl.script = [{ status: "success", jobs: many }];
    const r = await executor({ project: 4242 }).runRestricted(request({ tests: ["t0", "t129"] }));
    assert.equal(r.status, "passed");
    assert.equal(r.gitlabJobs.length, 130);
    assert.ok(
      gl.requests.some((q) => q.path === `/api/v4/projects/4242/pipelines/${r.pipeline!.id}/jobs`),
    );
    assertClean();
  });
});

describe("the GitLab double", () => {
  it("rejects undocumented endpoints and records a violation", async () => {
    const res = await fetch(`${gl.url}/api/v4/projects/4242/jobs/1/trace`, {
      headers: { "PRIVATE-TOKEN": API },
    });
    assert.equal(res.status, 404);
    assert.match(gl.violations.join(), /undocumented endpoint GET/);
    const unencoded = await fetch(
      `${gl.url}/api/v4/projects/team/functional-tests/trigger/pipeline`,
      { method: "POST" },
    );
    assert.equal(unencoded.status, 404);
    const noAuth = await fetch(`${gl.url}/api/v4/projects/4242/pipelines/1000`);
    assert.equal(noAuth.status, 401);
  });
});
