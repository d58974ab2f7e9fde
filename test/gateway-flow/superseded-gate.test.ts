// A push moves a PR's head: the old head's gate ends "Superseded", whatever happens to the gateway
// doing it. The gateway is killed with SIGKILL at the one point where it has recorded the new head
// and not yet ended the old gate (it waits there for the old commit's gate turn, which the test
// holds); the gateway started again takes the event up again and ends the old gate. A head
// recorded alone left that gate in progress for ever: the event taken up again found the head
// already moved.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { after, describe, test } from "node:test";
import { sql } from "kysely";
import { gateTurn } from "../../src/gateway/report.js";
import { type OpenedStore, openStore } from "../../src/store/index.js";
import { DATABASE_ENV } from "../../src/store/settings.js";
import { engines } from "../support/engines.js";
import { PATIENCE_MS } from "../support/patience.js";
import { sendTo as send, startChild } from "./child.js";
import { historyOf, prPayload, REPO, UNTRUSTED, World } from "./harness.js";

const postgres = (await engines()).find((e) => e.name === "postgres");
const GATE = "airlock/all-tests";

/** Waits until `done` holds, polling; fails with `what` after PATIENCE_MS. */
async function until(what: () => Promise<string>, done: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + PATIENCE_MS;
  while (!(await done())) {
    if (Date.now() > end) assert.fail(await what());
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Nothing left to do: every delivery done, no request queued or running, the outbox empty. */
async function settled(db: OpenedStore): Promise<boolean> {
  const busy = await sql<{ n: number | string }>`
    SELECT (SELECT count(*) FROM events WHERE state <> 'done')
         + (SELECT count(*) FROM run_requests WHERE state IN ('queued', 'running'))
         + (SELECT count(*) FROM outbox WHERE state IN ('pending', 'delivering')) AS n`.execute(
    db.db,
  );
  return Number(busy.rows[0]!.n) === 0;
}

/** Sessions of this database waiting for an advisory lock. */
async function lockWaiters(db: OpenedStore): Promise<number> {
  const r = await sql<{ n: number | string }>`
    SELECT count(*) AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database
    WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()`.execute(
    db.db,
  );
  return Number(r.rows[0]!.n);
}

if (postgres) {
  describe("the gate of a superseded head, on PostgreSQL", () => {
    let w: World | undefined;
    let child: ChildProcess | undefined;
    let db: OpenedStore | undefined;
    after(async () => {
      child?.kill("SIGKILL");
      await db?.close();
      await w?.close();
    });

    test("a gateway killed between the new head and the old gate's end: the old gate ends", {
      timeout: 3 * PATIENCE_MS,
    }, async () => {
      w = await World.on(postgres, undefined, { server: false });
      const world = w;
      const env = { [DATABASE_ENV.leaseTtl]: "1s" };
      db = await openStore({ dataDir: world.dataDir, database: world.database });
      const store = db;
      // An outsider's PR: its head's gate waits for an approval, in progress until it ends.
      const pr = world.openPr({ author: UNTRUSTED });
      const first = pr.headSha;
      const history = () => historyOf(store, world.gh, pr.number);
      const gateOf = (sha: string) => world.gh.checkRuns(REPO, sha).filter((c) => c.name === GATE);

      let c = await startChild(world, { env });
      child = c.proc;
      const opened = prPayload("opened", pr, { baseSha: world.baseSha });
      assert.equal(await send(c.url, "pull_request", "open-1", opened), 202);
      await until(
        async () => `the opened PR did not settle\n${await history()}`,
        async () => (await settled(store)) && gateOf(first).length > 0,
      );
      assert.equal(gateOf(first).at(-1)?.status, "in_progress", await history());

      // The test takes the old head's gate turn and keeps it until the gateway is dead.
      let release!: () => void;
      const released = new Promise<void>((r) => {
        release = r;
      });
      let held!: () => void;
      const holding = new Promise<void>((r) => {
        held = r;
      });
      const holder = store.transaction(async (tx) => {
        await tx.leases.takeTurns(gateTurn(REPO, first));
        held();
        await released;
      });
      await holding;

      const second = world.push(pr);
      const pushed = prPayload("synchronize", pr, { baseSha: world.baseSha });
      assert.equal(await send(c.url, "pull_request", "push-1", pushed), 202);
      // The push's processing waits for the turn: the gateway is at the point under test.
      await until(
        async () => "the gateway never waited for the old head's gate turn",
        async () => (await lockWaiters(store)) > 0,
      );
      child.kill("SIGKILL");
      await new Promise((r) => child!.once("exit", r));
      release();
      await holder;

      c = await startChild(world, { env });
      child = c.proc;
      await until(
        async () => `the gateway did not settle after the restart\n${await history()}`,
        async () => (await settled(store)) && gateOf(second).length > 0,
      );
      const old = gateOf(first).at(-1)!;
      assert.equal(old.status, "completed", `the old head's gate\n${await history()}`);
      assert.equal(old.conclusion, "cancelled");
      assert.match(String(old.output?.title), /^Superseded by /);
      // The new head's gate waits for an approval, as the old one did.
      assert.equal(gateOf(second).at(-1)?.status, "in_progress", await history());
      world.gh.assertNoViolations();
      child.kill("SIGTERM");
      await new Promise((r) => child!.once("exit", r));
      child = undefined;
    });
  });
}
