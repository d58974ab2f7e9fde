// Two gateways' supervisors on one PostgreSQL: a pull request's and an author's fair share of runs
// with public jobs counts the runs in flight on every gateway, so that an outsider's runs are held
// back by their share in all, not by their share on each replica; and the runs at once
// (capacity.runs) are the deployment's, not each replica's.
import assert from "node:assert/strict";
import { test } from "node:test";
import { FairShare } from "../../src/gateway/fair-share.js";
import { Supervisor } from "../../src/gateway/supervisor.js";
import type { JobSlotRepo, OpenedStore } from "../../src/store/index.js";
import { engines } from "../support/engines.js";
import { publicRunRequest as request } from "../support/run-request.js";

const postgres = (await engines()).find((e) => e.name === "postgres");

if (postgres) {
  // A hang fails the test instead of holding the suite (the assertions count claims, not time).
  const HANG = { timeout: 120_000 };

  test("an author's share of runs holds across two gateways", HANG, async () => {
    const a = await postgres.open();
    const b = await a.reopen();
    const share = new FairShare({ jobs: 4, publicJobsPerPr: 1, publicJobsPerAuthor: 1 });
    const started: { id: string; on: string }[] = [];
    const release = new Map<string, () => Promise<void>>();
    let onStart: () => void = () => {};
    /** Each gateway's claims, counted, to wait for it to have looked at the queue again. */
    const claims = { a: 0, b: 0 };
    const supervisor = (store: OpenedStore, on: "a" | "b", maxRuns: number) => {
      const requests = Object.create(store.requests) as OpenedStore["requests"];
      requests.claimNext = (...args) => {
        claims[on]++;
        return store.requests.claimNext(...args);
      };
      return new Supervisor({
        requests,
        maxRuns,
        pollMs: 20,
        holds: (req, inFlight) => share.holds(req, inFlight),
        execute: (req, signal) =>
          new Promise<void>((resolve) => {
            signal.addEventListener("abort", () => resolve(), { once: true });
            started.push({ id: req.id, on });
            release.set(req.id, async () => {
              release.delete(req.id);
              await store.requests.finish(req.id, "done");
              resolve();
            });
            onStart();
          }),
        recover: async () => {},
      });
    };
    const startedCount = (n: number) =>
      new Promise<void>((resolve) => {
        onStart = () => {
          if (started.length >= n) resolve();
        };
        onStart();
      });
    // Gateway A runs one run at a time, B four.
    const sa = supervisor(a.store, "a", 1);
    const sb = supervisor(b, "b", 4);
    try {
      // mallory's two pull requests and then bob's are queued; A takes the oldest, mallory's first.
      await a.store.requests.insert(request("m1", 1, "mallory", 1));
      await a.store.requests.insert(request("m2", 2, "mallory", 2));
      await a.store.requests.insert(request("b1", 3, "bob", 3));
      await sa.start();
      await startedCount(1);
      assert.deepEqual(started, [{ id: "m1", on: "a" }]);
      // Gateway B: mallory's second run waits for her share, in use on A; bob's does not wait.
      await sb.start();
      await startedCount(2);
      assert.deepEqual(started[1], { id: "b1", on: "b" });
      // B looks at the queue three more times (A is full): mallory's second run still waits.
      const looked = started.length;
      const seen = claims.b;
      while (claims.b < seen + 3) {
        sb.poke();
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(started.length, looked, "m2 is held back by mallory's share on gateway A");
      assert.equal((await b.requests.get("m2"))?.state, "queued");
      // Her first run ends: the second starts, on either gateway.
      await release.get("m1")!();
      await startedCount(3);
      assert.equal(started[2]?.id, "m2");
    } finally {
      await Promise.all([...release.values()].map((r) => r()));
      await sa.stop();
      await sb.stop();
      await b.close();
      await a.close();
    }
  });

  test("runs at once are bounded across two gateways", HANG, async () => {
    const a = await postgres.open();
    const b = await a.reopen();
    let running = 0;
    let most = 0;
    const started: string[] = [];
    const release: (() => Promise<void>)[] = [];
    let changed: () => void = () => {};
    const claims = { a: 0, b: 0 };
    /** Each gateway's runs in flight: a gateway with two has no room to look at the queue. */
    const mine = { a: 0, b: 0 };
    const supervisor = (store: OpenedStore, on: "a" | "b") => {
      const requests = Object.create(store.requests) as OpenedStore["requests"];
      requests.claimNext = (...args) => {
        claims[on]++;
        changed();
        return store.requests.claimNext(...args);
      };
      return new Supervisor({
        requests,
        maxRuns: 2,
        pollMs: 20,
        execute: (req, signal) =>
          new Promise<void>((resolve) => {
            running++;
            mine[on]++;
            most = Math.max(most, running);
            started.push(req.id);
            const end = async () => {
              running--;
              mine[on]--;
              await store.requests.finish(req.id, "done");
              resolve();
            };
            signal.addEventListener("abort", () => void end(), { once: true });
            release.push(end);
            changed();
          }),
        recover: async () => {},
      });
    };
    const until = async (ok: () => boolean) => {
      while (!ok()) await new Promise<void>((r) => (changed = r));
    };
    const sa = supervisor(a.store, "a");
    const sb = supervisor(b, "b");
    try {
      for (let i = 0; i < 6; i++)
        await a.store.requests.insert(request(`r${i}`, 10 + i, `u${i}`, i));
      await sa.start();
      await sb.start();
      await until(() => started.length === 2);
      // Each gateway with room of its own looks at the queue three more times: neither starts a
      // third run. (One that took both runs is full and does not look.)
      const seen = { ...claims };
      const looked = (on: "a" | "b") => mine[on] === 2 || claims[on] >= seen[on] + 3;
      await until(() => looked("a") && looked("b"));
      assert.equal(started.length, 2, "two runs at once, both gateways together");
      // Each run that ends lets one more start, on either gateway.
      for (let n = 3; n <= 6; n++) {
        await release.shift()!();
        await until(() => started.length === n);
      }
      assert.equal(most, 2, "never more than two at once");
    } finally {
      await Promise.all(release.splice(0).map((end) => end()));
      await sa.stop();
      await sb.stop();
      await b.close();
      await a.close();
    }
  });
}

if (postgres) {
  test("an author's share of public jobs holds across two gateways", {
    timeout: 120_000,
  }, async () => {
    const a = await postgres.open();
    const b = await a.reopen();
    const limits = { jobs: 4, publicJobsPerPr: 1, publicJobsPerAuthor: 1 };
    /** B's looks at the store's share, counted, to wait for it to have looked again. */
    let looks = 0;
    let looked: () => void = () => {};
    const slotsB: JobSlotRepo = {
      take: (...args) => {
        looks++;
        looked();
        return b.jobSlots.take(...args);
      },
      release: (...args) => b.jobSlots.release(...args),
    };
    const shareA = new FairShare(limits, { slots: a.store.jobSlots, pollMs: 20 });
    const shareB = new FairShare(limits, { slots: slotsB, pollMs: 20 });
    const never = new AbortController().signal;
    const job = (runId: string, pr: number, author: string, jobId = "unit") => ({
      pr: `acme/app#${pr}`,
      author,
      public: true,
      job: { runId, jobId },
    });
    try {
      // mallory's two runs (two pull requests) run on the two gateways, bob's on B.
      await a.store.requests.insert(request("m1", 1, "mallory", 1));
      await a.store.requests.insert(request("m2", 2, "mallory", 2));
      await a.store.requests.insert(request("b1", 3, "bob", 3));
      assert.equal((await a.store.requests.claimNext(Date.now(), { running: 9 }))?.id, "m1");
      assert.equal((await b.requests.claimNext(Date.now(), { running: 9 }))?.id, "m2");
      assert.equal((await b.requests.claimNext(Date.now(), { running: 9 }))?.id, "b1");

      const first = await shareA.acquire(job("m1", 1, "mallory"), never);
      assert.ok(first, "mallory's first public job starts on A");
      let second: (() => void) | null = null;
      const waiting = shareB.acquire(job("m2", 2, "mallory"), never).then((r) => {
        second = r;
      });
      // bob's job on B is not held up by mallory's waiting one.
      const bobs = await shareB.acquire(job("b1", 3, "bob"), never);
      assert.ok(bobs, "bob's job starts on B");
      // B looks at the store three more times: mallory's second job still waits for her share.
      const seen = looks;
      while (looks < seen + 3) await new Promise<void>((r) => (looked = r));
      assert.equal(second, null, "mallory's second job waits: her share is in use on A");
      // Her first job ends on A: the second starts on B.
      first();
      await waiting;
      assert.ok(second, "mallory's second job starts once her first ended");
      bobs();
      (second as () => void)();
    } finally {
      await b.close();
      await a.close();
    }
  });
}
