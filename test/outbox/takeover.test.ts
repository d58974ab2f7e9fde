// A gateway that stalls past its lease with a check-run write of an outbox item under way, while
// another gateway takes the item over: the check run is created once. The lease fences writes to
// the store, not a request already sent; so the holder renews its claim right before it writes
// (a stalled holder whose item was taken over sends nothing), and the takeover waits until a write
// sent then can no longer land, and looks the check run up before creating it.
// And on PostgreSQL: a check's state stored while another gateway claims the one before it.
// Two stores on one database stand for the two gateways; gateway B's clock runs ahead of A's (A's
// heartbeat keeps renewing its lease in real time), which is how B sees A's lease run out.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { sql } from "kysely";
import type { CheckRunState } from "../../src/forge/types.js";
import { Outbox } from "../../src/gateway/outbox/index.js";
import type { OpenedStore } from "../../src/store/index.js";
import { type GitHubDouble, startGitHubDouble } from "../doubles/github.js";
import { engines, type OpenedTestStore } from "../support/engines.js";
import { PATIENCE_MS } from "../support/patience.js";
import { clientFor, sha } from "./support.js";

const REPO = "acme/app";
/** A's request timeout (how long after it was sent its write may still land). */
const TIMEOUT_MS = 60_000;

/** A point in a request's path that the test opens: `reached` resolves when the request is there. */
function gate() {
  let reach = () => {};
  let open = () => {};
  const reached = new Promise<void>((r) => {
    reach = r;
  });
  const opened = new Promise<void>((r) => {
    open = r;
  });
  return { reached, reach, opened, open };
}

/**
 * A's fetch: requests matching `route` stop at `sending` before they reach the double (a request
 * on its way), and their answers at `answered` (the gateway stalled before it read them).
 */
function holding(route: RegExp, method: string, sending?: ReturnType<typeof gate>) {
  const answered = gate();
  const f = (async (input: string | URL | Request, init?: RequestInit) => {
    if ((init?.method ?? "GET") !== method || !route.test(String(input))) {
      return fetch(input, init);
    }
    if (sending) {
      sending.reach();
      await sending.opened;
    }
    const res = await fetch(input, init);
    answered.reach();
    await answered.opened;
    return res;
  }) as typeof fetch;
  return { fetch: f, answered };
}

const state = (head: string): CheckRunState => ({
  name: "airlock/all-tests",
  head_sha: head,
  status: "in_progress",
  output: { title: "Running", summary: "1 job running" },
});

