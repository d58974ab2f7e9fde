// `executor.gitlab` across restarts of the gateway process: a SIGTERM (a deploy, an upgrade) leaves
// the running GitLab pipeline running and records the run as interrupted, and the restarted
// gateway adopts that pipeline and reports its result; a SIGKILL is recovered the same way; a
// user's /cancel still cancels the pipeline, the adopted one included. The gateway runs as a child
// process (the same server, loop, flow, sandbox and secrets as the in-process tests), against the
// GitHub double and the GitLab double.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import path from "node:path";
import { after, afterEach, before, beforeEach, test } from "node:test";
import SQLite from "better-sqlite3";
import { openStore } from "../../src/store/index.js";
import type { GitLabDouble, ScriptedJob } from "../executors/gitlab/double.js";
import { deliver as deliverSigned } from "../gateway/helpers.js";
import { startChild } from "./child.js";
import { gitlabWorld } from "./gitlab-world.js";
import { commentPayload, prPayload, TRUSTED, WEBHOOK_SECRET, type World } from "./harness.js";

const TRIGGER = "glptt-restart-5e4d3c2b1a";
const API = "glpat-restart-Kk8Jj7Hh6";

const job = (name: string, status: string, stage = "test"): ScriptedJob => ({
  name,
  status,
  stage,
  duration: 3,
});
const RUNNING = {
  status: "running",
  jobs: [
    job("verify-dispatch", "success", "verify"),
    job("functional-aws", "running"),
    job("functional-scw", "running"),
  ],
};
const GREEN = {
  status: "success",
  jobs: [
    job("verify-dispatch", "success", "verify"),
    job("functional-aws", "success"),
    job("functional-scw", "success"),
  ],
};

let gl: GitLabDouble;
let w: World;
let child: ChildProcess | undefined;
let url = "";

before(async () => {
  ({ gl, w } = await gitlabWorld(TRIGGER, API));
});
/** A gateway a failed test left behind is killed, so that the next test starts its own. */
async function killLeftover(): Promise<void> {
  const p = child;
  child = undefined;
  if (p && p.exitCode === null && p.signalCode === null) {
    p.kill("SIGKILL");
    await exited(p);
  }
}
afterEach(killLeftover);
after(async () => {
  await killLeftover();
  try {
    w?.gh.assertNoViolations();
    assert.deepEqual(gl?.violations ?? [], [], "every GitLab request matched the documented API");
  } finally {
    await w?.close();
    await gl?.close();
  }
});
beforeEach(() => {
  // Pipelines stay running until a test finishes them.
  gl.script = [RUNNING];
});

/** Starts the gateway on the world's data directory. */
async function start(): Promise<void> {
  const c = await startChild(w);
  child = c.proc;
  url = c.url;
}

function exited(p: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (p.exitCode !== null || p.signalCode !== null) {
    return Promise.resolve({ code: p.exitCode, signal: p.signalCode });
  }
  return new Promise((r) => p.once("exit", (code, signal) => r({ code, signal })));
}

/** Stops the gateway with `signal` and waits for it to exit. */
async function stop(signal: "SIGTERM" | "SIGKILL") {
  const p = child!;
  p.kill(signal);
  const how = await exited(p);
  child = undefined;
  return how;
}

async function deliver(event: string, payload: unknown): Promise<void> {
  const res = await deliverSigned(url, { event, payload, secret: WEBHOOK_SECRET });
  assert.equal(res.status, 202, `${event} accepted`);
}

