// Two gateways' outboxes on one database (two connections, two lease holders): a spent rate limit
// that one meets pauses the other's writes too, until the reset, so that N gateways do not
// multiply the request rate; then both send. Clocks are given, so the pause is exact.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { CheckRunState } from "../../src/forge/types.js";
import { Outbox } from "../../src/gateway/outbox/index.js";
import { type OpenedStore, openStore } from "../../src/store/index.js";
import { type GitHubDouble, startGitHubDouble } from "../doubles/github.js";
import { engines, type OpenedTestStore } from "../support/engines.js";
import { clientFor, sha } from "./support.js";

const FULL = "acme/app";
const HEAD = sha("f");

const done = (name: string): CheckRunState => ({
  name,
  head_sha: HEAD,
  status: "completed",
  conclusion: "success",
  output: { title: "ok", summary: "ok" },
});

for (const engine of await engines()) {
  describe(`a shared rate-limit pause on ${engine.name}`, () => {
    let gh: GitHubDouble;
    let t: OpenedTestStore;
    let other: OpenedStore;
    before(async () => {
      gh = await startGitHubDouble();
      gh.addInstallation({ id: 1, account: "acme", repos: [FULL] });
      t = await engine.open();
      other = await openStore({ dataDir: t.dataDir, database: t.database });
    });
    after(async () => {
      gh.assertNoViolations();
      await gh.close();
      await other.close();
      await t.close();
    });

    test("one gateway meets the limit: the other sends nothing until the reset", async () => {
      const T = Date.now();
      // A little ahead of the store's own clock, which stamps enqueued writes.
      let clock = T + 1000;
      const now = () => clock;
      const resetAt = T + 60_000;
      // The first gateway's first write meets a spent rate limit (reset in a minute).
      let limited = false;
      const sentBySecond: string[] = [];
      const first = clientFor(gh, 1, {
        fetch: (async (input: string | URL | Request, init?: RequestInit) => {
          if (!limited && init?.method === "POST" && String(input).endsWith("/check-runs")) {
            limited = true;
            return new Response(JSON.stringify({ message: "API rate limit exceeded" }), {
              status: 403,
              headers: {
                "content-type": "application/json",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": String(Math.ceil(resetAt / 1000)),
              },
            });
          }
          return fetch(input, init);
        }) as typeof fetch,
      }).client;
      const second = clientFor(gh, 1, {
        fetch: (async (input: string | URL | Request, init?: RequestInit) => {
          if (init?.method === "POST") sentBySecond.push(String(input));
          return fetch(input, init);
        }) as typeof fetch,
      }).client;
      const a = new Outbox(t.store, { forgeFor: () => first, now, random: () => 0.5 });
      const b = new Outbox(other, { forgeFor: () => second, now, random: () => 0.5 });

      await a.checkRun(FULL, 1, done("airlock/a"));
      assert.equal(await a.deliverDue(), 1);
      assert.ok(limited, "the first gateway met the limit");
      assert.ok((await other.pauses.until("github")) >= resetAt - 1000, "the pause is stored");

      // The second gateway has its own write to send: it waits for the reset.
      await b.checkRun(FULL, 1, done("airlock/b"));
      clock = T + 2000;
      assert.equal(await b.deliverDue(), 0);
      assert.deepEqual(
        sentBySecond.filter((u) => u.endsWith("/check-runs")),
        [],
        "nothing sent during the pause",
      );

      // Past the reset the writes go, each once (whichever gateway sends it).
      clock = resetAt + 5000;
      assert.equal((await b.deliverDue()) + (await a.deliverDue()), 2);
      const names = gh
        .checkRuns(FULL, HEAD)
        .map((c) => c.name)
        .sort();
      assert.deepEqual(names, ["airlock/a", "airlock/b"]);
    });
  });
}
