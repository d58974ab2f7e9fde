// The gateway while its store cannot store (the database made read-only under it): /healthz stays
// 200 and /readyz says why it is not ready, intake answers 503 and logs each refused delivery id,
// the loops go on, and once the store is back `airlock app redeliver` has GitHub send exactly the
// refused deliveries again. GitHub is the double (webhook deliveries, the deliveries API checked
// against GitHub's REST description); the store is the real database, on every engine.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable, Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { Command } from "commander";
import pino from "pino";
import { registerApp } from "../../src/cli/commands/app.js";
import { type RunningGateway, startGateway } from "../../src/cli/commands/serve.js";
import { UserError } from "../../src/cli/errors.js";
import type { DatabaseOptions } from "../../src/store/index.js";
import { type GitHubDouble, startGitHubDouble } from "../doubles/github.js";
import { engines } from "../support/engines.js";
import { watchUnhandled } from "../support/faults.js";
import { PATIENCE_MS } from "../support/patience.js";
import { setReadOnly } from "../support/read-only.js";
import { example, SECRET } from "./helpers.js";

class Capture extends Writable {
  text = "";
  override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void) {
    this.text += chunk.toString();
    cb();
  }
}

for (const engine of await engines())
  describe(`on ${engine.name}`, () => {
    let dir: string;
    let database: DatabaseOptions | undefined;
    let cleanup: () => void;
    let gh: GitHubDouble;
    let gw: RunningGateway;
    const log = new Capture();
    const handled: string[] = [];
    const watch = watchUnhandled();

    before(async () => {
      ({ dataDir: dir, database, cleanup } = await engine.fresh());
      gh = await startGitHubDouble();
      gw = await startGateway({
        webhookSecrets: [SECRET],
        dataDir: dir,
        database,
        listen: { host: "127.0.0.1", port: 0 },
        logger: pino({ level: "info" }, log),
        diskReserveBytes: 0,
        handler: async (_e, ctx) => {
          handled.push(ctx.deliveryId);
        },
      });
      gh.setWebhook(`${gw.url}/webhooks/github`, SECRET);
    });
    after(async () => {
      watch.stop();
      await gw.close();
      await gh.close();
      cleanup();
    });

    /** Makes every write to the gateway's database fail, and then work again. */
    const readOnly = (on: boolean) => setReadOnly(gw.db, database, on);

    async function redeliver(...args: string[]): Promise<string> {
      const stdout = new Capture();
      const program = new Command("airlock").exitOverride();
      program.configureOutput({ writeOut: () => {}, writeErr: () => {} });
      registerApp(program, {
        stdout,
        stderr: new Capture(),
        stdin: Readable.from([]),
        env: {
          AIRLOCK_GITHUB_APP_ID: String(gh.appId),
          AIRLOCK_GITHUB_PRIVATE_KEY: gh.privateKey!,
          AIRLOCK_WEBHOOK_SECRET: SECRET,
          AIRLOCK_GITHUB_API_URL: gh.url,
        },
      });
      await program.parseAsync(
        ["app", "redeliver", ...args, "--url", gw.url, "-C", dir, "--data-dir", dir],
        { from: "user" },
      );
      return stdout.text;
    }

    /** Waits for `ok` (an event), guarded against a hang by the shared patience. */
    const until = (what: string, ok: () => boolean) => untilAsync(what, async () => ok());

    async function untilAsync(what: string, ok: () => Promise<boolean>): Promise<void> {
      const limit = Date.now() + PATIENCE_MS;
      while (!(await ok())) {
        assert.ok(Date.now() < limit, `waited in vain for ${what}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }

    const waitHandled = (ids: string[]) =>
      until("the deliveries to be processed", () => ids.every((id) => handled.includes(id)));

    test("while the store cannot store: not ready, 503 with the id logged, loops go on; then redelivered once", async () => {
      const opened = example("pull_request", "opened");
      const first = await gh.deliverWebhook("pull_request", opened);
      assert.equal(first.status, 202);
      await waitHandled([first.guid]);
      assert.equal((await fetch(`${gw.url}/readyz`)).status, 200);

      await readOnly(true);
      const health = await fetch(`${gw.url}/healthz`);
      assert.equal(health.status, 200, "alive: a restart would not mend the disk");
      // (On PostgreSQL a connection cut by the switch may fail first: the next one is read-only.)
      let problems: string[] = [];
      await untilAsync("/readyz to say the store is read-only", async () => {
        const ready = await fetch(`${gw.url}/readyz`);
        assert.equal(ready.status, 503);
        ({ problems } = (await ready.json()) as { problems: string[] });
        return /the store cannot store: .*read-?only/i.test(problems.join("\n"));
      });
      assert.equal(problems.length, 1, "only the store is wrong");

      const refused = [
        await gh.deliverWebhook("pull_request", opened),
        await gh.deliverWebhook("pull_request", example("pull_request", "closed")),
      ];
      for (const r of refused) {
        assert.equal(r.status, 503);
        assert.match(log.text, new RegExp(`"delivery":"${r.guid}".*delivery refused`));
      }
      // A forged delivery is refused for good: it is never sent again.
      const forged = await gh.deliverWebhook("pull_request", opened, { secret: "a guess" });
      assert.equal(forged.status, 401);
      // The processing loop meets the failing store and goes on: it says so, and nothing is unhandled.
      await until("the loop to meet the failing store", () =>
        /the store failed: events wait/.test(log.text),
      );

      // Not yet: the deliveries would be refused again.
      await assert.rejects(
        redeliver(),
        (e: unknown) =>
          e instanceof UserError && /is not ready \(the store cannot store/.test(e.message),
      );
      const dry = await redeliver("--dry-run");
      for (const r of refused) assert.match(dry, new RegExp(`would send again: ${r.guid}`));
      assert.doesNotMatch(dry, new RegExp(`${first.guid}|${forged.guid}`));

      await readOnly(false);
      await untilAsync(
        "the gateway to be ready again",
        async () => (await fetch(`${gw.url}/readyz`)).ok,
      );
      const out = await redeliver();
      for (const r of refused)
        assert.match(out, new RegExp(`sent again: ${r.guid} \\(\\w+\\.\\w+, 503`));
      await gh.redelivered();
      await waitHandled(refused.map((r) => r.guid));
      // The handler ran; its completion commits just after.
      for (const r of refused) {
        await untilAsync(
          `${r.guid} to be done`,
          async () => (await gw.events.get(r.guid))?.state !== "processing",
        );
        assert.equal((await gw.events.get(r.guid))?.state, "done");
      }
      assert.equal(await gw.events.get(forged.guid), undefined);
      assert.deepEqual(
        [first.guid, ...refused.map((r) => r.guid)].map(
          (g) => handled.filter((h) => h === g).length,
        ),
        [1, 1, 1],
        "each delivery was processed once",
      );
      // Once through, nothing is left to send again; a named delivery that succeeded is not resent.
      assert.match(await redeliver(), /nothing to send again/);
      assert.match(await redeliver(first.guid), /nothing to send again/);
      const redeliveries = gh.deliveries().filter((d) => d.redelivery);
      assert.deepEqual(redeliveries.map((d) => d.guid).sort(), refused.map((r) => r.guid).sort());
      gh.assertNoViolations();
      watch.assertNone();
    });

    test("below the disk reserve the gateway is not ready, and says so", async () => {
      const tight = await startGateway({
        webhookSecrets: [SECRET],
        dataDir: mkdtempSync(path.join(os.tmpdir(), "airlock-tight-")),
        listen: { host: "127.0.0.1", port: 0 },
        diskReserveBytes: Number.MAX_SAFE_INTEGER,
        handler: async () => {},
      });
      try {
        const res = await fetch(`${tight.url}/readyz`);
        assert.equal(res.status, 503);
        const { problems } = (await res.json()) as { problems: string[] };
        assert.equal(problems.length, 1);
        assert.match(
          problems[0]!,
          /free for the data directory, below the disk reserve of .* \(disk_reserve\)/,
        );
        assert.equal((await fetch(`${tight.url}/healthz`)).status, 200);
      } finally {
        await tight.close();
      }
    });
  });
