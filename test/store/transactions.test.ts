// Transactions on every engine: all of `fn` commits or none of it, across repositories; a nested
// transaction joins the outer one; concurrent transactions do not see each other's halves.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { engines, type OpenedTestStore } from "../support/engines.js";

for (const engine of await engines()) {
  describe(`transactions on ${engine.name}`, () => {
    let t: OpenedTestStore;
    before(async () => {
      t = await engine.open();
    });
    after(() => t.close());

    it("commit together across repositories, or roll back together", async () => {
      await t.store.transaction(async (tx) => {
        await tx.labels.add("o/r", 7, "test-a", "alice");
        await tx.audit.record({ action: "set", actor: "cli:alice", detail: "kept" });
      });
      await assert.rejects(
        t.store.transaction(async (tx) => {
          await tx.labels.add("o/r", 7, "test-b", "alice");
          await tx.audit.record({ action: "set", actor: "cli:alice", detail: "lost" });
          // A nested transaction joins: its writes go with the outer one's fate.
          await tx.transaction((inner) => inner.labels.add("o/r", 7, "test-c", "alice"));
          throw new Error("abort");
        }),
        /abort/,
      );
      assert.deepEqual(await t.store.labels.trusted("o/r", 7), ["test-a"]);
      assert.deepEqual(
        (await t.store.audit.list()).map((a) => a.detail),
        ["kept"],
      );
    });

    it("concurrent transactions each see their own writes whole, and all commit", async () => {
      const n = 12;
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          t.store.transaction(async (tx) => {
            await tx.labels.add("o/c", i, "one", "x");
            await tx.labels.add("o/c", i, "two", "x");
            assert.deepEqual(await tx.labels.trusted("o/c", i), ["one", "two"]);
          }),
        ),
      );
      for (let i = 0; i < n; i++) {
        assert.deepEqual(await t.store.labels.trusted("o/c", i), ["one", "two"]);
      }
    });

    it("afterCommit runs once the commit is visible to another connection, never on a rollback", async () => {
      const other = await t.reopen();
      try {
        const seen: string[][] = [];
        await t.store.transaction(async (tx) => {
          await tx.labels.add("o/a", 1, "test-a", "alice");
          // Joined transactions hand theirs to the outer one.
          await tx.transaction(async (inner) => {
            inner.afterCommit(() => seen.push(["inner"]));
          });
          tx.afterCommit(() => {
            void other.labels.trusted("o/a", 1).then((l) => seen.push(l));
          });
          assert.deepEqual(seen, [], "nothing runs before the commit");
        });
        await new Promise((r) => setTimeout(r, 50));
        assert.deepEqual(seen, [["inner"], ["test-a"]]);

        const never: string[] = [];
        await assert.rejects(
          t.store.transaction(async (tx) => {
            tx.afterCommit(() => never.push("x"));
            throw new Error("abort");
          }),
          /abort/,
        );
        assert.deepEqual(never, []);
        const outside: string[] = [];
        t.store.afterCommit(() => outside.push("now"));
        assert.deepEqual(outside, ["now"], "outside a transaction: at once");
      } finally {
        await other.close();
      }
    });

    it("reports the engine's version and answers a ping", async () => {
      await t.store.ping();
      assert.match(
        await t.store.version(),
        engine.name === "sqlite" ? /^SQLite 3\.\d+/ : /^PostgreSQL \d+/,
      );
      assert.equal(t.store.engine, engine.name);
      assert.doesNotMatch(t.store.location, /password|:[^/@]*@/);
    });
  });
}