for (const engine of await engines()) {
  describe(`check-run writes of two gateways on ${engine.name}`, () => {
    let gh: GitHubDouble;
    let t: OpenedTestStore;
    let a: OpenedStore;
    let b: OpenedStore;
    before(async () => {
      gh = await startGitHubDouble();
      gh.addInstallation({ id: 1, account: "acme", repos: [REPO] });
    });
    after(async () => {
      gh.assertNoViolations();
      await gh.close();
    });

    const open = async () => {
      t = await engine.open();
      a = t.store;
      b = await t.reopen();
      return async () => {
        await b.close();
        await t.close();
      };
    };

    /** Gateway A: its requests go through `fetch`. */
    const gatewayA = (fetch: typeof globalThis.fetch) => {
      const { client } = clientFor(gh, 1, { fetch });
      return new Outbox(a, {
        forgeFor: () => client,
        appId: gh.appId,
        requestTimeoutMs: TIMEOUT_MS,
      });
    };

    /** Gateway B: a plain client, a clock `ahead` ms past A's. */
    const gatewayB = (ahead: { ms: number }) => {
      const { client } = clientFor(gh);
      return new Outbox(b, {
        forgeFor: () => client,
        appId: gh.appId,
        now: () => Date.now() + ahead.ms,
      });
    };

    /** Creates of the commit's check runs that the double answered. */
    const creates = (head: string) =>
      gh.requests.filter(
        (r) =>
          r.operationId === "checks/create" &&
          r.status === 201 &&
          (r.body as { head_sha?: string }).head_sha === head,
      ).length;

    test("a create on its way when A stalls: B waits until it can no longer land, then adopts it", async () => {
      const close = await open();
      try {
        const head = sha("1");
        const ttl = a.leases.ttlMs;
        const sending = gate();
        const held = holding(/\/check-runs$/, "POST", sending);
        const outboxA = gatewayA(held.fetch);
        const ahead = { ms: 0 };
        const outboxB = gatewayB(ahead);
        await outboxA.checkRun(REPO, 1, state(head));

        const deliveringA = outboxA.deliverDue();
        await sending.reached;

        // A's lease ran out (as B's clock sees it) while its create is on its way: B takes
        // nothing over, since that create may still land.
        ahead.ms = 2 * ttl;
        assert.equal(await outboxB.deliverDue(), 0, "B took over an item whose create may land");
        assert.equal(gh.checkRuns(REPO, head).length, 0);

        // A's create lands; A stalls before it reads the answer.
        sending.open();
        await held.answered.reached;
        assert.equal(gh.checkRuns(REPO, head).length, 1);

        // Past the lease and the request timeout, B takes the item over, finds A's check run by
        // name and updates it rather than creating another.
        ahead.ms = 2 * ttl + TIMEOUT_MS;
        assert.equal(await outboxB.deliverDue(), 1);
        held.answered.open();
        assert.equal(await deliveringA, 1);

        const runs = gh.checkRuns(REPO, head);
        assert.equal(runs.length, 1, `check runs: ${JSON.stringify(runs.map((r) => r.id))}`);
        assert.equal(creates(head), 1);
        assert.equal(runs[0]?.status, "in_progress");
        assert.equal((await a.checkRuns.get(REPO, head, "airlock/all-tests"))?.id, runs[0]?.id);
        const items = await a.outbox.list();
        assert.deepEqual(
          items.map((i) => i.state),
          ["done"],
        );
      } finally {
        await close();
      }
    });

    test("A stalls before its create, B takes the item over and creates it: A sends nothing", async () => {
      const close = await open();
      try {
        const head = sha("2");
        // An earlier create's answer was lost: the sender looks the check run up first. A stalls
        // once it has the lookup's answer (nothing there), before it writes anything.
        await a.checkRuns.set(REPO, head, "airlock/all-tests", { id: null, via: "checks" });
        const held = holding(/\/commits\/[0-9a-f]{40}\/check-runs/, "GET");
        const outboxA = gatewayA(held.fetch);
        const ahead = { ms: 0 };
        const outboxB = gatewayB(ahead);
        await outboxA.checkRun(REPO, 1, state(head));

        const deliveringA = outboxA.deliverDue();
        await held.answered.reached;

        // A's lease ran out (it sent nothing yet): B takes the item over and creates the run.
        ahead.ms = 2 * a.leases.ttlMs;
        assert.equal(await outboxB.deliverDue(), 1);
        assert.equal(gh.checkRuns(REPO, head).length, 1);

        // A wakes with "no such check run" in hand: its claim is no longer its own.
        held.answered.open();
        assert.equal(await deliveringA, 1);
        const runs = gh.checkRuns(REPO, head);
        assert.equal(runs.length, 1, `check runs: ${JSON.stringify(runs.map((r) => r.id))}`);
        assert.equal((await a.checkRuns.get(REPO, head, "airlock/all-tests"))?.id, runs[0]?.id);
        assert.deepEqual(
          (await a.outbox.list()).map((i) => i.state),
          ["done"],
        );
      } finally {
        await close();
      }
    });

    // Two gateways on PostgreSQL: one claims a check's result while the other stores the same
    // result again (a job's end, then its run's end, both report it). The newer state supersedes
    // only what it really superseded: the claimed one is sent, and the newer one, not folded from
    // it, does not reopen the check as a re-run would.
    if (engine.name === "postgres")
      test("a state stored while another gateway claims the one before it: one check run", async () => {
        const close = await open();
        try {
          const head = sha("3");
          const outboxA = new Outbox(a, { forgeFor: () => clientFor(gh).client, appId: gh.appId });
          const outboxB = gatewayB({ ms: 0 });
          // The result stands in for the queued state it superseded (as if it reopened the check).
          await outboxA.checkRun(REPO, 1, { ...state(head), status: "queued" });
          const result: CheckRunState = {
            ...state(head),
            status: "completed",
            conclusion: "success",
            output: { title: "Passed", summary: "1 job passed" },
          };
          await outboxA.checkRun(REPO, 1, result);

          // B claims it, in a transaction that stays open until A's store is under way.
          let release = () => {};
          const held = new Promise<void>((r) => {
            release = r;
          });
          let claimed: Awaited<ReturnType<OpenedStore["outbox"]["claimNext"]>>;
          const claiming = b.transaction(async (tx) => {
            claimed = await tx.outbox.claimNext(Date.now());
            await held;
          });
          const storing = (async () => {
            for (let i = 0; !claimed; i++) {
              assert.ok(i * 10 < PATIENCE_MS, "B never claimed the result");
              await sleep(10);
            }
            return outboxA.checkRun(REPO, 1, result);
          })();
          // A's store waits for the row B holds: B's claim commits now.
          for (let i = 0; ; i++) {
            const r = await sql<{ n: string | number }>`SELECT count(*) AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(a.db);
            if (Number(r.rows[0]!.n) > 0) break;
            assert.ok(i * 10 < PATIENCE_MS, "A's store never waited for B's claim");
            await sleep(10);
          }
          release();
          await claiming;
          assert.equal(await storing, "stored");

          await outboxB.deliver(claimed!);
          for (let i = 0; (await a.outbox.depth()) > 0; i++) {
            assert.ok(i * 10 < PATIENCE_MS, "the outbox did not drain");
            await outboxA.deliverDue();
            await sleep(10);
          }
          const runs = gh.checkRuns(REPO, head);
          assert.equal(runs.length, 1, `check runs: ${JSON.stringify(runs.map((r) => r.id))}`);
          assert.equal(creates(head), 1);
          assert.equal(runs[0]?.conclusion, "success");
        } finally {
          await close();
        }
      });
  });
}
