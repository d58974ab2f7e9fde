// The outbox and check-run records on every engine: an item is stored once, in the caller's
// transaction when there is one; a newer full state supersedes (and may fold) unsent ones; items
// of one ordering key go out one at a time, oldest first.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { NewOutboxItem } from "../../src/store/types.js";
import { engines, type OpenedTestStore } from "../support/engines.js";

const item = (key: string, orderingKey: string, payload: unknown = { key }): NewOutboxItem => ({
  kind: "check_run",
  key,
  orderingKey,
  repo: "o/r",
  installationId: 40_000_000_001,
  payload,
});

for (const engine of await engines()) {
  describe(`outbox on ${engine.name}`, () => {
    let t: OpenedTestStore;
    before(async () => {
      t = await engine.open();
    });
    after(() => t.close());

    it("stores a key once; `onlyIf` decides in the same transaction", async () => {
      const { outbox } = t.store;
      assert.equal(await outbox.enqueue(item("k1", "a")), "stored");
      assert.equal(await outbox.enqueue(item("k1", "a")), "duplicate");
      assert.equal(await outbox.enqueue(item("k2", "a"), Date.now(), async () => false), "skipped");
      const seen: boolean[] = [];
      await outbox.enqueue(item("k3", "b"), Date.now(), async (tx) => {
        seen.push((await tx.labels.trusted("o/r", 1)).length === 0);
        return true;
      });
      assert.deepEqual(seen, [true]);
      const listed = await outbox.list();
      assert.deepEqual(
        listed.map((i) => i.key),
        ["k1", "k3"],
      );
      assert.equal(listed[0]?.installationId, 40_000_000_001, "64-bit ids survive");
    });

    it("rolls back with the caller's transaction", async () => {
      await assert.rejects(
        t.store.transaction(async (tx) => {
          await tx.outbox.enqueue(item("rolled-back", "c"));
          throw new Error("abort");
        }),
      );
      assert.equal((await t.store.outbox.list()).filter((i) => i.key === "rolled-back").length, 0);
    });

    it("a full state supersedes unsent ones of its target, folding them when asked", async () => {
      const { outbox } = t.store;
      await outbox.enqueue(item("s1", "check:x", { n: 1 }));
      await outbox.enqueue(item("s2", "check:x", { n: 2 }));
      await outbox.enqueue({
        ...item("s3", "check:x", { n: 3 }),
        supersedes: true,
        fold: (p, older) => ({
          ...(p as object),
          folded: older.map((o) => (o as { n: number }).n),
        }),
      });
      const items = (await outbox.list()).filter((i) => i.orderingKey === "check:x");
      assert.deepEqual(
        items.map((i) => [i.key, i.state]),
        [
          ["s1", "superseded"],
          ["s2", "superseded"],
          ["s3", "pending"],
        ],
      );
      assert.deepEqual(items[2]?.payload, { n: 3, folded: [1, 2] });
    });
  });

  describe(`outbox delivery order on ${engine.name}`, () => {
    let t: OpenedTestStore;
    before(async () => {
      t = await engine.open();
    });
    after(() => t.close());

    it("one item of an ordering key at a time, oldest first; others pass it by", async () => {
      const { outbox } = t.store;
      await outbox.enqueue(item("a1", "A"), 100);
      await outbox.enqueue(item("a2", "A"), 100);
      await outbox.enqueue(item("b1", "B"), 100);
      const first = await outbox.claimNext(200);
      assert.equal(first?.key, "a1");
      assert.equal(first?.attempts, 1);
      const second = await outbox.claimNext(200);
      assert.equal(second?.key, "b1", "a2 waits behind a1 in flight");
      assert.equal(await outbox.claimNext(200), undefined);
      assert.equal(await outbox.depth(), 3);

      await outbox.retryLater(first!.seq, 1000, "502 from the forge");
      assert.equal(await outbox.nextDueAt(), 100, "a2 has been due since 100, though it waits");
      assert.equal(await outbox.claimNext(999), undefined, "a2 still waits behind a1");
      const retried = await outbox.claimNext(1000);
      assert.equal(retried?.key, "a1");
      assert.equal(retried?.lastError, "502 from the forge");
      await outbox.complete(retried!.seq, 1000);
      assert.equal((await outbox.claimNext(1000))?.key, "a2");
      assert.equal(await outbox.resetInterrupted(), 2, "a2 and b1 were in flight");
      assert.equal((await outbox.claimNext(1000))?.key, "a2");
      const b = await outbox.claimNext(1000);
      assert.equal(b?.key, "b1");
      await outbox.fail(b!.seq, "422: refused for good", 1000);
      assert.deepEqual(
        (await outbox.list("failed")).map((i) => i.key),
        ["b1"],
      );
    });

    it("check-run records: a create in flight, then the id; 64-bit ids", async () => {
      const { checkRuns } = t.store;
      assert.equal(await checkRuns.get("o/r", "abc", "build"), undefined);
      await checkRuns.set("o/r", "abc", "build", { id: null, via: "checks", replaces: 7, seq: 3 });
      assert.deepEqual(await checkRuns.get("o/r", "abc", "build"), {
        id: null,
        via: "checks",
        status: null,
        replaces: 7,
        seq: 3,
      });
      await checkRuns.set("o/r", "abc", "build", {
        id: 38_123_456_789,
        via: "status",
        status: "completed",
      });
      assert.deepEqual(await checkRuns.get("o/r", "abc", "build"), {
        id: 38_123_456_789,
        via: "status",
        status: "completed",
        replaces: null,
        seq: null,
      });
    });
  });
}
