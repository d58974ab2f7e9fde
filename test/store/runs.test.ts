// Runs and jobs on every engine: created with their jobs in one transaction, updated, listed by
// filters a page at a time, and recorded as errors when a process died under them.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { JOB_GAVE_UP, jobNotes } from "../../src/store/index.js";
import type { NewJob } from "../../src/store/types.js";
import { engines, type OpenedTestStore } from "../support/engines.js";

const job = (jobId: string, secrets: string[] = []): NewJob => ({
  jobId,
  template: jobId.split("-")[0] ?? jobId,
  needs: [],
  secrets,
  state: "pending",
  reason: "selected",
});

for (const engine of await engines()) {
  describe(`runs on ${engine.name}`, () => {
    let t: OpenedTestStore;
    before(async () => {
      t = await engine.open();
    });
    after(() => t.close());

    it("creates a run with its jobs, updates them, and reads them back", async () => {
      const { runs } = t.store;
      await runs.create(
        {
          id: "run-1",
          source: "local",
          repo: "o/r",
          ref: "main",
          sha: "c0ffee",
          selection: { labels: ["x"] },
        },
        [job("build"), job("functional-aws", ["functional-tests"])],
      );
      await runs.setStatus("run-1", "running");
      await runs.updateJob("run-1", "functional-aws", {
        state: "failed",
        exitCode: 2,
        tests: [
          { suite: "s", name: "a", status: "passed", durationMs: 1 },
          { suite: "s", name: "b", status: "failed", durationMs: 2, message: "boom" },
        ],
        grants: { "functional-tests": { AWS_SECRET_ACCESS_KEY: 3 } },
      });
      await runs.addNotes("run-1", { suite: "main" });
      await runs.addNotes("run-1", { attempt: 2 });
      const run = await runs.get("run-1");
      assert.equal(run?.status, "running");
      assert.ok(run?.started_at);
      assert.deepEqual(JSON.parse(run!.notes), { suite: "main", attempt: 2 });
      assert.deepEqual(JSON.parse(run!.selection!), { labels: ["x"] });
      const jobs = await runs.jobs("run-1");
      assert.deepEqual(
        jobs.map((j) => [j.job_id, j.state, j.restricted, j.tests_failed]),
        [
          ["build", "pending", 0, 0],
          ["functional-aws", "failed", 1, 1],
        ],
      );
      assert.equal(jobs[1]?.exit_code, 2);
    });

    it("a run whose jobs cannot be stored is not stored either", async () => {
      await assert.rejects(
        t.store.runs.create({ id: "run-dup", source: "local", repo: "o/r", ref: null, sha: "1" }, [
          job("same"),
          job("same"),
        ]),
      );
      assert.equal(await t.store.runs.get("run-dup"), undefined);
    });

    it("lists newest first by repo, PR, status and job, a page at a time, with job counts", async () => {
      const { runs } = t.store;
      for (let i = 0; i < 5; i++) {
        await runs.create(
          { id: `list-${i}`, source: "github", repo: "o/list", ref: null, sha: `${i}`, pr: i % 2 },
          [job(i % 2 ? "lint" : "build-x")],
        );
        await new Promise((r) => setTimeout(r, 2));
      }
      await runs.setStatus("list-3", "passed");
      const page1 = await runs.list({ repo: "o/list" }, { limit: 2, offset: 0 });
      assert.deepEqual(
        page1.rows.map((r) => r.id),
        ["list-4", "list-3"],
      );
      assert.equal(page1.more, true);
      const last = await runs.list({ repo: "o/list" }, { limit: 2, offset: 4 });
      assert.deepEqual([last.rows.length, last.more], [1, false]);
      assert.deepEqual(
        (await runs.list({ repo: "o/list", pr: 1 }, { limit: 9, offset: 0 })).rows.map((r) => r.id),
        ["list-3", "list-1"],
      );
      assert.deepEqual(
        (await runs.list({ status: "passed" }, { limit: 9, offset: 0 })).rows.map((r) => r.id),
        ["list-3"],
      );
      assert.deepEqual(
        (await runs.list({ repo: "o/list", job: "build" }, { limit: 9, offset: 0 })).rows.map(
          (r) => r.id,
        ),
        ["list-4", "list-2", "list-0"],
        "a job template matches too",
      );
      const counts = await runs.jobStates(["list-0", "run-1", "missing"]);
      assert.deepEqual(counts.get("list-0"), { pending: 1 });
      assert.deepEqual(counts.get("run-1"), { pending: 1, failed: 1 });
      assert.equal(counts.has("missing"), false);
      assert.equal((await runs.latest("github"))?.id, "list-4");
    });

    it("records runs a dead process left as interrupted, their unfinished jobs cancelled", async () => {
      const { runs } = t.store;
      for (const id of ["dead", "alive"]) {
        await runs.create({ id, source: "gateway-test", repo: "o/r", ref: null, sha: "1" }, [
          job("a"),
          job("b"),
        ]);
        await runs.setStatus(id, "running");
      }
      await runs.updateJob("dead", "a", { state: "passed" });
      // Only the runs named: another gateway's run goes on.
      assert.deepEqual(await runs.markInterrupted(["dead", "missing"]), ["dead"]);
      assert.equal((await runs.get("alive"))?.status, "running");
      assert.equal((await runs.get("dead"))?.status, "interrupted");
      assert.deepEqual(
        (await runs.jobs("dead")).map((j) => j.state),
        ["passed", "cancelled"],
      );
      assert.deepEqual(await runs.markInterrupted(["dead"]), []);
      // Given up: the interrupted run is an error, its interrupted job one for that reason.
      assert.deepEqual((await runs.markInterrupted(["dead", "alive"], "gave up")).sort(), [
        "alive",
        "dead",
      ]);
      assert.equal((await runs.get("dead"))?.status, "error");
      const jobs = await runs.jobs("dead");
      assert.deepEqual(
        jobs.map((j) => j.state),
        ["passed", "error"],
      );
      assert.equal(jobs[1]?.reason, JOB_GAVE_UP);
      assert.deepEqual(jobNotes(jobs[1]!).at(-1), "gave up", "the check shows why");
    });
  });
}
