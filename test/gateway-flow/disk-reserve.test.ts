// Below the disk reserve no job starts: a pull request's jobs end in error saying why (on the
// check GitHub shows, and in the run), and no secret is released for a job that never started.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { prPayload, startFlowServer, TRUSTED, World } from "./harness.js";

let w: World;
before(async () => {
  w = await World.create(undefined, { server: false });
  w.server = await startFlowServer({
    dataDir: w.dataDir,
    gh: w.gh,
    cloneBase: w.repo.cloneBase,
    // More than any disk has free.
    diskReserveBytes: Number.MAX_SAFE_INTEGER,
  });
});
after(async () => {
  w?.gh.assertNoViolations();
  await w?.close();
});

test("below the disk reserve no job starts, and each says why", async () => {
  const pr = w.openPr({ author: TRUSTED });
  const res = await w.send("pull_request", prPayload("opened", pr, { baseSha: w.baseSha }));
  assert.equal(res.status, 202);
  await w.settle();

  const jobs = await w.jobsOf(pr.headSha);
  assert.deepEqual(jobs.map((j) => j.job_id).sort(), ["functional-aws", "functional-scw", "unit"]);
  const unit = jobs.find((j) => j.job_id === "unit")!;
  assert.equal(unit.state, "error");
  assert.match(
    unit.error ?? "",
    /^not started: only .* free for the data directory, below the disk reserve/,
  );
  // Jobs that need it never start either; none got a secret.
  for (const j of jobs.filter((x) => x.job_id !== "unit")) assert.equal(j.grants, "{}", j.job_id);
  assert.equal((await w.releases()).length, 0);

  const check = w.check(pr.headSha, "airlock/unit")!;
  assert.equal(check.conclusion, "failure");
  assert.match(
    check.output.summary ?? "",
    /not started: only .* below the disk reserve of .* \(disk_reserve\)/,
  );
  assert.equal(w.checks(pr.headSha)["airlock/all-tests"], "failure");
});
