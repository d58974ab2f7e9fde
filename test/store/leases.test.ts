// Leases on every engine: two gateways on one database (two open stores, two holders). Work one
// holds is never claimed by the other while its lease lasts; once the lease runs out the other
// takes it over, and the first one's late settle no longer counts. Times are given explicitly
// (far from the heartbeat's own renewals), except where the heartbeat itself is tested.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type OpenedStore, openStore } from "../../src/store/index.js";
import { engines, type OpenedTestStore } from "../support/engines.js";
import { runRequest as request } from "../support/run-request.js";

const TTL = 60_000;

const outboxItem = (key: string) => ({
  kind: "comment",
  key,
  orderingKey: key,
  repo: "o/r",
  installationId: 9,
  payload: { n: key },
});

for (const engine of await engines()) {
  describe(`leases on ${engine.name}`, () => {
    let t: OpenedTestStore;
    let a: OpenedStore;
    let b: OpenedStore;
    const open = (ttl = TTL) =>
      openStore({ dataDir: t.dataDir, database: { ...t.database, leaseTtlMs: ttl } });
    before(async () => {
      t = await engine.open();
      a = await open();
      b = await open();
    });
    after(async () => {
      await a.close();
      await b.close();
      await t.close();
    });

    it("each gateway claims under a holder of its own", () => {
      assert.notEqual(a.leases.holder, b.leases.holder);
      assert.equal(a.leases.ttlMs, TTL);
    });

    it("a delivery another gateway holds is taken over only when its lease runs out", async () => {
      const T = Date.now();
      await a.events.insert({ deliveryId: "e1", name: "ping", action: null, payload: "{}" }, T);
      const mine = await a.events.claimNext(T);
      assert.equal(mine?.deliveryId, "e1");
      assert.equal(await b.events.claimNext(T + TTL - 1), undefined, "held by the other");
      assert.equal(await b.events.resetInterrupted(), engine.name === "sqlite" ? 1 : 0);
      if (engine.name === "sqlite") {
        // One gateway per SQLite file: a starting one takes every claim back. Claim it again.
        assert.equal((await a.events.claimNext(T))?.deliveryId, "e1");
      }
      const taken = await b.events.claimNext(T + TTL + 1);
      assert.equal(taken?.deliveryId, "e1", "the lease ran out: taken over");
      assert.equal(taken?.attempts, engine.name === "sqlite" ? 3 : 2);
      // The first holder comes back to life: its completion does not count.
      await assert.rejects(a.events.complete(mine!.seq), /not claimed by this gateway/);
      await a.events.retryLater(mine!.seq, T, "late");
      await a.events.finish(mine!.seq, "failed", "late");
      assert.equal((await b.events.get("e1"))?.state, "processing");
      await b.events.complete(taken!.seq);
      assert.equal((await a.events.get("e1"))?.state, "done");
    });

    it("an outbox item is sent by one gateway; a dead one's item by the next", async () => {
      const T = Date.now();
      await a.outbox.enqueue(outboxItem("o1"), T);
      const mine = await a.outbox.claimNext(T);
      assert.equal(mine?.key, "o1");
      assert.equal(await b.outbox.claimNext(T + 1), undefined);
      const taken = await b.outbox.claimNext(T + TTL + 1);
      assert.equal(taken?.key, "o1");
      await a.outbox.complete(mine!.seq);
      await a.outbox.fail(mine!.seq, "late");
      assert.equal(
        (await b.outbox.list("delivering")).length,
        1,
        "the late settles changed nothing",
      );
      await b.outbox.complete(taken!.seq);
      assert.deepEqual(
        (await a.outbox.list("done")).map((i) => i.key),
        ["o1"],
      );
    });

    it("an item whose write is on its way: taken over once the lease and the write ran out", async () => {
      const T = Date.now();
      await a.outbox.enqueue(outboxItem("o2"), T);
      const mine = await a.outbox.claimNext(T);
      assert.equal(mine?.key, "o2");
      const landed = T + 5 * TTL;
      assert.equal(await b.outbox.guardWrite(mine!.seq, landed, T), false, "not B's claim");
      assert.equal(await a.outbox.guardWrite(mine!.seq, landed, T), true);
      assert.equal(await b.outbox.claimNext(T + 2 * TTL), undefined, "its write may still land");
      const taken = await b.outbox.claimNext(landed + 1);
      assert.equal(taken?.key, "o2");
      assert.equal(
        await a.outbox.guardWrite(mine!.seq, landed + 5 * TTL, landed + 2),
        false,
        "A stalled past its lease and its item was taken over: it writes nothing",
      );
      assert.equal(await b.outbox.guardWrite(taken!.seq, landed + 5 * TTL, landed + 2), true);
      await b.outbox.complete(taken!.seq);

      // Taken back by a starting gateway: on PostgreSQL, due once the write can no longer land (the
      // gateway whose lease ran out may only have stalled); on SQLite, one gateway per database,
      // at once (the one before it is dead).
      await a.outbox.enqueue(outboxItem("o3"), T);
      const o3 = await a.outbox.claimNext(T);
      assert.equal(await a.outbox.guardWrite(o3!.seq, landed, T), true);
      assert.equal(await b.outbox.resetInterrupted(T + 2 * TTL), 1);
      const due = engine.name === "postgres" ? landed : T;
      assert.equal(await b.outbox.nextDueAt(), due);
      assert.equal(await b.outbox.claimNext(due - 1), undefined);
      const again = await b.outbox.claimNext(due);
      assert.equal(again?.key, "o3");
      await b.outbox.complete(again!.seq);
    });

    it("a run request running under a dead gateway is adopted once, by one gateway", async () => {
      const T = Date.now();
      await a.requests.insert(request("q1"), T);
      const running = await a.requests.claimNext(T);
      assert.equal(running?.id, "q1");
      assert.deepEqual(await b.requests.adoptAbandoned(T + TTL - 1), [], "its holder lives");
      const [adopted, ...more] = await b.requests.adoptAbandoned(T + TTL + 1);
      assert.equal(adopted?.id, "q1");
      assert.deepEqual(more, []);
      assert.deepEqual(await a.requests.adoptAbandoned(T + TTL + 2), [], "adopted once");
      // The old holder's requeue of it does nothing; the adopter's counts.
      await a.requests.requeue(running!, "q1-late", T + TTL + 3);
      assert.equal(await a.requests.get("q1-late"), undefined);
      await b.requests.requeue(adopted!, "q1-2", T + TTL + 3);
      assert.equal((await b.requests.get("q1-2"))?.attempt, 2);
      assert.equal((await b.requests.get("q1"))?.state, "done");
      await b.requests.finish("q1-2", "done");
    });

    it("renewing holds the leases; releasing hands them over at once", async () => {
      const T = Date.now();
      await a.requests.insert(request("q2"), T);
      await a.requests.claimNext(T);
      assert.ok((await a.leases.renew(T + TTL)) >= 1);
      assert.deepEqual(await b.requests.adoptAbandoned(T + TTL + 1), [], "renewed until T+2TTL");
      assert.equal(await a.leases.release(), 1);
      assert.deepEqual(
        (await b.requests.adoptAbandoned(T + 1)).map((r) => r.id),
        ["q2"],
      );
      await b.requests.finish("q2", "done");
    });

    it("the heartbeat keeps a live gateway's claims; closing releases them", async () => {
      const short = await open(300);
      try {
        await short.requests.insert(request("q3"));
        await short.requests.claimNext();
        const until = async () =>
          (
            await t.store.db
              .selectFrom("run_requests")
              .select("lease_until")
              .where("id", "=", "q3")
              .executeTakeFirstOrThrow()
          ).lease_until ?? 0;
        const first = await until();
        // Renewals move the lease on: wait for two (events, not a time window).
        let seen = first;
        for (let beats = 0; beats < 2; ) {
          await new Promise((r) => setTimeout(r, 50));
          const now = await until();
          if (now > seen) {
            beats++;
            seen = now;
          }
        }
        assert.ok(seen > first);
      } finally {
        await short.close();
      }
      assert.deepEqual(
        (await b.requests.adoptAbandoned()).map((r) => r.id),
        ["q3"],
        "closed: its claim is released",
      );
      await b.requests.finish("q3", "done");
    });

    it("a turn is one transaction's at a time, across gateways; the next sees what it wrote", async () => {
      // A gate is computed and stored in its commit's turn: the next computation must see the
      // request the previous transaction ended (on SQLite, one gateway runs one at a time).
      await a.requests.insert(request("q5"));
      const second = engine.name === "postgres" ? b : a;
      let release!: () => void;
      const held = new Promise<void>((r) => {
        release = r;
      });
      let entered!: () => void;
      const inTurn = new Promise<void>((r) => {
        entered = r;
      });
      const order: string[] = [];
      const first = a.transaction(async (tx) => {
        await tx.leases.takeTurns("gate:o/r@a");
        entered();
        await held;
        await tx.requests.finish("q5", "done");
      });
      await inTurn;
      const next = second.transaction(async (tx) => {
        await tx.leases.takeTurns("gate:o/r@a");
        order.push("second in turn");
        return (await tx.requests.get("q5"))?.state;
      });
      // Give the second transaction time to (wrongly) take the turn: it must wait.
      await new Promise((r) => setTimeout(r, 300));
      order.push("first commits");
      release();
      await first;
      assert.equal(await next, "done");
      assert.deepEqual(order, ["first commits", "second in turn"]);
      await assert.rejects(a.leases.takeTurns("gate:o/r@a"), /for a transaction/);
    });

    it("a stop is asked through the store of whichever gateway runs the request", async () => {
      await a.requests.insert(request("q4"));
      await a.requests.claimNext();
      const other = "c".repeat(40);
      assert.equal(await b.requests.askToStop("o/r", 1, "x", { keepSha: "a".repeat(40) }), 0);
      assert.equal(await b.requests.askToStop("o/r", 1, "superseded", { keepSha: other }), 1);
      assert.deepEqual(await a.requests.stopsAsked(["q4"]), [{ id: "q4", reason: "superseded" }]);
      assert.equal((await a.requests.get("q4"))?.stopReason, "superseded");
      await a.requests.finish("q4", "cancelled");
      assert.deepEqual(await a.requests.stopsAsked(["q4"]), [], "only running requests");
    });
  });
}
