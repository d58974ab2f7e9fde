// The webhook event queue on every engine: stored once before the acknowledgement, in group
// commits; claimed oldest first and never twice; completed with its writes atomically.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import type { Store } from "../../src/store/types.js";
import { engines, type OpenedTestStore } from "../support/engines.js";

const ev = (id: string, extra: Record<string, unknown> = {}) => ({
  deliveryId: id,
  name: "pull_request",
  action: "opened",
  payload: JSON.stringify({ id, ...extra }),
});

for (const engine of await engines()) {
  describe(`event queue on ${engine.name}`, () => {
    let t: OpenedTestStore;
    before(async () => {
      t = await engine.open();
    });
    after(() => t.close());

    it("stores a delivery once; concurrent copies of one id, even in one batch, store one", async () => {
      const { events } = t.store;
      const answers = await Promise.all([
        events.insert(ev("d-1")),
        events.insert(ev("d-1")),
        events.insert(ev("d-2")),
      ]);
      assert.deepEqual(answers, ["stored", "duplicate", "stored"]);
      assert.equal(await events.insert(ev("d-1")), "duplicate");
      const stored = await events.get("d-1");
      assert.equal(stored?.payload, JSON.stringify({ id: "d-1" }));
      assert.equal(stored?.state, "pending");
    });

    // One batch of 150 is one statement on PostgreSQL; one of 450 is a transaction of several.
    for (const size of [150, 450]) {
      it(`a burst of ${size} deliveries is stored whole, in arrival order, each with its payload`, async () => {
        const ids = Array.from({ length: size }, (_, i) => `burst${size}-${i}`);
        const answers = await Promise.all(ids.map((id) => t.store.events.insert(ev(id))));
        assert.ok(answers.every((a) => a === "stored"));
        const listed = (await t.store.events.list()).filter((e) =>
          e.deliveryId.startsWith(`burst${size}-`),
        );
        assert.deepEqual(
          listed.map((e) => e.deliveryId),
          ids,
        );
        assert.ok(
          listed.every((e) => e.payload === ""),
          "list leaves payloads out",
        );
        for (const id of [ids[0]!, ids[size - 1]!]) {
          assert.equal((await t.store.events.get(id))?.payload, JSON.stringify({ id }));
        }
      });
    }

    it("a batch that cannot be stored stores none of its deliveries, and each hears so", async () => {
      const { events } = t.store;
      const broken = { ...ev("batch-broken"), name: null as unknown as string };
      const answers = await Promise.allSettled([
        events.insert(ev("batch-a")),
        events.insert(broken),
        events.insert(ev("batch-b")),
      ]);
      assert.deepEqual(
        answers.map((a) => a.status),
        ["rejected", "rejected", "rejected"],
      );
      for (const id of ["batch-a", "batch-broken", "batch-b"]) {
        assert.equal(await events.get(id), undefined, `${id} is not stored`);
      }
      assert.equal(await events.insert(ev("batch-a")), "stored", "a redelivery is stored");
    });
  });

  describe(`event processing on ${engine.name}`, () => {
    let t: OpenedTestStore;
    before(async () => {
      t = await engine.open();
    });
    after(() => t.close());

    it("claims the oldest due event with its payload, once", async () => {
      const { events } = t.store;
      await events.insert(ev("a"), 1000);
      await events.insert(ev("b"), 1000);
      await events.insert({ ...ev("r"), state: "rejected", error: "no repository" }, 1000);
      assert.equal(await events.depth(), 2);
      const first = await events.claimNext(2000);
      assert.equal(first?.deliveryId, "a");
      assert.equal(first?.payload, JSON.stringify({ id: "a" }));
      assert.equal(first?.attempts, 1);
      assert.equal(await events.claimNext(2000), undefined, "b waits while a is in flight");

      // A retry is due only at its time; a process that died gives its claims back.
      await events.retryLater(first!.seq, 5000, "GitHub said 502");
      const second = await events.claimNext(2000);
      assert.equal(second?.deliveryId, "b");
      assert.equal(await events.claimNext(2000), undefined, "nothing else is due");
      assert.equal(await events.nextDueAt(), 5000);
      assert.equal(await events.claimNext(4999), undefined);
      const again = await events.claimNext(5000);
      assert.equal(again?.attempts, 2);
      assert.equal(await events.resetInterrupted(), 2);
      assert.equal((await events.list("pending")).length, 2);

      // Completing needs a claim; finishing records why.
      const claimed = await events.claimNext(9000);
      await events.complete(claimed!.seq, [], 9000);
      await assert.rejects(events.complete(claimed!.seq), /not claimed by this gateway/);
      const other = await events.claimNext(9000);
      await events.finish(other!.seq, "failed", "after 5 attempts: boom", 9000);
      const failed = await events.get(other!.deliveryId);
      assert.equal(failed?.state, "failed");
      assert.equal(failed?.error, "after 5 attempts: boom");
      assert.equal((await events.get("r"))?.state, "rejected");
    });

    if (engine.name === "postgres") {
      it("a claim commits without waiting for the disk; every other statement still waits", async () => {
        // The test cluster commits asynchronously throughout; this database, as by default, not.
        const [dbName] = (
          await sql<{ n: string }>`SELECT current_database() AS n`.execute(t.store.db)
        ).rows;
        await sql`ALTER DATABASE ${sql.id(dbName!.n)} SET synchronous_commit = on`.execute(
          t.store.db,
        );
        const other = await t.reopen();
        try {
          const { events } = other;
          await Promise.all(["async-1", "async-2", "async-3"].map((id) => events.insert(ev(id))));
          for (let i = 0; i < 3; i++) {
            const e = await events.claimNext();
            assert.ok(e, "claimed");
            await events.complete(e.seq);
          }
          // The claim's setting ends with its transaction: no pooled connection keeps it, so an
          // acknowledged delivery is never stored by an asynchronous commit.
          const settings = await Promise.all(
            Array.from({ length: 10 }, () =>
              sql<{
                v: string;
              }>`SELECT current_setting('synchronous_commit') AS v, pg_sleep(0.05)`.execute(
                other.db,
              ),
            ),
          );
          assert.deepEqual(new Set(settings.map((r) => r.rows[0]?.v)), new Set(["on"]));
        } finally {
          await other.close();
          await sql`ALTER DATABASE ${sql.id(dbName!.n)} RESET synchronous_commit`.execute(
            t.store.db,
          );
        }
      });
    }

    it("completion writes commit with 'done', and roll back with a completion that fails", async () => {
      const { events } = t.store;
      await events.insert(ev("w1"));
      const e = await events.claimNext();
      const label = (l: string) => async (tx: Store) => tx.labels.add("o/r", 1, l, "alice");
      await events.complete(e!.seq, [label("test-aws")]);
      assert.deepEqual(await t.store.labels.trusted("o/r", 1), ["test-aws"]);

      await events.insert(ev("w2"));
      const f = await events.claimNext();
      await assert.rejects(
        events.complete(f!.seq, [
          label("test-gcp"),
          async () => {
            throw new Error("handler write failed");
          },
        ]),
        /handler write failed/,
      );
      assert.deepEqual(await t.store.labels.trusted("o/r", 1), ["test-aws"], "rolled back");
      assert.equal((await events.get("w2"))?.state, "processing", "still claimed, not done");
      await events.complete(f!.seq);
    });

    it("two connections claiming at once never get the same event, nor two at once", async () => {
      const other = await t.reopen();
      try {
        const ids = Array.from({ length: 40 }, (_, i) => `race-${i}`);
        await Promise.all(ids.map((id) => t.store.events.insert(ev(id))));
        const seen: { id: string; seq: number }[] = [];
        let inFlight = 0;
        let most = 0;
        const drain = async (s: Store) => {
          // Bounded by count: until every delivery was seen, or long after nothing more came.
          for (let idle = 0; seen.length < ids.length && idle < 5000; ) {
            const e = await s.events.claimNext();
            if (!e) {
              // Another claim holds the next one.
              idle++;
              await new Promise((r) => setImmediate(r));
              continue;
            }
            idle = 0;
            most = Math.max(most, ++inFlight);
            seen.push({ id: e.deliveryId, seq: e.seq });
            // The work: the other drainers claim meanwhile, and must get nothing.
            await new Promise((r) => setTimeout(r, 1));
            inFlight--; // before the completion commits: a claim after it is no overlap
            await s.events.complete(e.seq);
          }
        };
        await Promise.all([drain(t.store), drain(other), drain(t.store), drain(other)]);
        const raced = seen.filter((e) => e.id.startsWith("race-"));
        assert.equal(raced.length, ids.length);
        assert.equal(new Set(raced.map((e) => e.id)).size, ids.length);
        assert.equal(most, 1, "never two events in flight at once");
        const seqs = seen.map((e) => e.seq);
        assert.deepEqual(
          seqs,
          [...seqs].sort((a, b) => a - b),
          "claimed in arrival order",
        );
      } finally {
        await other.close();
      }
    });
  });
}
