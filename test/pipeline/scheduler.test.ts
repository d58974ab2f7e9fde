import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type DagNode, type Outcome, runDag } from "../../src/pipeline/scheduler.js";

const node = (id: string, ...needs: string[]): DagNode => ({ id, needs });

describe("runDag", () => {
  it("runs dependencies first and never more than the concurrency limit at once", async () => {
    const order: string[] = [];
    let active = 0;
    let peak = 0;
    const results = await runDag(
      [
        node("build"),
        node("a", "build"),
        node("b", "build"),
        node("c", "build"),
        node("d", "a", "b"),
      ],
      async (id) => {
        active++;
        peak = Math.max(peak, active);
        order.push(id);
        await sleep(10);
        active--;
        return "passed";
      },
      { concurrency: 2 },
    );
    assert.equal(order[0], "build");
    assert.ok(order.indexOf("d") > order.indexOf("a") && order.indexOf("d") > order.indexOf("b"));
    assert.equal(peak, 2);
    assert.deepEqual(
      [...results.values()].map((r) => r.outcome),
      Array(5).fill("passed"),
    );
  });

  it("skips a job whose dependency failed, with the reason, and its dependants too", async () => {
    const results = await runDag(
      [node("build"), node("test", "build"), node("deploy", "test"), node("lint")],
      async (id): Promise<Outcome> => (id === "build" ? "failed" : "passed"),
      { concurrency: 2 },
    );
    assert.deepEqual(results.get("test"), {
      outcome: "skipped",
      reason: "needs build, which failed",
    });
    assert.deepEqual(results.get("deploy"), {
      outcome: "skipped",
      reason: "needs test, which was skipped",
    });
    assert.equal(results.get("lint")?.outcome, "passed");
  });

  it("fail-fast cancels running jobs and skips the rest", async () => {
    const results = await runDag(
      [node("quick-fail"), node("slow"), node("later")],
      async (id, signal): Promise<Outcome> => {
        if (id === "quick-fail") return "failed";
        try {
          await sleep(5000, undefined, { signal });
          return "passed";
        } catch {
          return "cancelled";
        }
      },
      { concurrency: 2, failFast: true },
    );
    assert.equal(results.get("slow")?.outcome, "cancelled");
    assert.equal(results.get("later")?.outcome, "skipped");
    assert.match(results.get("later")!.reason, /fail-fast: quick-fail failed/);
  });

  it("cancellation aborts running jobs and marks pending ones cancelled", async () => {
    const ctrl = new AbortController();
    const started: string[] = [];
    const run = runDag(
      [node("a"), node("b", "a")],
      async (id, signal): Promise<Outcome> => {
        started.push(id);
        try {
          await sleep(5000, undefined, { signal });
          return "passed";
        } catch {
          return "cancelled";
        }
      },
      { concurrency: 1, signal: ctrl.signal },
    );
    await sleep(20);
    ctrl.abort();
    const results = await run;
    assert.deepEqual(started, ["a"]);
    assert.equal(results.get("a")?.outcome, "cancelled");
    assert.deepEqual(results.get("b"), { outcome: "cancelled", reason: "the run was cancelled" });
  });

  it("an execute that throws is an error, not a crash", async () => {
    const results = await runDag(
      [node("boom")],
      async () => {
        throw new Error("x");
      },
      { concurrency: 1 },
    );
    assert.equal(results.get("boom")?.outcome, "error");
  });
});
