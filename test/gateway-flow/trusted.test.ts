import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { CLOUD_TOKEN, prPayload, TRUSTED, World } from "./harness.js";

let w: World;
before(async () => {
  w = await World.create();
});
after(async () => {
  await w?.close();
});

test("a trusted author's PR runs public and restricted jobs, with secrets masked", async () => {
  const pr = w.openPr({ author: TRUSTED });
  const res = await w.send("pull_request", prPayload("opened", pr, { baseSha: w.baseSha }));
  assert.equal(res.status, 202);
  await w.settle();
  const checks = w.checks(pr.headSha);
  assert.equal(checks["airlock/unit"], "success");
  assert.equal(checks["airlock/functional-aws"], "success");
  assert.equal(checks["airlock/functional-scw"], "success");
  assert.equal(checks["airlock/approval"], "success");
  assert.equal(checks["airlock/all-tests"], "success");
  w.gh.assertNoViolations();
  const jobs = await w.jobsOf(pr.headSha);
  const fn = jobs.find((j) => j.job_id === "functional-aws")!;
  assert.deepEqual(Object.keys(JSON.parse(fn.grants)), ["cloud"]);
  const log = await w.logs(fn.run_id, "functional-aws");
  assert.match(log, /token is \[redacted:CLOUD_TOKEN\]/);
  assert.ok(!log.includes(CLOUD_TOKEN));
  const check = w.check(pr.headSha, "airlock/functional-aws")!;
  const out = JSON.stringify(check.history);
  assert.ok(!out.includes(CLOUD_TOKEN), "no secret in any check body");
  assert.match(check.output.text ?? "", /redacted/);
  assert.equal(
    check.details_url,
    `https://airlock.example.test/runs/${fn.run_id}#job-functional-aws`,
  );
  assert.equal((await w.releases()).length, 2);
});
