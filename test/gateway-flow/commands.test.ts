// Test selection and commands through the real HTTP server: `/test <names>`, `/test all`,
// `/retest`, `/cancel`, a re-requested check run, test labels (one that selects nothing), and the
// gate while a filter is active. Each asserts the checks and comments GitHub's double recorded, the
// runs and jobs in the store, and the secret releases in the audit log.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { EmbeddedStore } from "../../src/secrets/embedded.js";
import { example } from "../gateway/helpers.js";
import { PATIENCE_MS } from "../support/patience.js";
import {
  CLOUD_TOKEN,
  commentPayload,
  INSTALLATION,
  prPayload,
  REPO,
  TRUSTED,
  UNTRUSTED,
  World,
} from "./harness.js";
import { sleepers as countSleepers, steeredPipeline } from "./steered.js";

/** A sleep this process alone starts, so that the test can tell whether it was killed. */
const SLEEP = `58.${process.pid}`;

const PIPELINE = steeredPipeline(SLEEP);

let w: World;
before(async () => {
  w = await World.create(PIPELINE);
});
after(async () => {
  w?.gh.assertNoViolations();
  await w?.close();
});

type Pr = ReturnType<World["openPr"]>;

async function opened(pr: Pr) {
  assert.equal(
    (await w.send("pull_request", prPayload("opened", pr, { baseSha: w.baseSha }))).status,
    202,
  );
  await w.settle();
}

async function comment(pr: Pr, body: string, sender = TRUSTED) {
  assert.equal(
    (await w.send("issue_comment", commentPayload(pr.number, body, sender))).status,
    202,
  );
  await w.settle();
}

async function label(pr: Pr, name: string, sender = TRUSTED) {
  pr.labels = [...(pr.labels ?? []), name];
  w.gh.addPull(REPO, {
    number: pr.number,
    headSha: pr.headSha,
    baseSha: w.baseSha,
    author: pr.author,
    labels: pr.labels,
  });
  const payload = prPayload("labeled", pr, { baseSha: w.baseSha, label: name, sender });
  assert.equal((await w.send("pull_request", payload)).status, 202);
  await w.settle();
}

/** The real `check_run.rerequested` example, pointed at one of Airlock's check runs. */
async function rerequest(pr: Pr, name: string, sender = TRUSTED) {
  const check = w.check(pr.headSha, name);
  assert.ok(check, `a ${name} check exists`);
  const p = example("check_run", "rerequested");
  const base = prPayload("opened", pr, { baseSha: w.baseSha, sender });
  p.installation = { id: INSTALLATION, node_id: "I" };
  p.repository = base.repository;
  p.sender = base.sender;
  p.check_run = {
    ...p.check_run,
    id: check.id,
    name: check.name,
    head_sha: check.head_sha,
    external_id: check.external_id,
    pull_requests: [
      {
        ...base.pull_request,
        url: `https://api.github.com/repos/${REPO}/pulls/${pr.number}`,
        id: pr.number,
        number: pr.number,
      },
    ],
  };
  assert.equal((await w.send("check_run", p)).status, 202);
  await w.settle();
}

/** Restricted job ids of each run on the commit, oldest run first. */
async function restrictedRuns(sha: string): Promise<string[][]> {
  const byRun = new Map<string, string[]>();
  for (const j of await w.jobsOf(sha)) {
    const list = byRun.get(j.run_id) ?? [];
    if (j.restricted === 1) list.push(j.job_id);
    byRun.set(j.run_id, list);
  }
  const order = await w.server.db.db
    .selectFrom("runs")
    .select("id")
    .where("sha", "=", sha)
    .orderBy("created_at")
    .orderBy("id")
    .execute();
  return order.map((r) => byRun.get(r.id) ?? []).filter((l) => l.length > 0);
}

const sleepers = () => countSleepers(SLEEP);

const releases = async () => (await w.releases()).length;
/** Every check run of one name on the commit, oldest first. */
const runsNamed = (sha: string, name: string) =>
  w.gh.checkRuns(REPO, sha).filter((c) => c.name === name);
