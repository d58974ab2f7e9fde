// `executor.gitlab` through the gateway: signed webhooks into the real server, the GitHub double,
// real git, the bubblewrap sandbox for the public job, and the GitLab double for the restricted
// ones. Each GitLab job's result becomes an `airlock/<job>` check run; nothing GitLab says about a
// job reaches a check or a comment; a new push cancels the pipeline; an untrusted PR triggers
// nothing until a trusted member's `/ok-to-test`.
import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import { loadOrCreateDispatchKey, verifyDispatch } from "../../src/dispatch/index.js";
import type { GitLabDouble, ScriptedJob } from "../executors/gitlab/double.js";
import { PATIENCE_MS } from "../support/patience.js";
import { gitlabWorld } from "./gitlab-world.js";
import {
  commentPayload,
  prPayload,
  REPO,
  startFlowServer,
  TRUSTED,
  UNTRUSTED,
  type World,
} from "./harness.js";

const TRIGGER = "glptt-flow-7c6b5a4d3e2f1a0b";
const API = "glpat-flow-Qq9Ww8Ee7Rr6Tt5";
/** Planted in what GitLab says about jobs: it must never reach GitHub. */
const GITLAB_TEXT = "gl-job-text-Xy7Pq2Lm9Zr4";

let gl: GitLabDouble;
let w: World;

before(async () => {
  ({ gl, w } = await gitlabWorld(TRIGGER, API));
  w.server = await startFlowServer({ dataDir: w.dataDir, gh: w.gh, cloneBase: w.repo.cloneBase });
});
after(async () => {
  w?.gh.assertNoViolations();
  assert.deepEqual(gl?.violations ?? [], [], "every GitLab request matched the documented API");
  await w?.close();
  await gl?.close();
});
beforeEach(() => {
  gl.script = [{ status: "success", jobs: green() }];
});

type Pr = ReturnType<World["openPr"]>;

const job = (name: string, status: string, extra: Partial<ScriptedJob> = {}): ScriptedJob => ({
  name,
  status,
  duration: 4.5,
  ...extra,
});
const green = () => [
  job("verify-dispatch", "success", { stage: "verify" }),
  job("functional-aws", "success"),
  job("functional-scw", "success"),
];

async function send(action: string, pr: Pr, sender?: string) {
  const payload = prPayload(action, pr, { baseSha: w.baseSha, ...(sender ? { sender } : {}) });
  assert.equal((await w.send("pull_request", payload)).status, 202, `${action} accepted`);
}

async function comment(n: number, body: string, sender: string) {
  assert.equal((await w.send("issue_comment", commentPayload(n, body, sender))).status, 202);
  await w.settle();
}

