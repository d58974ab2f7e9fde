// Public jobs' places in the fair share, counted across the gateways on a database: two open
// stores (two lease holders) take places; a pull request's and an author's share hold for both
// together; a place of a run that ended, or of a gateway whose lease ran out, counts no more.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { OpenedStore } from "../../src/store/index.js";
import { engines, type OpenedTestStore } from "../support/engines.js";
import { publicRunRequest as request } from "../support/run-request.js";

const LIMITS = { perPr: 1, perAuthor: 2 };
const slot = (runId: string, pr: number, author: string, jobId = "unit") => ({
  runId,
  jobId,
  pr: `o/r#${pr}`,
  author,
});

for (const engine of await engines()) {
  describe(`job places shared by two gateways on ${engine.name}`, () => {
    let t: OpenedTestStore;
    let a: OpenedStore;
    let b: OpenedStore;
    beforeEach(async () => {
      t = await engine.open();
      a = t.store;
      b = await t.reopen();
    });
    afterEach(async () => {
      await b.close();
      await t.close();
    });

    /** Queues a request and claims it on `on`: its run runs there. */
    const running = async (on: OpenedStore, id: string, pr: number, author: string) => {
      await on.requests.insert(request(id, pr, author, Date.now()));
      const claimed = await on.requests.claimNext(Date.now(), { running: 99 });
      assert.equal(claimed?.id, id);
    };

    it("a pull request's and an author's share hold for both gateways together", async () => {
      await running(a, "m1", 1, "mallory");
      await running(b, "m2", 2, "mallory");
      await running(b, "m3", 3, "mallory");
      assert.equal(await a.jobSlots.take(slot("m1", 1, "mallory"), LIMITS), true);
      // Taken again (a job looking twice): still one place.
      assert.equal(await a.jobSlots.take(slot("m1", 1, "mallory"), LIMITS), true);
      // The same pull request's second job waits, on the other gateway too.
      assert.equal(await b.jobSlots.take(slot("m1", 1, "mallory", "lint"), LIMITS), false);
      assert.equal(await b.jobSlots.take(slot("m2", 2, "mallory"), LIMITS), true);
      // Her third pull request: her share (2) is in use on A and B.
      assert.equal(await b.jobSlots.take(slot("m3", 3, "mallory"), LIMITS), false);
      await running(a, "b1", 4, "bob");
      assert.equal(await a.jobSlots.take(slot("b1", 4, "bob"), LIMITS), true);
      // A job ends on A: the place is B's to take.
      await a.jobSlots.release("m1", "unit");
      assert.equal(await b.jobSlots.take(slot("m3", 3, "mallory"), LIMITS), true);
    });

    it("a run that ended, or a gateway whose lease ran out, holds no place", async () => {
      await running(a, "m1", 1, "mallory");
      await running(a, "m2", 2, "mallory");
      await running(b, "m3", 3, "mallory");
      assert.equal(await a.jobSlots.take(slot("m1", 1, "mallory"), LIMITS), true);
      assert.equal(await a.jobSlots.take(slot("m2", 2, "mallory"), LIMITS), true);
      assert.equal(await b.jobSlots.take(slot("m3", 3, "mallory"), LIMITS), false);
      // m1's run ends without its places given back (its gateway failed to): m3 takes one.
      await a.requests.finish("m1", "done");
      assert.equal(await b.jobSlots.take(slot("m3", 3, "mallory"), LIMITS), true);
      await b.jobSlots.release("m3", "unit");
      // A stops renewing its leases: once they ran out (as of a later time), m2's place is free.
      const later = Date.now() + 3600_000;
      assert.equal(await b.jobSlots.take(slot("m3", 3, "mallory"), LIMITS, later), true);
    });
  });
}