const lastReply = (pr: Pr) => w.gh.comments(REPO, pr.number).at(-1)?.body ?? "";

test("a test label filters the run; the gate stays red naming what was left out until /test all", async () => {
  const pr = w.openPr({ author: TRUSTED, labels: ["test-aws"] });
  const r0 = await releases();
  await opened(pr);
  let checks = w.checks(pr.headSha);
  assert.equal(checks["airlock/functional-aws"], "success");
  assert.equal(checks["airlock/functional-scw"], undefined);
  assert.equal(checks["airlock/all-tests"], "failure");
  const gate = w.check(pr.headSha, "airlock/all-tests")!;
  assert.match(gate.output.title ?? "", /1 job left out/);
  assert.match(gate.output.summary ?? "", /Left out: `functional-scw`/);
  assert.match(gate.output.summary ?? "", /`test-aws`/);
  assert.match(gate.output.summary ?? "", /`\/test all`/);
  assert.equal(await releases(), r0 + 1);

  // Another group by name: still a partial run, still red.
  await comment(pr, "/test scw");
  checks = w.checks(pr.headSha);
  assert.equal(checks["airlock/functional-scw"], "success");
  assert.equal(checks["airlock/all-tests"], "failure");
  assert.deepEqual(await restrictedRuns(pr.headSha), [["functional-aws"], ["functional-scw"]]);

  // Only an unfiltered run turns it green.
  await comment(pr, "/test all");
  assert.equal(w.checks(pr.headSha)["airlock/all-tests"], "success");
  assert.match(w.check(pr.headSha, "airlock/all-tests")!.output.title ?? "", /All 2 required/);
  assert.equal(await releases(), r0 + 4);

  // Nothing failed: /retest says so and runs nothing.
  await comment(pr, "/retest");
  assert.match(lastReply(pr), /No job failed/);
  assert.equal(await releases(), r0 + 4);

  // A push: the label still filters, and the old head's full run does not count for the new one.
  const next = w.push(pr);
  w.gh.addPull(REPO, {
    number: pr.number,
    headSha: next,
    baseSha: w.baseSha,
    author: TRUSTED,
    labels: pr.labels ?? [],
  });
  const sync = prPayload("synchronize", pr, { baseSha: w.baseSha });
  assert.equal((await w.send("pull_request", sync)).status, 202);
  await w.settle();
  assert.deepEqual(await restrictedRuns(next), [["functional-aws"]]);
  assert.equal(w.checks(next)["airlock/all-tests"], "failure");
});

test("the test-all label selects every job: a full run, and the gate turns green", async () => {
  const pr = w.openPr({ author: TRUSTED, labels: ["test-all"] });
  await opened(pr);
  assert.deepEqual(await restrictedRuns(pr.headSha), [["functional-aws", "functional-scw"]]);
  const gate = w.check(pr.headSha, "airlock/all-tests")!;
  assert.equal(gate.conclusion, "success", gate.output.title ?? "");
  assert.match(gate.output.title ?? "", /All 2 required jobs passed/);
  const sent = runsNamed(pr.headSha, "airlock/all-tests").flatMap((c) => c.history);
  assert.deepEqual(
    sent.map((h) => h.conclusion).filter((c) => c != null),
    ["success"],
    "the gate concluded once, green",
  );

  // A label naming each group is a full run too; a label naming one is still partial.
  const groups = w.openPr({ author: TRUSTED, labels: ["test-aws", "test-scw"] });
  await opened(groups);
  assert.equal(w.checks(groups.headSha)["airlock/all-tests"], "success");
  const one = w.openPr({ author: TRUSTED, labels: ["test-aws"] });
  await opened(one);
  assert.equal(w.checks(one.headSha)["airlock/all-tests"], "failure");
});

