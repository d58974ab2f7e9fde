// Fair share through the real gateway: an outsider who opens three pull requests gets at most
// their share of public jobs (two at once, the default), the rest of theirs waits queued, and a
// member's pull request opened afterwards runs at once beside them. Every wait ends on what the
// store shows, never on a time.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DEFAULT_CAPACITY } from "../../src/gateway/serve-limits.js";
import { RunRequestStore } from "../../src/store/run-requests.js";
import { PATIENCE_MS } from "../support/patience.js";
import { prPayload, UNTRUSTED, World } from "./harness.js";

/** A sleep this process alone starts: the jobs hold their slots until they are stopped. */
const SLEEP = `300.${process.pid}`;

const PIPELINE = `version: 1
trust:
  orgs: [acme]
jobs:
  lint:
    run: sleep ${SLEEP}
  unit:
    run: sleep ${SLEEP}
`;

let w: World;
before(async () => {
  w = await World.create(PIPELINE, { capacity: DEFAULT_CAPACITY });
});
after(async () => {
  w?.gh.assertNoViolations();
  await w?.close();
});

type Pr = ReturnType<World["openPr"]>;

async function open(author: string): Promise<Pr> {
  const pr = w.openPr({ author });
  const r = await w.send("pull_request", prPayload("opened", pr, { baseSha: w.baseSha }));
  assert.equal(r.status, 202);
  return pr;
}

const running = (pr: Pr) => w.jobsOf(pr.headSha).filter((j) => j.state === "running").length;
const queued = () => new RunRequestStore(w.server.db.sqlite).inState("queued").map((r) => r.pr);

/** Waits until `probe` holds, checking `invariant` at every look. */
async function until(what: string, probe: () => boolean, invariant: () => void): Promise<void> {
  const end = Date.now() + Number(process.env.PATIENCE ?? PATIENCE_MS);
  for (;;) {
    invariant();
    if (probe()) return;
    if (Date.now() > end) {
      const states = new RunRequestStore(w.server.db.sqlite)
        .inState("queued")
        .concat(new RunRequestStore(w.server.db.sqlite).inState("running"))
        .map((r) => `#${r.pr} ${r.kind} ${r.state}`);
      const jobs = w.server.db.sqlite.prepare("SELECT run_id, job_id, state FROM jobs").all();
      throw new Error(
        `timed out waiting for ${what}: requests ${states.join(", ")}; jobs ${JSON.stringify(jobs)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

test("one author's public jobs take at most their share; the rest wait queued, others run", async () => {
  const { publicJobsPerAuthor, publicJobsPerPr } = DEFAULT_CAPACITY;
  const mallory = [await open(UNTRUSTED), await open(UNTRUSTED), await open(UNTRUSTED)];
  const theirs = () => mallory.reduce((n, pr) => n + running(pr), 0);
  const share = () => {
    assert.ok(theirs() <= publicJobsPerAuthor, `${theirs()} public jobs of one author at once`);
    for (const pr of mallory) assert.ok(running(pr) <= publicJobsPerPr);
  };

  // The first pull request's two jobs take the author's share; the third request stays queued
  // (two of theirs in flight already), so it holds no run slot.
  await until(
    "the outsider's share to be in use and the rest queued",
    () => theirs() === publicJobsPerAuthor && queued().includes(mallory[2]!.number),
    share,
  );

  // A member opens a pull request afterwards: its jobs start while the outsider's still wait.
  const bob = await open("bob");
  await until("the member's jobs to run", () => running(bob) === 2, share);
  assert.equal(theirs(), publicJobsPerAuthor);
  const waiting = mallory
    .flatMap((pr) => w.jobsOf(pr.headSha))
    .filter((j) => j.state === "pending");
  assert.ok(waiting.length >= 2, "the outsider's other jobs are still pending");

  // When the outsider's running pull request is closed, their next jobs take its place.
  const first = mallory.find((pr) => running(pr) > 0)!;
  w.gh.addPull("acme/app", {
    number: first.number,
    headSha: first.headSha,
    baseSha: w.baseSha,
    author: UNTRUSTED,
    state: "closed",
  });
  const r = await w.send(
    "pull_request",
    prPayload("closed", first, { baseSha: w.baseSha, state: "closed" }),
  );
  assert.equal(r.status, 202);
  await until(
    "another of the outsider's pull requests to run",
    () => mallory.some((pr) => pr !== first && running(pr) > 0) && running(first) === 0,
    share,
  );
  assert.equal(running(bob), 2, "the member's jobs ran on throughout");
});
