// The processing loop over stored events: order, retries with backoff, failure after N attempts
// with a redacted error, pick-up after a crash, writes committed with completion.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, test } from "node:test";
import { sign } from "@octokit/webhooks-methods";
import { type EventHandler, EventLoop, redactError } from "../../src/gateway/events.js";
import { Intake } from "../../src/gateway/intake.js";
import type { GatewayEvent } from "../../src/gateway/parse-event.js";
import { type EventQueue, type OpenedStore, openStore, type Store } from "../../src/store/index.js";
import { engines } from "../support/engines.js";
import { failing, watchUnhandled } from "../support/faults.js";
import { PATIENCE_MS } from "../support/patience.js";
import { example } from "./helpers.js";

const ping = JSON.stringify(example("ping"));
let dir: string;
let db: OpenedStore;
let store: EventQueue;

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "airlock-loop-"));
  db = await openStore({ dataDir: dir });
  store = db.events;
});
afterEach(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

async function put(id: string): Promise<void> {
  assert.equal(
    await store.insert({ deliveryId: id, name: "ping", action: null, payload: ping }),
    "stored",
  );
}

/** Effects are audit entries: append-only, so an effect applied twice shows twice. */
async function effects(): Promise<string[]> {
  return (await db.audit.list({ action: "test-effect" })).map((r) => r.detail ?? "");
}

const effect = (id: string) => (tx: Store) =>
  tx.audit.record({ action: "test-effect", actor: "test", detail: id });

const recordEffect: EventHandler = async (_e, ctx) => {
  ctx.atCompletion(effect(ctx.deliveryId));
};

test("events are processed in arrival order, each once", async () => {
  for (const id of ["d1", "d2", "d3"]) await put(id);
  const loop = new EventLoop({ store, handler: recordEffect });
  await loop.start();
  await put("d4");
  loop.notify();
  await loop.idle();
  await loop.stop();
  assert.deepEqual(await effects(), ["d1", "d2", "d3", "d4"]);
  assert.equal((await store.list("done")).length, 4);
});

test("a failing handler is retried with backoff, then marked failed with a redacted error", async () => {
  await put("bad");
  await put("good");
  const attempts: number[] = [];
  const delays: number[] = [];
  const loop = new EventLoop({
    store,
    maxAttempts: 3,
    backoffMs: (n) => {
      delays.push(n);
      return 10;
    },
    handler: async (_e, ctx) => {
      if (ctx.deliveryId === "bad") {
        attempts.push(ctx.attempt);
        throw new Error(
          "GitHub said no to token ghs_0123456789abcdefghijABCDEFGHIJ (Bearer eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjF9.sig)",
        );
      }
      await recordEffect(_e, ctx);
    },
  });
  await loop.start();
  const until = Date.now() + PATIENCE_MS;
  while ((await store.get("bad"))?.state !== "failed" && Date.now() < until)
    await new Promise((r) => setTimeout(r, 10));
  await loop.stop();
  assert.deepEqual(attempts, [1, 2, 3]);
  assert.deepEqual(delays, [1, 2]);
  const bad = (await store.get("bad"))!;
  assert.equal(bad.state, "failed");
  assert.match(bad.error!, /after 3 attempts/);
  assert.doesNotMatch(bad.error!, /ghs_0123|eyJhbGci/);
  assert.deepEqual(await effects(), ["good"], "a failing event does not block the next one");
});

test("an event claimed by a process that died is processed after restart, exactly once", async () => {
  await put("x1");
  await put("x2");
  // A first process claims x1 and dies before completing it.
  const first = await openStore({ dataDir: dir });
  const claimed = await first.events.claimNext();
  assert.equal(claimed?.deliveryId, "x1");
  await first.db.destroy();
  const seen: { id: string; attempt: number }[] = [];
  const loop = new EventLoop({
    store,
    handler: async (e, ctx) => {
      seen.push({ id: ctx.deliveryId, attempt: ctx.attempt });
      await recordEffect(e, ctx);
    },
  });
  await loop.start();
  await loop.idle();
  await loop.stop();
  assert.deepEqual(seen, [
    { id: "x1", attempt: 2 },
    { id: "x2", attempt: 1 },
  ]);
  assert.deepEqual(await effects(), ["x1", "x2"]);
});

test("completion writes roll back with a completion that fails", async () => {
  await put("c1");
  const ev = (await store.claimNext())!;
  await assert.rejects(
    store.complete(ev.seq, [
      effect("c1"),
      async () => {
        throw new Error("the second write fails");
      },
    ]),
  );
  assert.deepEqual(await effects(), []);
  assert.equal((await store.get("c1"))?.state, "processing");
  await store.complete(ev.seq, [effect("c1")]);
  assert.deepEqual(await effects(), ["c1"]);
  assert.equal((await store.get("c1"))?.state, "done");
});

test("intake does not join another module's open transaction (a rollback cannot lose an ack)", async () => {
  const intake = new Intake({ secrets: ["s"], store });
  let acked: Promise<unknown> | undefined;
  await db
    .transaction(async (tx) => {
      await effect("in-trx")(tx);
      // A delivery arrives while the transaction is open between two awaits.
      acked = intake.receive({
        signature: await sign("s", ping),
        event: "ping",
        delivery: "during-trx",
        contentType: "application/json",
        body: Buffer.from(ping),
      });
      await new Promise((r) => setTimeout(r, 20));
      throw new Error("roll back");
    })
    .catch(() => undefined);
  const outcome = (await acked) as { status: number };
  assert.equal(outcome.status, 202);
  assert.equal(
    (await store.get("during-trx"))?.state,
    "pending",
    "the acknowledged delivery survived the rollback",
  );
  assert.deepEqual(await effects(), []);
});

test("what intake parsed is handed to the loop; a retry, or an event it did not hand, is parsed from the store", async () => {
  const seen: { id: string; attempt: number; event: GatewayEvent }[] = [];
  const handed = new Map<string, GatewayEvent>();
  const loop = new EventLoop({
    store,
    backoffMs: () => 0,
    handler: async (event, ctx) => {
      seen.push({ id: ctx.deliveryId, attempt: ctx.attempt, event });
      if (ctx.deliveryId === "flaky" && ctx.attempt === 1) {
        // A handler that changed what it was given, then failed: its retry must not see that.
        (event as { zen: string }).zen = "changed";
        throw new Error("try again");
      }
    },
  });
  const intake = new Intake({
    secrets: ["s"],
    store,
    onStored: (stored) => {
      handed.set(stored.deliveryId, stored.event);
      loop.notify(stored);
    },
  });
  const deliver = async (id: string) =>
    intake.receive({
      signature: await sign("s", ping),
      event: "ping",
      delivery: id,
      contentType: "application/json",
      body: Buffer.from(ping),
    });
  await put("stored-only");
  for (const id of ["handed", "flaky"]) assert.equal((await deliver(id)).status, 202);
  await loop.start();
  await loop.idle();
  await loop.stop();

  const zen = (example("ping") as { zen: string }).zen;
  assert.deepEqual(
    seen.map((s) => [s.id, s.attempt, (s.event as { zen: string }).zen]),
    [
      ["stored-only", 1, zen],
      ["handed", 1, zen],
      ["flaky", 1, "changed"],
      ["flaky", 2, zen],
    ],
  );
  assert.equal(seen[1]?.event, handed.get("handed"), "intake's parse, not a second one");
  assert.notEqual(seen[3]?.event, handed.get("flaky"), "the retry parsed the stored copy");
  assert.equal((await store.list("done")).length, 3);
});

test("a store that fails (claiming, recording an outcome) pauses the loop, which goes on", async () => {
  const watch = watchUnhandled();
  try {
    await put("d1");
    await put("d2");
    // Two claims fail (the loop pauses), then d1's completion: its writes roll back and it is
    // processed again, as an attempt that failed.
    const { store: broken, failed } = failing(store, { claimNext: 2, complete: 1 });
    const pauses: number[] = [];
    const seen: string[] = [];
    const loop = new EventLoop({
      store: broken,
      storeBackoffMs: 5,
      backoffMs: () => 5,
      handler: async (e, ctx) => {
        seen.push(ctx.deliveryId);
        await recordEffect(e, ctx);
      },
      onStoreError: (message, pauseMs) => {
        assert.match(message, /disk I\/O error/);
        pauses.push(pauseMs);
      },
    });
    await loop.start();
    // Until both are done (d1's retry is due a little later than d2).
    const until = Date.now() + PATIENCE_MS;
    while ((await store.list()).some((e) => e.state !== "done")) {
      assert.ok(Date.now() < until, "the loop did not go on after the store failed");
      await loop.idle();
    }
    await loop.stop();
    assert.deepEqual(failed, { claimNext: 2, complete: 1 });
    assert.deepEqual(pauses, [5, 10], "each failure in a row doubles the pause");
    assert.deepEqual((await effects()).sort(), ["d1", "d2"], "each event's writes committed once");
    assert.deepEqual(seen.sort(), ["d1", "d1", "d2"], "d1 was handled again");
    watch.assertNone();
  } finally {
    watch.stop();
  }
});

test("redactError removes credential-shaped text and bounds the length", () => {
  const e = redactError(
    `fetch https://user:hunter2@example.com failed; key -----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- token github_pat_11ABCDEFG0123456789 ${"x".repeat(900)}`,
  );
  assert.doesNotMatch(e, /hunter2|MIIE|github_pat_11/);
  assert.ok(e.length <= 501);
});

for (const engine of await engines()) {
  test(`a failed event's retry, at the default backoff, is stored on ${engine.name}`, async () => {
    const t = await engine.open();
    const storeErrors: string[] = [];
    let tries = 0;
    const loop = new EventLoop({
      store: t.store.events,
      handler: async () => {
        if (++tries === 1) throw new Error("a GitHub API call failed");
      },
      onStoreError: (message) => storeErrors.push(message),
    });
    try {
      await t.store.events.insert({
        deliveryId: "once",
        name: "ping",
        action: null,
        payload: ping,
      });
      await loop.start();
      const until = Date.now() + PATIENCE_MS;
      while ((await t.store.events.get("once"))?.state !== "done" && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal((await t.store.events.get("once"))?.state, "done");
      assert.equal(tries, 2);
      // A time with a fraction of a millisecond failed on PostgreSQL's bigint.
      assert.deepEqual(storeErrors, []);
    } finally {
      await loop.stop();
      await t.close();
    }
  });
}