test("a label or /test name that selects nothing is answered with a comment naming it", async () => {
  const pr = w.openPr({ author: TRUSTED });
  await opened(pr);
  const r0 = await releases();
  const runs0 = (await w.jobsOf(pr.headSha)).length;
  await label(pr, "test-nope");
  const replies = w.gh.comments(REPO, pr.number);
  assert.equal(replies.length, 1);
  assert.match(replies[0]!.body, /test-nope/);
  assert.match(replies[0]!.body, /nothing with secrets was started/);

  await comment(pr, "/test nope,aws");
  assert.equal(w.gh.comments(REPO, pr.number).length, 2);
  assert.match(lastReply(pr), /test-nope/);
  assert.equal(await releases(), r0, "a selection with a bad name runs nothing");
  assert.equal((await w.jobsOf(pr.headSha)).length, runs0);

  // A malformed command is explained; an untrusted sender's label gets no reply.
  await comment(pr, "/test $(id)");
  assert.match(lastReply(pr), /letters, digits/);
  await label(pr, "test-zzz", UNTRUSTED);
  assert.equal(w.gh.comments(REPO, pr.number).length, 3);
});

test("/retest runs the failed job again on a new check run; the old one keeps its result", async () => {
  const pr = w.openPr({ author: TRUSTED, files: { fail: "scw" } });
  await opened(pr);
  assert.equal(w.checks(pr.headSha)["airlock/functional-scw"], "failure");
  assert.equal(w.checks(pr.headSha)["airlock/functional-aws"], "success");
  const gate = w.check(pr.headSha, "airlock/all-tests")!;
  assert.equal(gate.conclusion, "failure");
  assert.match(gate.output.summary ?? "", /functional-scw \(failed\)/);
  assert.match(gate.output.summary ?? "", /\/retest/);
  const r0 = await releases();

  await comment(pr, "/retest", UNTRUSTED);
  assert.equal((await restrictedRuns(pr.headSha)).length, 1, "an untrusted /retest runs nothing");

  await comment(pr, "/retest");
  assert.deepEqual(await restrictedRuns(pr.headSha), [
    ["functional-aws", "functional-scw"],
    ["functional-scw"],
  ]);
  assert.equal(await releases(), r0 + 1, "only the failed job got its secrets again");
  const scw = runsNamed(pr.headSha, "airlock/functional-scw");
  assert.equal(scw.length, 2, "the job that ran again has a new check run");
  assert.equal(scw[0]!.history.at(-1)?.conclusion, "failure", "the old one was not reopened");
  assert.equal(scw[1]!.conclusion, "failure");
  assert.equal(runsNamed(pr.headSha, "airlock/functional-aws").length, 1, "aws did not run again");
  assert.equal(w.checks(pr.headSha)["airlock/all-tests"], "failure");
});

test("a re-requested check runs that job's group again; from an untrusted sender, nothing", async () => {
  const pr = w.openPr({ author: TRUSTED });
  await opened(pr);
  const r0 = await releases();
  await rerequest(pr, "airlock/functional-aws", UNTRUSTED);
  assert.equal((await restrictedRuns(pr.headSha)).length, 1);
  assert.equal(await releases(), r0);

  await rerequest(pr, "airlock/functional-aws");
  assert.deepEqual((await restrictedRuns(pr.headSha)).at(-1), ["functional-aws", "functional-scw"]);
  assert.equal(await releases(), r0 + 2);
  assert.equal(w.checks(pr.headSha)["airlock/functional-aws"], "success");
  assert.equal(w.checks(pr.headSha)["airlock/all-tests"], "success");

  // The gate's own check re-requested: reported afresh, nothing runs.
  await rerequest(pr, "airlock/all-tests");
  assert.equal(await releases(), r0 + 2);
  assert.equal(w.checks(pr.headSha)["airlock/all-tests"], "success");
});