async function waitFor<T>(what: string, ok: () => T | undefined | false, ms = 45_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = ok();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Reads the gateway's database (it belongs to the child: opened read-only, briefly). */
function query<T>(sql: string, ...params: unknown[]): T[] {
  const db = new SQLite(path.join(w.dataDir, "airlock.db"), { readonly: true });
  try {
    return db.prepare(sql).all(...params) as T[];
  } finally {
    db.close();
  }
}

interface RequestRow {
  id: string;
  attempt: number;
  state: string;
  note: string | null;
  interrupted_by: string | null;
  status: string | null;
}
const requestsOf = (pr: number) =>
  query<RequestRow>(
    `SELECT q.id, q.attempt, q.state, q.note, q.interrupted_by, r.status FROM run_requests q
     LEFT JOIN runs r ON r.id = q.id WHERE q.pr = ? ORDER BY q.attempt`,
    pr,
  );

/** Nothing of the PR queued or running, and nothing waiting in the outbox. */
const settled = (pr: number) => () =>
  query<{ n: number }>(
    `SELECT (SELECT count(*) FROM events WHERE state IN ('pending','processing'))
          + (SELECT count(*) FROM run_requests WHERE pr = ? AND state IN ('queued','running'))
          + (SELECT count(*) FROM outbox WHERE state IN ('pending','delivering')) AS n`,
    pr,
  )[0]!.n === 0;

const triggersFor = (sha: string) =>
  gl.triggers.filter((t) => t.variables.AIRLOCK_SOURCE_SHA === sha);
const check = (sha: string, name: string) => w.check(sha, name);

/** Opens a trusted PR and waits until its pipeline runs and its checks show it in progress. */
async function pipelineRunning() {
  const pr = w.openPr({ author: TRUSTED });
  await deliver("pull_request", prPayload("opened", pr, { baseSha: w.baseSha }));
  const id = await waitFor("the pipeline to be followed", () => {
    const t = triggersFor(pr.headSha)[0];
    return t && (gl.pipeline(t.pipelineId)?.gets ?? 0) > 0 && t.pipelineId;
  });
  await waitFor(
    "the restricted checks to be in progress",
    () =>
      check(pr.headSha, "airlock/functional-aws")?.status === "in_progress" &&
      check(pr.headSha, "airlock/functional-scw")?.status === "in_progress",
  );
  return { pr, id };
}

/** After a restart: the same pipeline is polled again (more than `gets` times), none triggered. */
async function adopted(sha: string, id: number, gets: number) {
  await waitFor("the restarted gateway to follow the pipeline", () => {
    assert.equal(triggersFor(sha).length, 1, "the restarted gateway triggered a second pipeline");
    return (gl.pipeline(id)?.gets ?? 0) > gets;
  });
}

/** The pipeline is adopted after a restart, then GitLab ends it. */
async function adoptedThenFinished(
  pr: { number: number; headSha: string },
  id: number,
  gets: number,
) {
  await adopted(pr.headSha, id, gets);
  gl.finish(id, GREEN);
  await waitFor("the gateway to settle", settled(pr.number));
}

function assertGreen(sha: string) {
  const checks = w.checks(sha);
  for (const name of [
    "airlock/unit",
    "airlock/functional-aws",
    "airlock/functional-scw",
    "airlock/all-tests",
  ]) {
    assert.equal(checks[name], "success", name);
  }
}

test("SIGTERM leaves the pipeline running; after the restart it is adopted and reported", {
  timeout: 120_000,
}, async () => {
  await start();
  const { pr, id } = await pipelineRunning();

  const how = await stop("SIGTERM");
  assert.equal(how.code, 0, "the gateway shut down cleanly");
  assert.ok(!gl.cancels.includes(id), "the shutdown did not cancel the pipeline");
  const [first, second] = requestsOf(pr.number);
  assert.equal(first?.status, "interrupted", "the run is recorded as interrupted");
  assert.equal(first?.interrupted_by, "shutdown");
  assert.match(first?.note ?? "", /interrupted by a shutdown/);
  assert.equal(second?.state, "queued", "a new attempt waits for the restart");
  // The checks were left in progress: nothing told GitHub the jobs were cancelled.
  for (const name of ["airlock/functional-aws", "airlock/functional-scw"]) {
    const c = check(pr.headSha, name)!;
    assert.equal(c.status, "in_progress", name);
    assert.ok(
      c.history.every((h) => h.conclusion === undefined || h.conclusion === null),
      `${name} never got a conclusion`,
    );
  }

  const gets = gl.pipeline(id)!.gets;
  await start();
  await adoptedThenFinished(pr, id, gets);

  assert.equal(triggersFor(pr.headSha).length, 1, "exactly one pipeline was ever triggered");
  assert.ok(!gl.cancels.includes(id), "the pipeline was never cancelled");
  assertGreen(pr.headSha);
  const reqs = requestsOf(pr.number);
  assert.equal(reqs.length, 2);
  assert.equal(reqs[1]!.status, "passed", "the new attempt reports the adopted pipeline's result");
  // A shutdown spends no attempt: the second attempt counts as the first.
  const store = await openStore({ dataDir: w.dataDir, migrate: false });
  try {
    assert.equal(await store.requests.attemptsSpent((await store.requests.get(reqs[1]!.id))!), 1);
  } finally {
    await store.close();
  }
  assert.equal((await stop("SIGTERM")).code, 0);
});

test("SIGKILL mid-pipeline: the restarted gateway adopts the pipeline, no second trigger", {
  timeout: 120_000,
}, async () => {
  await start();
  const { pr, id } = await pipelineRunning();

  await stop("SIGKILL");
  const gets = gl.pipeline(id)!.gets;
  await start();
  await adoptedThenFinished(pr, id, gets);

  assert.equal(triggersFor(pr.headSha).length, 1, "exactly one pipeline was ever triggered");
  assert.ok(!gl.cancels.includes(id));
  assertGreen(pr.headSha);
  const reqs = requestsOf(pr.number);
  assert.equal(reqs.length, 2);
  assert.equal(reqs[0]!.interrupted_by, "lost", "a crash is a lost gateway, no shutdown");
  assert.equal(reqs[1]!.status, "passed");
  assert.equal((await stop("SIGTERM")).code, 0);
});

test("SIGKILL with two runs on the head: the gate never concludes while their retries are queued", {
  timeout: 120_000,
}, async () => {
  await start();
  const { pr, id } = await pipelineRunning();
  await deliver("issue_comment", commentPayload(pr.number, "/test all", TRUSTED));
  const second = await waitFor("the second run's pipeline to be followed", () => {
    const t = triggersFor(pr.headSha)[1];
    return t && (gl.pipeline(t.pipelineId)?.gets ?? 0) > 0 && t.pipelineId;
  });

  // Both runs are cut off mid-pipeline; at the next start, each is taken up again in turn.
  await stop("SIGKILL");
  const gets = [gl.pipeline(id)!.gets, gl.pipeline(second)!.gets];
  await start();
  await waitFor("the restarted gateway to follow both pipelines", () => {
    assert.equal(triggersFor(pr.headSha).length, 2, "no pipeline was triggered again");
    return gl.pipeline(id)!.gets > gets[0]! && gl.pipeline(second)!.gets > gets[1]!;
  });
  const concluded = () =>
    w.gh
      .checkRuns("acme/app", pr.headSha)
      .filter((c) => c.name === "airlock/all-tests")
      .flatMap((c) => c.history)
      .map((h) => h.conclusion)
      .filter((c) => c != null);
  assert.deepEqual(concluded(), [], "no conclusion while both runs are taken up again");
  assert.equal(check(pr.headSha, "airlock/all-tests")?.status, "in_progress");

  gl.finish(id, GREEN);
  gl.finish(second, GREEN);
  await waitFor("the gateway to settle", settled(pr.number));
  assertGreen(pr.headSha);
  assert.deepEqual(concluded(), ["success"], "the gate concluded once, green");
  const reqs = requestsOf(pr.number);
  assert.deepEqual(
    reqs.map((r) => [r.attempt, r.state]),
    [
      [1, "done"],
      [1, "done"],
      [2, "done"],
      [2, "done"],
    ],
  );
  assert.equal((await stop("SIGTERM")).code, 0);
});

test("/cancel still cancels the pipeline, also one adopted after a graceful restart", {
  timeout: 120_000,
}, async () => {
  await start();
  const { pr, id } = await pipelineRunning();
  await stop("SIGTERM");
  assert.ok(!gl.cancels.includes(id), "the shutdown did not cancel the pipeline");

  const gets = gl.pipeline(id)!.gets;
  await start();
  await adopted(pr.headSha, id, gets);
  await deliver("issue_comment", commentPayload(pr.number, "/cancel", TRUSTED));
  await waitFor("the pipeline to be cancelled", () => gl.cancels.includes(id));
  await waitFor("the gateway to settle", settled(pr.number));

  assert.equal(triggersFor(pr.headSha).length, 1);
  const checks = w.checks(pr.headSha);
  assert.equal(checks["airlock/functional-aws"], "cancelled");
  assert.equal(checks["airlock/functional-scw"], "cancelled");
  assert.notEqual(checks["airlock/all-tests"], "success");
  const reqs = requestsOf(pr.number);
  assert.equal(reqs.at(-1)!.status, "cancelled", "a user's cancel is recorded as cancelled");
  assert.equal((await stop("SIGTERM")).code, 0);
});

// A run cancelled or superseded while no attempt follows its pipeline: the GitLab double refuses
// the retry's lookup (every attempt of its client) so that the retry cannot adopt the pipeline,
// and the event arrives while it tries. The pipeline must not run on with the secrets.

/** The client's attempts at one request: enough 503s make the retry's lookup fail for good. */
const CLIENT_ATTEMPTS = 5;

/**
 * SIGTERM mid-pipeline (`whileStopped` then acts on GitLab's side), then a restart whose retry
 * cannot adopt the pipeline; resolves while it tries.
 */
async function restartedWithoutAdopting(whileStopped?: (id: number) => void) {
  await start();
  const running = await pipelineRunning();
  assert.equal((await stop("SIGTERM")).code, 0);
  whileStopped?.(running.id);
  gl.fail("list", 503, CLIENT_ATTEMPTS);
  const since = Date.now();
  await start();
  await waitFor("the retry to look for the pipeline", () =>
    gl.requests.some((r) => r.at >= since && r.method === "GET" && /\/pipelines$/.test(r.path)),
  );
  return running;
}

interface AbandonedNote {
  work?: { executor: string; id: string; outcome: string; status: string }[];
  error?: string;
}
/** What the newest run of the PR recorded about pipelines no attempt followed. */
const abandonedNote = (pr: number): AbandonedNote | undefined => {
  const [row] = query<{ notes: string }>(
    `SELECT r.notes FROM runs r JOIN run_requests q ON q.id = r.id WHERE q.pr = ?
     ORDER BY q.attempt DESC LIMIT 1`,
    pr,
  );
  return row ? (JSON.parse(row.notes) as { abandoned?: AbandonedNote }).abandoned : undefined;
};
const cancelsOf = (id: number) => gl.cancels.filter((c) => c === id).length;

test("/cancel after a graceful restart, before the retry adopted the pipeline, cancels it", {
  timeout: 120_000,
}, async () => {
  const { pr, id } = await restartedWithoutAdopting();
  await deliver("issue_comment", commentPayload(pr.number, "/cancel", TRUSTED));
  await waitFor("the pipeline to be cancelled", () => gl.pipeline(id)!.cancelled);
  await waitFor("the gateway to settle", settled(pr.number));

  assert.equal(triggersFor(pr.headSha).length, 1, "exactly one pipeline was ever triggered");
  assert.equal(cancelsOf(id), 1, "the pipeline was cancelled once");
  const reqs = requestsOf(pr.number);
  assert.equal(reqs.at(-1)!.status, "cancelled", "the run is recorded as cancelled");
  assert.deepEqual(
    abandonedNote(pr.number)?.work?.map((p) => [p.executor, p.id, p.outcome]),
    [["gitlab", String(id), "stopped"]],
    "the run records that its pipeline was cancelled",
  );
  assert.equal((await stop("SIGTERM")).code, 0);
});

test("a push after a graceful restart cancels the old head's pipeline; the new head gets its own", {
  timeout: 120_000,
}, async () => {
  const { pr, id } = await restartedWithoutAdopting();
  const oldSha = pr.headSha;
  const newSha = w.push(pr);
  await deliver("pull_request", prPayload("synchronize", pr, { baseSha: w.baseSha }));
  await waitFor("the old pipeline to be cancelled", () => gl.pipeline(id)!.cancelled);
  const next = await waitFor("the new head's pipeline", () => triggersFor(newSha)[0]?.pipelineId);
  gl.finish(next, GREEN);
  await waitFor("the gateway to settle", settled(pr.number));

  assert.equal(triggersFor(oldSha).length, 1, "the old head's pipeline was never triggered again");
  assert.equal(triggersFor(newSha).length, 1, "the new head got exactly one pipeline");
  assert.equal(cancelsOf(id), 1);
  assert.equal(cancelsOf(next), 0, "the new head's pipeline was not cancelled");
  assertGreen(newSha);
  assert.equal((await stop("SIGTERM")).code, 0);
});

test("a crash between the run's cancel and the pipeline's cancel: the next start cancels it", {
  timeout: 120_000,
}, async () => {
  gl.holdCancels = true;
  try {
    const { pr, id } = await restartedWithoutAdopting();
    await deliver("issue_comment", commentPayload(pr.number, "/cancel", TRUSTED));
    // The run is cancelled in the store and the pipeline's cancel is on its way: kill Airlock.
    await waitFor("the pipeline's cancel to be sent", () => gl.heldCancels.includes(id));
    await stop("SIGKILL");
    gl.releaseCancels();
    assert.equal(gl.pipeline(id)!.cancelled, false, "the held cancel was not carried out");
    assert.equal(requestsOf(pr.number).at(-1)!.status, "cancelled");

    await start();
    await waitFor(
      "the pipeline to be cancelled after the restart",
      () => gl.pipeline(id)!.cancelled,
    );
    await waitFor("the gateway to settle", settled(pr.number));
    assert.equal(triggersFor(pr.headSha).length, 1, "exactly one pipeline was ever triggered");
    assert.equal(cancelsOf(id), 1);
    assert.equal((await stop("SIGTERM")).code, 0);
  } finally {
    gl.releaseCancels();
  }
});

test("a pipeline that finished while Airlock was stopped is not cancelled", {
  timeout: 120_000,
}, async () => {
  const { pr, id } = await restartedWithoutAdopting((id) => gl.finish(id, GREEN));
  await deliver("issue_comment", commentPayload(pr.number, "/cancel", TRUSTED));
  await waitFor("the gateway to settle", settled(pr.number));

  assert.equal(cancelsOf(id), 0, "a finished pipeline is left alone");
  assert.equal(triggersFor(pr.headSha).length, 1);
  assert.deepEqual(
    abandonedNote(pr.number)?.work?.map((p) => [p.executor, p.id, p.outcome, p.status]),
    [["gitlab", String(id), "ended", "success"]],
    "the run records that the pipeline had ended",
  );
  assert.equal((await stop("SIGTERM")).code, 0);
});
