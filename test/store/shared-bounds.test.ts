// Bounds that hold for every gateway sharing a database, not for each: two open stores (two lease
// holders) claim at once, and never more than the bound is in flight, counted by the claims that
// succeed; a dead holder's share comes back once its leases run out. Times are given explicitly,
// far from the heartbeat's own renewals. On PostgreSQL the claims race on separate connections; on
// SQLite (one gateway per database) the same rules are checked one claim at a time.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { FairShare } from "../../src/gateway/fair-share.js";
import { type OpenedStore, openStore } from "../../src/store/index.js";
import type { NewOutboxItem } from "../../src/store/types.js";
import { engines, type OpenedTestStore } from "../support/engines.js";
import { publicRunRequest as request } from "../support/run-request.js";

const TTL = 60_000;

const item = (key: string, installationId: number): NewOutboxItem => ({
  kind: "comment",
  key,
  orderingKey: key,
  repo: "o/r",
  installationId,
  payload: { key },
});

for (const engine of await engines()) {
  describe(`bounds shared by two gateways on ${engine.name}`, () => {
    let t: OpenedTestStore;
    let a: OpenedStore;
    let b: OpenedStore;
    // Each test on a database of its own.
    beforeEach(async () => {
      t = await engine.open();
      a = await third();
      b = await third();
    });
    afterEach(async () => {
      await a.close();
      await b.close();
      await t.close();
    });

    /** `n` claims from each gateway: at once on PostgreSQL, one after another on SQLite. */
    async function race<T>(n: number, claim: (s: OpenedStore) => Promise<T | undefined>) {
      const tries = Array.from({ length: n }, () => [a, b]).flat();
      const got =
        engine.name === "postgres"
          ? await Promise.all(tries.map(claim))
          : await tries.reduce<Promise<(T | undefined)[]>>(
              async (acc, s) => [...(await acc), await claim(s)],
              Promise.resolve([]),
            );
      return got.filter((x): x is T => x !== undefined);
    }

    /** A gateway (a third one dies holding work: its leases are left to run out). */
    const third = () =>
      openStore({ dataDir: t.dataDir, database: { ...t.database, leaseTtlMs: TTL } });

    /** Ends every run request, running (by the gateway holding it) or queued. */
    async function endRuns() {
      for (const s of [a, b]) {
        for (const r of await s.requests.inState("running")) await s.requests.finish(r.id, "done");
      }
      for (const r of await a.requests.inState("queued")) await a.requests.finish(r.id, "done");
    }

    it("an installation's outbox items in flight stay within the bound across gateways", async () => {
      const T = Date.now();
      for (let i = 0; i < 12; i++) await a.outbox.enqueue(item(`w1-${i}`, 1), T);
      for (let i = 0; i < 3; i++) await a.outbox.enqueue(item(`w2-${i}`, 2), T);
      // Eight claims from each gateway at once, with room for three of each installation.
      const first = await race(8, (s) => s.outbox.claimNext(T, 3));
      const of = (inst: number, got: typeof first) =>
        got.filter((i) => i.installationId === inst).length;
      assert.equal(of(1, first), 3, "installation 1: three in flight, whoever claimed them");
      assert.equal(of(2, first), 3, "installation 2 is not held back by installation 1");
      assert.equal(await b.outbox.claimNext(T, 3), undefined, "both full");
      // One ends: exactly one more of its installation may go.
      const done = first.find((i) => i.installationId === 1)!;
      for (const s of [a, b]) await s.outbox.complete(done.seq, T); // only its holder's counts
      const second = await race(4, (s) => s.outbox.claimNext(T, 3));
      assert.equal(of(1, second), 1);
      assert.equal(of(2, second), 0);
    });

    it("a dead gateway's outbox items stop counting once their leases run out", async () => {
      const T = Date.now();
      for (let i = 0; i < 6; i++) await a.outbox.enqueue(item(`d-${i}`, 3), T);
      const c = await third();
      try {
        for (let i = 0; i < 2; i++) assert.ok(await c.outbox.claimNext(T, 2));
        assert.deepEqual(await race(3, (s) => s.outbox.claimNext(T, 2)), [], "c's two count");
        // c dies; past its leases, its two items no longer count (and are taken over).
        const later = T + 3 * TTL;
        const taken = await race(3, (s) => s.outbox.claimNext(later, 2));
        assert.equal(taken.length, 2);
        assert.ok(
          taken.every((i) => i.key === "d-0" || i.key === "d-1"),
          "the dead gateway's items go first",
        );
      } finally {
        await c.close();
      }
    });

    it("runs in flight stay within the bound across gateways; a dead gateway's come back", async () => {
      const T = Date.now();
      for (let i = 0; i < 6; i++) await a.requests.insert(request(`r${i}`, 10 + i, `u${i}`, i));
      const first = await race(5, (s) => s.requests.claimNext(T, { running: 2 }));
      assert.deepEqual(
        first.map((r) => r.id).sort(),
        ["r0", "r1"],
        "two runs in flight, every gateway together, the oldest first",
      );
      await endRuns();
      for (let i = 0; i < 4; i++) await a.requests.insert(request(`s${i}`, 10 + i, `u${i}`, i));
      const c = await third();
      try {
        for (let i = 0; i < 2; i++) assert.ok(await c.requests.claimNext(T, { running: 2 }));
        assert.deepEqual(await race(3, (s) => s.requests.claimNext(T, { running: 2 })), []);
        // c dies: once its leases ran out, its runs no longer count.
        const later = T + 3 * TTL;
        const after = await race(3, (s) => s.requests.claimNext(later, { running: 2 }));
        assert.deepEqual(after.map((r) => r.id).sort(), ["s2", "s3"]);
      } finally {
        await c.close();
      }
    });

    it("an author's fair share is checked in the claim itself, across gateways", async () => {
      const T = Date.now();
      const share = new FairShare({ jobs: 8, publicJobsPerPr: 1, publicJobsPerAuthor: 1 });
      // mallory's five pull requests, queued before bob's.
      for (let i = 0; i < 5; i++) await a.requests.insert(request(`m${i}`, 20 + i, "mallory", i));
      await a.requests.insert(request("b0", 30, "bob", 9));
      const holds = share.holds.bind(share);
      const claimed = await race(6, (s) => s.requests.claimNext(T, { holds }));
      assert.deepEqual(
        claimed.map((r) => r.id).sort(),
        ["b0", "m0"],
        "one of mallory's runs, however many gateways claim at once, and bob's",
      );
      // Her pull requests queued while the gateways claim: none of them is claimed past her share
      // (a check on a snapshot taken before they were queued would let them through).
      const queuing = Array.from({ length: 4 }, (_, i) =>
        a.requests.insert(request(`n${i}`, 40 + i, "mallory", 20 + i)),
      );
      const meanwhile = await race(4, (s) => s.requests.claimNext(T, { holds }));
      await Promise.all(queuing);
      assert.deepEqual(meanwhile, []);
      assert.deepEqual(await race(2, (s) => s.requests.claimNext(T, { holds })), []);
      // Either gateway may hold m0; only its holder's finish counts.
      for (const s of [a, b]) await s.requests.finish("m0", "done");
      assert.equal((await b.requests.claimNext(T, { holds }))?.id, "m1", "her next, once it ended");
    });
  });
}
