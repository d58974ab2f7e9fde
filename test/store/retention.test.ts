// Retention on every engine: what ended before the policy's horizon is removed in batches, what is
// in flight or younger stays, the audit log is never touched; and a chore runs on one gateway at
// a time.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { NewJob, RetentionPolicy } from "../../src/store/types.js";
import { engines, type OpenedTestStore } from "../support/engines.js";

const DAY = 24 * 3600_000;
const POLICY: RetentionPolicy = {
  deliveries: 30 * DAY,
  outbox: 30 * DAY,
  checkRuns: 90 * DAY,
  runs: 90 * DAY,
};
const job: NewJob = {
  jobId: "unit",
  template: "unit",
  needs: [],
  secrets: [],
  state: "pending",
  reason: "",
};

for (const engine of await engines()) {
  describe(`retention on ${engine.name}`, () => {
    let t: OpenedTestStore;
    before(async () => {
      t = await engine.open();
    });
    after(() => t.close());

    it("removes what ended before the horizon, keeps what is younger or in flight", async () => {
      const s = t.store;
      const now = 1000 * DAY;
      const old = now - 31 * DAY;
      const young = now - DAY;
      // Deliveries: 1,200 old and done (more than two batches), one old but still pending, one young.
      const ids = Array.from({ length: 1200 }, (_, i) => `old-${i}`);
      await Promise.all(
        ids.map((id) =>
          s.events.insert({ deliveryId: id, name: "ping", action: null, payload: "{}" }, old),
        ),
      );
      for (;;) {
        const e = await s.events.claimNext(old);
        if (!e) break;
        await s.events.complete(e.seq, [], old);
      }
      await s.events.insert(
        { deliveryId: "old-pending", name: "ping", action: null, payload: "{}" },
        old,
      );
      await s.events.insert(
        { deliveryId: "young", name: "ping", action: null, payload: "{}" },
        young,
      );
      const young1 = await s.events.claimNext(young);
      assert.equal(young1?.deliveryId, "old-pending");
      await s.events.retryLater(young1!.seq, now + DAY, "later");
      const y = await s.events.claimNext(young);
      await s.events.complete(y!.seq, [], young);

      // Outbox: one sent long ago, one sent lately, one never sent.
      const item = (key: string) => ({
        kind: "comment",
        key,
        orderingKey: key,
        repo: "o/r",
        installationId: 1,
        payload: {},
      });
      await s.outbox.enqueue(item("sent-old"), old);
      await s.outbox.enqueue(item("sent-young"), old);
      await s.outbox.enqueue(item("unsent"), old);
      const o1 = await s.outbox.claimNext(old);
      await s.outbox.complete(o1!.seq, old);
      const o2 = await s.outbox.claimNext(old);
      await s.outbox.complete(o2!.seq, young);

      // Check-run ids: one written 100 days ago, one lately.
      await s.checkRuns.set(
        "o/r",
        "a".repeat(40),
        "airlock/unit",
        { id: 1, via: "checks" },
        now - 100 * DAY,
      );
      await s.checkRuns.set("o/r", "b".repeat(40), "airlock/unit", { id: 2, via: "checks" }, young);

      // Runs: one ended 100 days ago (its request ended too), one ended lately, one still running.
      for (const id of ["run-old", "run-young", "run-live"]) {
        await s.runs.create({ id, source: "github", repo: "o/r", ref: null, sha: "c".repeat(40) }, [
          job,
        ]);
      }
      await s.runs.setStatus("run-old", "passed");
      await s.runs.setStatus("run-young", "passed");
      await s.runs.setStatus("run-live", "running");
      await t.store.db
        .updateTable("runs")
        .set({ finished_at: now - 100 * DAY, created_at: now - 100 * DAY })
        .where("id", "in", ["run-old", "run-live"])
        .execute();
      await s.audit.record({
        action: "release",
        actor: "gateway",
        runId: "run-old",
        at: now - 100 * DAY,
      });

      const counts = await s.retention.prune(POLICY, now);
      assert.equal(counts.deliveries, 1200);
      assert.equal(counts.outbox, 1);
      assert.equal(counts.checkRuns, 1);
      assert.equal(counts.runs, 1);
      assert.deepEqual(counts.runIds, ["run-old"]);

      assert.deepEqual((await s.events.list()).map((e) => e.deliveryId).sort(), [
        "old-pending",
        "young",
      ]);
      assert.equal((await s.events.get("young"))?.payload, "{}", "its body stays with it");
      assert.deepEqual((await s.outbox.list()).map((i) => i.key).sort(), ["sent-young", "unsent"]);
      assert.equal(await s.checkRuns.get("o/r", "a".repeat(40), "airlock/unit"), undefined);
      assert.equal((await s.checkRuns.get("o/r", "b".repeat(40), "airlock/unit"))?.id, 2);
      assert.equal(await s.runs.get("run-old"), undefined);
      assert.deepEqual(await s.runs.jobs("run-old"), []);
      assert.ok(await s.runs.get("run-young"));
      assert.ok(await s.runs.get("run-live"), "a run in flight stays, however old");
      assert.equal((await s.audit.list({ run: "run-old" })).length, 1, "the audit log is kept");
      assert.deepEqual([...(await s.retention.existing(["run-old", "run-young"]))], ["run-young"]);

      // Nothing is kept for ever unless said so; "forever" keeps.
      const none = await s.retention.prune(
        { deliveries: null, outbox: null, checkRuns: null, runs: null },
        now + 1000 * DAY,
      );
      assert.equal(none.deliveries + none.outbox + none.checkRuns + none.runs, 0);
    });

    it("a chore runs on one gateway at a time", async () => {
      const other = await t.reopen();
      try {
        let release!: () => void;
        const held = new Promise<void>((r) => {
          release = r;
        });
        let started!: () => void;
        const inside = new Promise<void>((r) => {
          started = r;
        });
        const first = t.store.leases.singleton("retention", async () => {
          started();
          await held;
          return "first";
        });
        await inside;
        const second = await other.leases.singleton("retention", async () => "second");
        const elsewhere = await other.leases.singleton("another-chore", async () => "other");
        release();
        assert.deepEqual(await first, { ran: true, value: "first" });
        assert.deepEqual(elsewhere, { ran: true, value: "other" });
        if (engine.name === "postgres") {
          assert.deepEqual(second, { ran: false }, "the other gateway skips it");
          assert.deepEqual(
            await other.leases.singleton("retention", async () => "later"),
            { ran: true, value: "later" },
            "released once done",
          );
        } else {
          // One gateway per SQLite database: its chores are its own.
          assert.deepEqual(second, { ran: true, value: "second" });
        }
      } finally {
        await other.close();
      }
    });
  });
}
