// Two gateways on one PostgreSQL: while one holds the oldest event, the other's processing loop
// finds a due event it may not claim (events are processed in arrival order). It looks again after
// a pause instead of claiming in a tight loop, and takes the event once the first one is done.
import assert from "node:assert/strict";
import { test } from "node:test";
import { EventLoop } from "../../src/gateway/events.js";
import type { EventQueue } from "../../src/store/index.js";
import { engines } from "../support/engines.js";
import { example } from "./helpers.js";

const postgres = (await engines()).find((e) => e.name === "postgres");
const ping = JSON.stringify(example("ping"));

if (postgres) {
  test("a loop held back behind another gateway's event does not spin on the claim", async () => {
    const a = await postgres.open();
    const b = await a.reopen();
    try {
      for (const id of ["e1", "e2"]) {
        await a.store.events.insert({ deliveryId: id, name: "ping", action: null, payload: ping });
      }
      const held = await a.store.events.claimNext();
      assert.equal(held?.deliveryId, "e1");

      // Gateway B's loop, its claims timed.
      const claims: number[] = [];
      let sixth: () => void = () => {};
      const sixClaims = new Promise<void>((r) => {
        sixth = r;
      });
      const queue: EventQueue = Object.create(b.events);
      queue.claimNext = (now?: number) => {
        claims.push(performance.now());
        if (claims.length === 6) sixth();
        return b.events.claimNext(now);
      };
      const seen: string[] = [];
      let processed: () => void = () => {};
      const done = new Promise<void>((r) => {
        processed = r;
      });
      const loop = new EventLoop({
        store: queue,
        handler: async (_e, ctx) => {
          seen.push(ctx.deliveryId);
          processed();
        },
      });
      await loop.start();
      await sixClaims;
      assert.deepEqual(seen, [], "nothing is claimed while an older event is in flight");
      const gaps = claims.slice(1).map((t, i) => t - claims[i]!);
      assert.ok(
        gaps.every((g) => g >= 40),
        `claims at least 40 ms apart: ${gaps.map(Math.round)}`,
      );

      // A finishes its event; B takes the next one.
      await a.store.events.complete(held!.seq);
      await done;
      await loop.stop();
      assert.deepEqual(seen, ["e2"]);
    } finally {
      await b.close();
      await a.close();
    }
  });
}