test("a failed job re-requested after its secret was fixed ends on a new check run; the old one keeps its failure", async () => {
  const secrets = new EmbeddedStore({ dataDir: w.dataDir, store: w.server.db });
  const pr = w.openPr({ author: TRUSTED });
  await secrets.set("cloud", "CLOUD_TOKEN", "expired", { actor: "test" });
  try {
    await opened(pr);
  } finally {
    await secrets.set("cloud", "CLOUD_TOKEN", CLOUD_TOKEN, { actor: "test" });
  }
  const [old] = runsNamed(pr.headSha, "airlock/functional-scw");
  assert.equal(old?.conclusion, "failure");
  assert.equal(w.checks(pr.headSha)["airlock/all-tests"], "failure");
  const oldHistory = structuredClone(old.history);

  await rerequest(pr, "airlock/functional-scw");
  const scw = runsNamed(pr.headSha, "airlock/functional-scw");
  assert.equal(scw.length, 2, "one new check run for the re-run");
  const [kept, rerun] = scw;
  assert.equal(kept!.id, old.id);
  assert.equal(kept!.conclusion, "failure", "the old check run keeps its conclusion");
  assert.deepEqual(kept!.history, oldHistory, "nothing was sent to the old check run");
  assert.notEqual(rerun!.id, old.id);
  assert.equal(rerun!.conclusion, "success", "the new check run ends on the re-run's result");
  assert.equal(w.checks(pr.headSha)["airlock/functional-scw"], "success");
  assert.equal(w.checks(pr.headSha)["airlock/all-tests"], "success");
});

test("/cancel stops the PR's runs and kills a running job; an untrusted /cancel does nothing", async () => {
  const pr = w.openPr({ author: TRUSTED, files: { slow: "aws" } });
  assert.equal(
    (await w.send("pull_request", prPayload("opened", pr, { baseSha: w.baseSha }))).status,
    202,
  );
  const until = Date.now() + PATIENCE_MS;
  // The job's process is up, not just its row: the test is about stopping a running job.
  const runningAws = async () =>
    (await w.jobsOf(pr.headSha)).some(
      (j) => j.job_id === "functional-aws" && j.state === "running",
    ) && sleepers() > 0;
  while (!(await runningAws()) && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
  assert.ok(await runningAws(), "functional-aws is running");

  assert.equal(
    (await w.send("issue_comment", commentPayload(pr.number, "/cancel", UNTRUSTED))).status,
    202,
  );
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(await runningAws(), "an untrusted /cancel leaves the run alone");

  await comment(pr, "/cancel");
  assert.equal(sleepers(), 0, "no process of the cancelled job is left");
  const checks = w.checks(pr.headSha);
  assert.equal(checks["airlock/functional-aws"], "cancelled");
  assert.equal(checks["airlock/unit"], "success");
  assert.equal(checks["airlock/all-tests"], "failure");
  assert.match(w.check(pr.headSha, "airlock/all-tests")!.output.summary ?? "", /cancelled/);
  const run = await w.server.db.db
    .selectFrom("runs")
    .select("status")
    .where("sha", "=", pr.headSha)
    .orderBy("created_at", "desc")
    .limit(1)
    .executeTakeFirst();
  assert.deepEqual(run, { status: "cancelled" });
});

test("an untrusted author's PR: /test from a trusted member needs an approval first", async () => {
  const pr = w.openPr({ author: UNTRUSTED });
  await opened(pr);
  const r0 = await releases();
  await comment(pr, "/test all", UNTRUSTED);
  assert.equal(w.gh.comments(REPO, pr.number).length, 0, "untrusted commands get no reply");
  await comment(pr, "/test aws");
  assert.match(lastReply(pr), /cannot run on/);
  assert.match(lastReply(pr), /\/ok-to-test/);
  assert.equal((await restrictedRuns(pr.headSha)).length, 0);
  assert.equal(await releases(), r0);
  for (const j of await w.jobsOf(pr.headSha)) assert.equal(j.grants, "{}", j.job_id);

  // Approved, the same command runs just that group.
  await comment(pr, "/ok-to-test");
  await comment(pr, "/test aws");
  assert.deepEqual((await restrictedRuns(pr.headSha)).at(-1), ["functional-aws"]);
});
