// Heads and per-commit approvals on every engine: a new head voids approvals of other commits in
// the same transaction, an approval binds only the current head, and each change is audited.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { engines, type OpenedTestStore } from "../support/engines.js";

const A = "a".repeat(40);
const B = "b".repeat(40);

for (const engine of await engines()) {
  describe(`approvals on ${engine.name}`, () => {
    let t: OpenedTestStore;
    before(async () => {
      t = await engine.open();
    });
    after(() => t.close());

    it("approve binds the head only; a push voids it, with audit entries", async () => {
      const { approvals } = t.store;
      assert.deepEqual(await approvals.setHead("o/r", 1, A, "mallory", 10), {
        changed: true,
        previous: undefined,
        voided: 0,
      });
      assert.equal(await approvals.approve("o/r", 1, B, "alice", "comment", 11), false);
      assert.equal(await approvals.approve("o/r", 1, A, "alice", "comment", 12), true);
      assert.equal((await approvals.approvalFor("o/r", 1, A))?.approvedBy, "alice");
      assert.deepEqual((await approvals.setHead("o/r", 1, A, "mallory", 13)).changed, false);

      const moved = await approvals.setHead("o/r", 1, B, "mallory", 14);
      assert.deepEqual(moved, { changed: true, previous: A, voided: 1 });
      assert.equal(await approvals.approvalFor("o/r", 1, A), undefined);
      assert.equal(await approvals.approvalFor("o/r", 1, B), undefined);
      assert.deepEqual(await approvals.head("o/r", 1), { sha: B, pushedBy: "mallory", seenAt: 14 });
      const history = await approvals.history("o/r", 1);
      assert.equal(history.length, 1);
      assert.equal(history[0]?.voidedAt, 14);
      assert.match(history[0]?.voidReason ?? "", /new commit bbbbbbbbbbbb was pushed/);
      const audit = await t.store.audit.list();
      assert.deepEqual(
        audit.map((a) => [a.action, a.actor]),
        [
          ["approve", "alice"],
          ["approval-void", "mallory"],
        ],
      );
    });

    it("a pusher is only what evidence says: unknown stays unknown until a push fills it in", async () => {
      const { approvals } = t.store;
      await approvals.setHead("o/r", 9, A, null, 20);
      assert.deepEqual(await approvals.head("o/r", 9), { sha: A, pushedBy: null, seenAt: 20 });
      await approvals.setHead("o/r", 9, A, "alice", 21);
      assert.deepEqual(await approvals.head("o/r", 9), { sha: A, pushedBy: "alice", seenAt: 20 });
      await approvals.setHead("o/r", 9, A, "mallory", 22);
      assert.equal((await approvals.head("o/r", 9))?.pushedBy, "alice", "never replaced");
      await approvals.setHead("o/r", 9, B, null, 23);
      assert.deepEqual(await approvals.head("o/r", 9), { sha: B, pushedBy: null, seenAt: 23 });
    });

    it("voidAll voids every standing approval of the PR and no other", async () => {
      const { approvals } = t.store;
      await approvals.setHead("o/r", 2, A, "carol");
      await approvals.approve("o/r", 2, A, "alice", "label");
      await approvals.setHead("o/r", 3, A, "carol");
      await approvals.approve("o/r", 3, A, "alice", "comment");
      assert.equal(await approvals.voidAll("o/r", 2, "the pull request was closed"), 1);
      assert.equal(await approvals.voidAll("o/r", 2, "again"), 0);
      assert.equal(await approvals.approvalFor("o/r", 2, A), undefined);
      assert.equal((await approvals.approvalFor("o/r", 3, A))?.via, "comment");
    });

    it("a push racing an approval: the approval never outlives the push", async () => {
      const { approvals } = t.store;
      await approvals.setHead("o/r", 4, A, "carol");
      // SQLite: one connection per process (a second one in this process would wait on the
      // first with the whole thread); PostgreSQL: a second pool, as another replica would.
      const other = engine.name === "postgres" ? await t.reopen() : t.store;
      try {
        for (let i = 0; i < 10; i++) {
          const sha = i % 2 === 0 ? B : A;
          const prev = i % 2 === 0 ? A : B;
          await Promise.all([
            approvals.approve("o/r", 4, prev, "alice", "comment"),
            other.approvals.setHead("o/r", 4, sha, "carol"),
          ]);
          // Whatever the order, the head's commit has no approval made for the old one.
          assert.equal(await approvals.approvalFor("o/r", 4, prev), undefined);
        }
      } finally {
        if (other !== t.store) await other.close();
      }
    });
  });
}
