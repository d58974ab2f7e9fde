// Fair share through the real gateway: an outsider who opens three pull requests gets at most
// their share of public jobs (two at once, the default), the rest of theirs waits queued, and a
// member's pull request opened afterwards runs at once beside them. Every wait ends on what the
// store shows, never on a time.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DEFAULT_CAPACITY } from "../../src/gateway/serve-limits.js";
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

/** The jobs (with their run's commit) and the queued requests, as the store holds them now. */
async function look() {
  const [jobs, queued, running] = await Promise.all([
    w.server.db.db
      .selectFrom("jobs as j")
      .innerJoin("runs as r", "r.id", "j.run_id")
      .select(["j.run_id", "j.job_id", "j.state", "r.sha"])
      .execute(),
    w.server.db.requests.inState("queued"),
    w.server.db.requests.inState("running"),
  ]);
  return { jobs, queued, running };
}
type Look = Awaited<ReturnType<typeof look>>;

const running = (l: Look, pr: Pr) =>
  l.jobs.filter((j) => j.sha === pr.headSha && j.state === "running").length;

/** Waits until `probe` holds, checking `invariant` at every look; answers the last look. */
async function until(
  what: string,
  probe: (l: Look) => boolean,
  invariant: (l: Look) => void,
): Promise<Look> {
  const end = Date.now() + Number(process.env.PATIENCE ?? PATIENCE_MS);
  for (;;) {
    const l = await look();
    invariant(l);
    if (probe(l)) return l;
    if (Date.now() > end) {
      const states = [...l.queued, ...l.running].map((r) => `#${r.pr} ${r.kind} ${r.state}`);
      throw new Error(
        `timed out waiting for ${what}: requests ${states.join(", ")}; jobs ${JSON.stringify(l.jobs)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

test("one author's public jobs take at most their share; the rest wait queued, others run", async () => {
  const { publicJobsPerAuthor, publicJobsPerPr } = DEFAULT_CAPACITY;
  const mallory = [await open(UNTRUSTED), await open(UNTRUSTED), await open(UNTRUSTED)];
  const theirs = (l: Look) => mallory.reduce((n, pr) => n + running(l, pr), 0);
  const share = (l: Look) => {
    assert.ok(theirs(l) <= publicJobsPerAuthor, `${theirs(l)} public jobs of one author at once`);
    for (const pr of mallory) assert.ok(running(l, pr) <= publicJobsPerPr);
  };

  // The first pull request's two jobs take the author's share; the third request stays queued
  // (two of theirs in flight already), so it holds no run slot.
  await until(
    "the outsider's share to be in use and the rest queued",
    (l) => theirs(l) === publicJobsPerAuthor && l.queued.some((r) => r.pr === mallory[2]!.number),
    share,
  );

  // A member opens a pull request afterwards: its jobs start while the outsider's still wait.
  const bob = await open("bob");
  const now = await until("the member's jobs to run", (l) => running(l, bob) === 2, share);
  assert.equal(theirs(now), publicJobsPerAuthor);
  const waiting = now.jobs.filter(
    (j) => mallory.some((pr) => pr.headSha === j.sha) && j.state === "pending",
  );
  assert.ok(waiting.length >= 2, "the outsider's other jobs are still pending");

  // When the outsider's running pull request is closed, their next jobs take its place.
  const first = mallory.find((pr) => running(now, pr) > 0)!;
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
  const later = await until(
    "another of the outsider's pull requests to run",
    (l) => mallory.some((pr) => pr !== first && running(l, pr) > 0) && running(l, first) === 0,
    share,
  );
  assert.equal(running(later, bob), 2, "the member's jobs ran on throughout");
});