async function waitFor(what: string, ok: () => boolean, ms = PATIENCE_MS) {
  const until = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const triggersFor = (sha: string) =>
  gl.triggers.filter((t) => t.variables.AIRLOCK_SOURCE_SHA === sha);

/** The id of the commit's pipeline, once Airlock has looked at it at least once. */
async function followed(sha: string): Promise<number> {
  await waitFor("the pipeline to be followed", () => {
    const t = triggersFor(sha)[0];
    return t !== undefined && (gl.pipeline(t.pipelineId)?.gets ?? 0) > 0;
  });
  return triggersFor(sha)[0]!.pipelineId;
}

/** Everything Airlock told GitHub about the PR: every check body ever sent, every comment. */
function public_(pr: Pr, shas: string[]): string {
  const checks = shas.flatMap((s) => w.gh.checkRuns(REPO, s)).map((c) => JSON.stringify(c));
  const comments = w.gh.comments(REPO, pr.number).map((c) => JSON.stringify(c));
  return [...checks, ...comments].join("\n");
}

function assertNothingFromGitLab(text: string) {
  for (const s of [GITLAB_TEXT, TRIGGER, API]) {
    assert.ok(!text.includes(s), "GitLab's text or a GitLab token reached GitHub");
  }
  // Nothing fetched a job's log (the double has no trace endpoint: it would be a violation).
  assert.ok(!gl.requests.some((r) => /\/jobs\/\d+\/trace|artifacts/.test(r.path)));
}

test("a trusted PR's restricted jobs run as one pipeline; each GitLab job becomes a check", async () => {
  const pr = w.openPr({ author: TRUSTED, headRef: "feature/dns" });
  await send("opened", pr);
  await w.settle();

  const mine = triggersFor(pr.headSha);
  assert.equal(mine.length, 1, "one pipeline for both restricted jobs");
  const t = mine[0]!;
  const runId = (await w.jobsOf(pr.headSha)).find((j) => j.job_id === "functional-aws")!.run_id;
  assert.equal(t.project, "team/functional-tests");
  assert.equal(t.ref, "main");
  assert.equal(t.token, TRIGGER);
  assert.equal(t.variables.AIRLOCK_TESTS, "functional-aws,functional-scw");
  assert.deepEqual(JSON.parse(t.variables.AIRLOCK_TESTS_JSON!), [
    "functional-aws",
    "functional-scw",
  ]);
  assert.equal(t.variables.AIRLOCK_SOURCE_REPO, REPO);
  assert.equal(t.variables.AIRLOCK_SOURCE_BRANCH, "feature/dns");
  assert.equal(t.variables.AIRLOCK_RUN_ID, runId);
  // The dispatch verifies with the gateway's published key, for exactly this run.
  const claims = verifyDispatch(
    t.variables.AIRLOCK_DISPATCH!,
    loadOrCreateDispatchKey(w.dataDir).publicKey,
    {
      repo: REPO,
      sha: pr.headSha,
      ref: t.ref,
      tests: ["functional-aws", "functional-scw"],
      now: Date.now(),
    },
  );
  assert.equal(claims.runId, runId);
  assert.equal(claims.approver, TRUSTED);
  assert.throws(() =>
    verifyDispatch(t.variables.AIRLOCK_DISPATCH!, loadOrCreateDispatchKey(w.dataDir).publicKey, {
      sha: w.baseSha,
      now: Date.now(),
    }),
  );

  const checks = w.checks(pr.headSha);
  assert.equal(checks["airlock/unit"], "success");
  assert.equal(checks["airlock/functional-aws"], "success");
  assert.equal(checks["airlock/functional-scw"], "success");
  assert.equal(checks["airlock/all-tests"], "success");
  assert.equal(checks["airlock/verify-dispatch"], undefined, "a GitLab helper job is no check");
  // Nothing was granted locally for the restricted jobs; the public job got no GitLab token.
  for (const j of await w.jobsOf(pr.headSha)) assert.deepEqual(JSON.parse(j.grants), {}, j.job_id);
  assert.match(await w.logs(runId, "unit"), /gitlab token unset/);
  assert.match(await w.logs(runId, "functional-aws"), /pipeline \d+ success/);
  assertNothingFromGitLab(public_(pr, [pr.headSha]));
});

test("a failed GitLab job fails its check and the gate; GitLab's words stay out of GitHub", async () => {
  gl.script = [
    { status: "running", jobs: [job("functional-aws", "running")] },
    {
      status: "failed",
      jobs: [
        job("verify-dispatch", "success", { stage: "verify" }),
        job("functional-aws", "success"),
        job("functional-scw", "failed", { failure_reason: `runner_${GITLAB_TEXT}` }),
        job(`cleanup ${GITLAB_TEXT}`, "failed", { failure_reason: GITLAB_TEXT }),
      ],
    },
  ];
  const pr = w.openPr({ author: TRUSTED });
  await send("opened", pr);
  await w.settle();

  assert.equal(triggersFor(pr.headSha).length, 1);
  const checks = w.checks(pr.headSha);
  assert.equal(checks["airlock/functional-aws"], "success");
  assert.equal(checks["airlock/functional-scw"], "failure");
  assert.equal(checks["airlock/all-tests"], "failure");
  assert.equal(Object.keys(checks).filter((n) => n.includes("cleanup")).length, 0);
  // The planted text did reach Airlock (the private job record), so its absence below means something.
  const scw = (await w.jobsOf(pr.headSha)).find((j) => j.job_id === "functional-scw")!;
  assert.ok(scw.error?.includes(GITLAB_TEXT), "the failure reason is kept privately");
  assertNothingFromGitLab(public_(pr, [pr.headSha]));
});

test("a new push while the pipeline runs cancels it; the new head gets its own", async () => {
  gl.script = [{ status: "running", jobs: [job("functional-aws", "running")] }];
  const pr = w.openPr({ author: TRUSTED });
  const old = pr.headSha;
  await send("opened", pr);
  const first = await followed(old);
  assert.ok(!gl.cancels.includes(first));

  gl.script = [{ status: "success", jobs: green() }];
  const next = w.push(pr);
  await send("synchronize", pr);
  await w.settle();

  assert.ok(gl.cancels.includes(first), "the superseded run's pipeline was cancelled");
  assert.equal(triggersFor(old).length, 1, "the old head was not triggered again");
  const was = w.checks(old);
  assert.equal(was["airlock/functional-aws"], "cancelled");
  assert.equal(was["airlock/all-tests"], "cancelled");
  const now = triggersFor(next);
  assert.equal(now.length, 1);
  assert.ok(!gl.cancels.includes(now[0]!.pipelineId));
  assert.equal(w.checks(next)["airlock/functional-aws"], "success");
  assert.equal(w.checks(next)["airlock/all-tests"], "success");
});

test("/cancel from a trusted member cancels the running pipeline", async () => {
  gl.script = [{ status: "running", jobs: [job("functional-aws", "running")] }];
  const pr = w.openPr({ author: TRUSTED });
  await send("opened", pr);
  const id = await followed(pr.headSha);
  await comment(pr.number, "/cancel", TRUSTED);
  await w.settle();
  assert.ok(gl.cancels.includes(id));
  assert.equal(w.checks(pr.headSha)["airlock/functional-aws"], "cancelled");
  assert.notEqual(w.checks(pr.headSha)["airlock/all-tests"], "success");
});

test("an untrusted PR triggers no pipeline until a trusted member's /ok-to-test", async () => {
  const pr = w.openPr({ author: UNTRUSTED });
  await send("opened", pr);
  await w.settle();
  assert.equal(w.checks(pr.headSha)["airlock/unit"], "success");
  assert.equal(w.checks(pr.headSha)["airlock/approval"], "action_required");
  assert.equal(triggersFor(pr.headSha).length, 0);

  await comment(pr.number, "/ok-to-test", UNTRUSTED);
  assert.equal(triggersFor(pr.headSha).length, 0, "the author cannot approve their own PR");

  await comment(pr.number, "/ok-to-test", TRUSTED);
  const mine = triggersFor(pr.headSha);
  assert.equal(mine.length, 1);
  const claims = verifyDispatch(
    mine[0]!.variables.AIRLOCK_DISPATCH!,
    loadOrCreateDispatchKey(w.dataDir).publicKey,
    { repo: REPO, sha: pr.headSha, now: Date.now() },
  );
  assert.equal(claims.approver, TRUSTED, "the dispatch names the approving member");
  assert.equal(w.checks(pr.headSha)["airlock/functional-scw"], "success");
  assert.equal(w.checks(pr.headSha)["airlock/all-tests"], "success");
});
