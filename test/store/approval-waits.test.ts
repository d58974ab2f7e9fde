// The approval inbox's records on every engine: a commit waits once (a new push supersedes it),
// keeps its start and its notice while its view changes, leaves the inbox when it is approved or
// closed; its notice and its reminder are each claimed once, also by two connections at once.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { NewWait, WaitView } from "../../src/store/index.js";
import { engines, type OpenedTestStore } from "../support/engines.js";

const A = "a".repeat(40);
const B = "b".repeat(40);

const view = (missing: number, by: string[] = []): WaitView => ({
  requirements: [
    {
      name: "scripts",
      text: "2 approvals from distinct trusted members",
      by,
      missing,
      paths: ["scripts/deploy.sh"],
      matched: 1,
    },
  ],
  incomplete: false,
  paths: ["scripts/deploy.sh"],
  pathCount: 1,
  waiting: ["functional"],
});

const wait = (repo: string, pr: number, sha: string, v = view(2)): NewWait => ({
  repo,
  pr,
  sha,
  installationId: 7,
  baseSha: "c".repeat(40),
  author: "mallory",
  title: "ci: <b>deploy</b>",
  view: v,
});

for (const engine of await engines()) {
  describe(`approval waits on ${engine.name}`, () => {
    let t: OpenedTestStore;
    before(async () => {
      t = await engine.open();
    });
    after(() => t.close());

    it("a commit waits once: its start and notice stay while its view changes", async () => {
      const { waits } = t.store;
      const first = await waits.wait(wait("o/r", 1, A), 100);
      assert.deepEqual(
        [first.state, first.since, first.notifiedAt, first.title],
        ["waiting", 100, null, "ci: <b>deploy</b>"],
      );
      assert.equal(await waits.claimNotice("o/r", 1, A, 3700, 101), true);
      assert.equal(await waits.claimNotice("o/r", 1, A, 3700, 102), false, "claimed once");
      const again = await waits.wait(wait("o/r", 1, A, view(1, ["alice"])), 200);
      assert.deepEqual(
        [again.since, again.updatedAt, again.notifiedAt, again.remindAt],
        [100, 200, 101, 3700],
      );
      assert.deepEqual(again.view.requirements[0]?.by, ["alice"]);
      assert.equal(again.view.requirements[0]?.missing, 1);
    });

    it("a new head supersedes the PR's waiting commit; settle ends waits by commit", async () => {
      const { waits } = t.store;
      await waits.wait(wait("o/r", 2, A), 10);
      await waits.wait(wait("o/r", 2, B), 20);
      assert.equal((await waits.get("o/r", 2, A))?.state, "superseded");
      assert.equal((await waits.get("o/r", 2, B))?.state, "waiting");
      // Another PR is untouched.
      await waits.wait(wait("o/r", 3, A), 30);
      assert.equal(await waits.settle("o/r", 2, "approved", { sha: A }, 40), 0, "A waits no more");
      assert.equal(await waits.settle("o/r", 2, "approved", { sha: B }, 40), 1);
      assert.equal(await waits.settle("o/r", 3, "closed", { exceptSha: A }), 0);
      assert.equal(await waits.settle("o/r", 3, "closed"), 1);
      assert.equal((await waits.get("o/r", 3, A))?.state, "closed");
      // A settled commit cannot be claimed for a notice or a reminder.
      assert.equal(await waits.claimNotice("o/r", 3, A, null), false);
      assert.equal(await waits.claimReminder("o/r", 3, A), false);
    });

    it("lists waiting commits oldest first across repositories, and due reminders once", async () => {
      const { waits } = t.store;
      await waits.wait(wait("z/late", 1, A), 1000);
      await waits.wait(wait("a/early", 9, A), 500);
      const listed = (await waits.waiting()).map((w) => `${w.repo}#${w.pr}`);
      assert.deepEqual(listed, ["o/r#1", "a/early#9", "z/late#1"]);
      await waits.claimNotice("a/early", 9, A, 600, 500);
      await waits.claimNotice("z/late", 1, A, 5000, 1000);
      assert.deepEqual(
        (await waits.dueReminders(700)).map((w) => w.repo),
        ["a/early"],
        "only the due one",
      );
      assert.equal(await waits.claimReminder("a/early", 9, A, 700), true);
      assert.equal(await waits.claimReminder("a/early", 9, A, 701), false);
      assert.deepEqual(await waits.dueReminders(700), []);
      // o/r#1's reminder (3700) is due at 4000; z/late's is not.
      assert.deepEqual(
        (await waits.dueReminders(4000)).map((w) => w.repo),
        ["o/r"],
      );
    });

    it("two connections claiming the same notice at once: one wins", async () => {
      const other = engine.name === "postgres" ? await t.reopen() : t.store;
      try {
        for (let i = 0; i < 10; i++) {
          await t.store.waits.wait(wait("o/race", i, A));
          const wins = await Promise.all([
            t.store.waits.claimNotice("o/race", i, A, null),
            other.waits.claimNotice("o/race", i, A, null),
            t.store.transaction((tx) => tx.waits.claimNotice("o/race", i, A, null)),
          ]);
          assert.equal(wins.filter(Boolean).length, 1, `round ${i}: ${wins}`);
        }
      } finally {
        if (other !== t.store) await other.close();
      }
    });
  });
}
