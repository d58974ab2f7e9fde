// The run-request queue on every engine: times that order requests even when the clock stands
// still, claims oldest first, requeues that keep their place, the settled hook inside the ending
// transaction, and the queries the gateway decides by.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RunRequestRow } from "../../src/store/types.js";
import { engines, type OpenedTestStore } from "../support/engines.js";
import { runRequest as req } from "../support/run-request.js";

for (const engine of await engines()) {
  describe(`run requests on ${engine.name}`, () => {
    let t: OpenedTestStore;
    before(async () => {
      t = await engine.open();
    });
    after(() => t.close());

    it("orders requests by their own times, claims the oldest, and requeues in place", async () => {
      const { requests } = t.store;
      // The clock stands still: each request still gets a later time than the one before.
      await requests.insert(req("r1"), 5000);
      await requests.insert(req("r2", { selection: { labels: ["test-aws"] } }), 5000);
      await requests.insert(req("r3", { pr: 2 }), 5000);
      const times = (await requests.inState("queued")).map((r) => r.createdAt);
      assert.deepEqual(times, [5000, 5001, 5002]);
      assert.deepEqual((await requests.get("r2"))?.selection, { labels: ["test-aws"] });

      const r1 = (await requests.claimNext(6000))!;
      assert.equal(r1.id, "r1");
      assert.equal(r1.state, "running");
      assert.equal(r1.startedAt, 6000);
      // A shutdown interrupts r1: its copy keeps r1's place and does not spend an attempt.
      await requests.requeue(r1, "r1b", 7000, "interrupted by a shutdown", "shutdown");
      const copy = (await requests.get("r1b"))!;
      assert.equal(copy.createdAt, 5000);
      assert.equal(copy.attempt, 2);
      assert.equal(await requests.attemptsSpent(copy), 1);
      assert.deepEqual(await requests.earlierAttempts(copy), ["r1"]);
      assert.equal(await requests.attemptPending(copy), true);
      assert.match((await requests.get("r1"))?.note ?? "", /taken up again as r1b/);
      assert.equal((await requests.claimNext())?.id, "r1b", "the copy is still the oldest");
      await requests.finish("r1b", "done", undefined, 8000);
      assert.equal(await requests.attemptPending(copy), false);
      assert.deepEqual(
        (await requests.forPr("o/r", 1)).map((r) => r.id),
        ["r1", "r1b", "r2"],
      );
    });

    it("the settled hook runs inside the transaction that ends a request", async () => {
      const { requests } = t.store;
      const settled: string[] = [];
      const stop = requests.onSettled(async (r: RunRequestRow, tx) => {
        settled.push(r.id);
        await tx.outbox.enqueue({
          kind: "cancel_pipeline",
          key: `cancel:${r.id}`,
          orderingKey: `pipeline:${r.id}`,
          repo: r.repo,
          installationId: r.installationId,
          payload: {},
        });
      });
      await requests.insert(req("c1", { pr: 5, headSha: "1".repeat(40) }));
      await requests.insert(req("c2", { pr: 5, headSha: "2".repeat(40) }));
      assert.equal(
        await requests.cancelQueued("o/r", 5, "superseded", "2".repeat(40)),
        1,
        "the request for the kept commit stays",
      );
      assert.deepEqual(settled, ["c1"]);
      assert.equal((await requests.get("c1"))?.state, "cancelled");
      assert.equal((await requests.get("c2"))?.state, "queued");
      // The hook's write goes with the end of the request: both or neither.
      await assert.rejects(
        t.store.transaction(async (tx) => {
          await tx.requests.finish("c2", "cancelled", "closed");
          throw new Error("abort");
        }),
      );
      assert.equal((await requests.get("c2"))?.state, "queued");
      const keys = (await t.store.outbox.list()).map((i) => i.key);
      assert.deepEqual(keys, ["cancel:c1"]);
      stop();
    });

    it("finds the request that owns a job's check, and the newest request per repository", async () => {
      const { requests, runs } = t.store;
      const sha = "f".repeat(40);
      await requests.insert(req("o1", { pr: 9, headSha: sha, repo: "o/jobs" }));
      await requests.insert(req("o2", { pr: 9, headSha: sha, repo: "o/jobs", kind: "rerun" }));
      const job = { template: "x", needs: [], secrets: [], state: "pending" as const, reason: "" };
      await runs.create({ id: "o1", source: "github", repo: "o/jobs", ref: null, sha }, [
        { ...job, jobId: "build" },
        { ...job, jobId: "lint" },
      ]);
      await runs.create({ id: "o2", source: "github", repo: "o/jobs", ref: null, sha }, [
        { ...job, jobId: "lint" },
      ]);
      assert.equal(await requests.jobOwner("o/jobs", 9, sha, "lint"), "o2");
      assert.equal(await requests.jobOwner("o/jobs", 9, sha, "build"), "o1");
      assert.equal(await requests.jobOwner("o/jobs", 9, sha, "deploy"), undefined);
      const newest = await requests.newestPerRepo(10);
      assert.deepEqual(
        newest.map((r) => [r.repo, r.id]),
        [
          ["o/jobs", "o2"],
          ["o/r", "c2"],
        ],
      );
    });

    it("remembers the test labels a trusted sender set", async () => {
      const { labels } = t.store;
      await labels.add("o/r", 3, "test-aws", "alice", 1);
      await labels.add("o/r", 3, "test-all", "alice", 1);
      await labels.add("o/r", 3, "test-aws", "bob", 2);
      await labels.remove("o/r", 3, "test-all");
      assert.deepEqual(await labels.trusted("o/r", 3), ["test-aws"]);
      assert.deepEqual(await labels.trusted("o/r", 4), []);
    });
  });
}
