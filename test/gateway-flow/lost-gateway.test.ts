// A run whose gateway died under it (SIGKILL, a lost host) is the infrastructure's failure, not
// the run's: it is taken up again without spending one of the request's attempts (those count
// executions that fail), and only after its gateway died under it 5 times is it given up, its
// checks saying "interrupted" and why, not looking like a failed test. The gateway's earlier
// lives are written to the store as a dead gateway leaves them; the gateway that starts then
// takes the run over.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { gaveUpAfter } from "../../src/gateway/flow/recover.js";
import { openStore } from "../../src/store/index.js";
import { engines } from "../support/engines.js";
import { INSTALLATION, REPO, startFlowServer, TRUSTED, World } from "./harness.js";

const PIPELINE = `version: 1
secrets:
  cloud:
    backend: embedded
trust:
  orgs: [acme]
jobs:
  unit:
    run: echo "unit ok"
  functional:
    needs: [unit]
    secrets: [cloud]
    run: echo "functional ok"
`;

const sqlite = (await engines()).find((e) => e.name === "sqlite")!;
const worlds: World[] = [];
after(async () => {
  for (const w of worlds) await w.close();
});

/**
 * A world whose member's PR has a full run request that lost its gateway `lost` times: the
 * earlier attempts ended as a takeover ends them, the last one left running (its run's unit job
 * running) by a gateway that is gone.
 */
async function lostRun(lost: number) {
  const world = await World.on(sqlite, PIPELINE, { server: false });
  worlds.push(world);
  const pr = world.openPr({ author: TRUSTED });
  const db = await openStore({ dataDir: world.dataDir, database: world.database });
  await db.approvals.setHead(REPO, pr.number, pr.headSha, TRUSTED);
  const createdAt = Date.now() - 60_000;
  const id = (a: number) => `lost-${a}`;
  for (let a = 1; a <= lost; a++) {
    await db.requests.insert({
      id: id(a),
      repo: REPO,
      pr: pr.number,
      installationId: INSTALLATION,
      headSha: pr.headSha,
      baseSha: world.baseSha,
      headRef: `pr-${pr.number}`,
      author: TRUSTED,
      kind: "full",
      selection: null,
      requestedBy: TRUSTED,
      attempt: a,
      createdAt,
    });
    const last = a === lost;
    await db.db
      .updateTable("run_requests")
      .set({
        state: last ? "running" : "done",
        started_at: createdAt,
        finished_at: last ? null : createdAt,
        interrupted_by: last ? null : "lost",
        lease_owner: "gone:1:dead",
        lease_until: createdAt,
      })
      .where("id", "=", id(a))
      .execute();
  }
  const run = id(lost);
  await db.runs.create(
    {
      id: run,
      source: "github",
      repo: REPO,
      ref: `pr-${pr.number}`,
      sha: pr.headSha,
      pr: pr.number,
    },
    [
      {
        jobId: "unit",
        template: "unit",
        needs: [],
        secrets: [],
        restricted: false,
        state: "pending",
        reason: "all jobs",
      },
      {
        jobId: "functional",
        template: "functional",
        needs: ["unit"],
        secrets: ["cloud"],
        state: "pending",
        reason: "all jobs",
      },
    ],
  );
  await db.runs.setStatus(run, "running");
  await db.runs.updateJob(run, "unit", { state: "running", startedAt: createdAt });
  await db.close();
  world.server = await startFlowServer({
    dataDir: world.dataDir,
    gh: world.gh,
    cloneBase: world.repo.cloneBase,
    database: world.database,
    maxAttempts: 2,
  });
  await world.settle();
  const requests = await world.server.db.requests.forPr(REPO, pr.number, pr.headSha);
  return { world, pr, run, requests };
}

test("a run whose gateway died is taken up again without spending an attempt", async () => {
  // Two attempts are allowed; the gateway died under this run three times.
  const { world, pr, run, requests } = await lostRun(3);
  const retry = requests.find((r) => r.attempt === 4);
  assert.ok(retry, `a fourth attempt: ${JSON.stringify(requests)}`);
  assert.equal(retry.state, "done");
  assert.equal(retry.note, null);
  const lost = requests.find((r) => r.id === run)!;
  assert.match(lost.note ?? "", /^interrupted: the gateway running it stopped; taken up again as /);
  // The interrupted run's checks ended when it was taken over; the retry's pass.
  assert.equal((await world.server.db.runs.get(run))?.status, "interrupted");
  assert.deepEqual(world.checks(pr.headSha), {
    "airlock/unit": "success",
    "airlock/functional": "success",
    "airlock/all-tests": "success",
  });
  const unit = world.gh.checkRuns(REPO, pr.headSha).filter((c) => c.name === "airlock/unit");
  const first = unit.find((c) => c.external_id === `${run}/unit`);
  assert.equal(first?.conclusion, "cancelled");
  assert.equal((first?.output.title ?? "").split(" ")[0], "Interrupted");
});

test("a run whose gateway died under it 5 times is given up, its checks saying why", async () => {
  const { world, pr, run, requests } = await lostRun(5);
  assert.deepEqual(
    requests.map((r) => [r.attempt, r.state]),
    [1, 2, 3, 4, 5].map((a) => [a, "done"]),
    "no sixth attempt",
  );
  assert.equal(requests.at(-1)?.note, gaveUpAfter(5));
  assert.equal((await world.server.db.runs.get(run))?.status, "error");
  const checks = world.gh.checkRuns(REPO, pr.headSha);
  for (const name of ["airlock/unit", "airlock/functional"]) {
    const c = checks.filter((x) => x.name === name).at(-1)!;
    assert.equal(c.conclusion, "failure", name);
    assert.match(c.output.title ?? "", /^Interrupted/, name);
    assert.ok(
      c.output.summary?.includes("Interrupted: the gateway running it stopped 5 times"),
      `${name}: ${c.output.summary}`,
    );
    assert.ok(c.output.summary?.includes("The job itself did not fail"), name);
  }
  const gate = checks.filter((x) => x.name === "airlock/all-tests").at(-1)!;
  assert.equal(gate.conclusion, "failure");
  assert.match(gate.output.summary ?? "", /functional \(interrupted\)/);
});
