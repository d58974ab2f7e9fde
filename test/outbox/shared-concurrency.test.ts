// Two gateways' outboxes on one database, each with four senders: the writes of one App
// installation in flight at once stay within `perInstallation` for both together (not per
// gateway), counted at the GitHub double's door while every answer is held back; another
// installation's writes are not held up by it; every write is sent once.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Outbox } from "../../src/gateway/outbox/index.js";
import { type OpenedStore, openStore } from "../../src/store/index.js";
import { type GitHubDouble, startGitHubDouble } from "../doubles/github.js";
import { engines, type OpenedTestStore } from "../support/engines.js";
import { clientFor } from "./support.js";

const BOUND = 2;
const WRITES = { 1: 9, 2: 3 } as const;

for (const engine of await engines()) {
  describe(`writes per installation across gateways on ${engine.name}`, () => {
    let gh: GitHubDouble;
    let t: OpenedTestStore;
    let other: OpenedStore;
    before(async () => {
      gh = await startGitHubDouble();
      gh.addInstallation({ id: 1, account: "acme", repos: ["acme/app"] });
      gh.addInstallation({ id: 2, account: "umbrella", repos: ["umbrella/app"] });
      t = await engine.open();
      other = await openStore({ dataDir: t.dataDir, database: t.database });
    });
    after(async () => {
      gh.assertNoViolations();
      await gh.close();
      await other.close();
      await t.close();
    });

    test("an installation's writes in flight stay within the bound for both gateways", async () => {
      // Comment posts reach the double only when the test lets them: until then they count as in
      // flight, per installation.
      const inFlight = { 1: 0, 2: 0 };
      const most = { 1: 0, 2: 0 };
      const held: { inst: 1 | 2; go: () => void }[] = [];
      let arrived: () => void = () => {};
      const holding = (inst: 1 | 2) =>
        (async (input: string | URL | Request, init?: RequestInit) => {
          if (init?.method !== "POST" || !/\/issues\/\d+\/comments$/.test(String(input))) {
            return fetch(input, init);
          }
          inFlight[inst]++;
          most[inst] = Math.max(most[inst], inFlight[inst]);
          await new Promise<void>((go) => {
            held.push({ inst, go });
            arrived();
          });
          try {
            return await fetch(input, init);
          } finally {
            inFlight[inst]--;
          }
        }) as typeof fetch;
      const clients = {
        1: clientFor(gh, 1, { fetch: holding(1) }),
        2: clientFor(gh, 2, { fetch: holding(2) }),
      };
      const forgeFor = (inst: number) => clients[inst as 1 | 2].client;

      // Each gateway's claims that found nothing to send, counted.
      let refused = 0;
      const counting = (store: OpenedStore): OpenedStore => {
        const outbox = Object.create(store.outbox) as OpenedStore["outbox"];
        outbox.claimNext = async (...args) => {
          const got = await store.outbox.claimNext(...args);
          if (!got) {
            refused++;
            arrived();
          }
          return got;
        };
        return Object.assign(Object.create(store) as OpenedStore, { outbox });
      };
      const opts = { forgeFor, concurrency: 4, perInstallation: BOUND };
      const a = new Outbox(counting(t.store), opts);
      const b = new Outbox(counting(other), opts);
      for (const [inst, n] of Object.entries(WRITES)) {
        const repo = inst === "1" ? "acme/app" : "umbrella/app";
        for (let i = 0; i < n; i++)
          await a.comment(repo, Number(inst), 7, `write ${i}`, `${inst}-${i}`);
      }

      const until = async (ok: () => boolean) => {
        while (!ok()) await new Promise<void>((r) => (arrived = r));
      };
      const sending = Promise.all([a.deliverDue(), b.deliverDue()]);
      // Each of the eight senders holds a write or found none it may send, and ended.
      await until(() => held.length + refused >= 8);
      assert.deepEqual(inFlight, { 1: BOUND, 2: BOUND });

      // Let them go one at a time, oldest first; each freed place may be taken by either gateway.
      const total = WRITES[1] + WRITES[2];
      for (let released = 0; released < total; released++) {
        await until(() => held.length > 0);
        held.shift()!.go();
      }
      const [byA, byB] = await sending;
      assert.equal(byA + byB, total, "every write claimed once");
      assert.deepEqual(most, { 1: BOUND, 2: BOUND }, "never more than the bound in flight");
      assert.equal(gh.comments("acme/app").length, WRITES[1]);
      assert.equal(gh.comments("umbrella/app").length, WRITES[2]);
    });
  });
}
