// Chromium reads the console's live log of a job that one `airlock serve` replica runs, from the
// other replica (both on one PostgreSQL, with a shared logs directory), through a loopback front
// that the test cuts mid-stream: the page's EventSource reconnects on its own, resuming from the
// last event id, and the page shows every line of the job once, in order.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, test } from "node:test";
import type { Browser } from "playwright-core";
import { openStore } from "../../src/store/index.js";
import { deliver } from "../gateway/helpers.js";
import { prPayload, TRUSTED, WEBHOOK_SECRET, World } from "../gateway-flow/harness.js";
import { engines } from "../support/engines.js";
import { PATIENCE_MS } from "../support/patience.js";
import { launchChromium } from "../web/browser.js";
import type { Served } from "./helpers.js";
import { slowLinesPipeline, startReplica } from "./replica-support.js";

const LINES = 60;
const PIPELINE = slowLinesPipeline(LINES);

const postgres = (await engines()).find((e) => e.name === "postgres");

/** A loopback TCP front to `target` that counts connections and can cut every open one. */
async function front(target: URL) {
  const open = new Set<net.Socket>();
  const requests: string[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    open.add(client);
    client.once("data", (d) => requests.push(d.toString("latin1").split("\r\n\r\n")[0]!));
    client.pipe(upstream).pipe(client);
    const end = () => {
      open.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    /** The request heads seen, one per connection's first request. */
    requests,
    cut: () => {
      for (const s of open) s.destroy();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  };
}

if (postgres) {
  let w: World;
  let browser: Browser | undefined;
  const served: Served[] = [];

  before(async () => {
    w = await World.on(postgres, PIPELINE, { server: false });
    for (const name of ["r1", "r2"]) served.push(await startReplica(w, name));
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    for (const s of served) await s.stop();
    await w?.close();
  });

  test("the live log of a job run by replica 1, read from replica 2, shows every line once across a reconnect", {
    timeout: PATIENCE_MS,
  }, async () => {
    const pr = w.openPr({ author: TRUSTED });
    const res = await deliver(served[0]!.url, {
      event: "pull_request",
      payload: prPayload("opened", pr, { baseSha: w.baseSha }),
      secret: WEBHOOK_SECRET,
    });
    assert.equal(res.status, 202);

    // The replica running the job (its run's lease holder), the run, and an admin token.
    const db = await openStore({ dataDir: w.dataDir, database: w.database });
    let runner: Served | undefined;
    let runId = "";
    let token: string;
    try {
      const until = Date.now() + PATIENCE_MS;
      while (!runner) {
        assert.ok(Date.now() < until, "the job did not start");
        const row = await db.db
          .selectFrom("jobs as j")
          .innerJoin("run_requests as q", "q.id", "j.run_id")
          .select(["q.id", "q.lease_owner"])
          .where("j.job_id", "=", "unit")
          .where("j.state", "=", "running")
          .executeTakeFirst();
        const pid = Number(row?.lease_owner?.split(":")[1]);
        runner = served.find((s) => s.child.pid === pid);
        if (row) runId = row.id;
        if (!runner) await new Promise((r) => setTimeout(r, 20));
      }
      ({ token } = await db.sessions.createToken({
        name: "ops",
        createdBy: "test",
        expiresAt: null,
      }));
    } finally {
      await db.close();
    }
    const other = served.find((s) => s !== runner)!;
    const lb = await front(new URL(other.url));
    const ctx = await browser!.newContext();
    try {
      // Signed in on the runner; the cookie (host-wide) serves on the other replica too.
      const login = await ctx.request.post(`${runner.url}/login/token`, {
        form: { token, next: "/runs" },
        headers: { origin: runner.url },
        maxRedirects: 0,
      });
      assert.equal(login.status(), 303);
      const page = await ctx.newPage();
      await page.goto(`${lb.url}/runs/${runId}/jobs/unit`);
      assert.equal(new URL(page.url()).pathname, `/runs/${runId}/jobs/unit`, "signed in there");

      // Some lines arrive live; then the front drops every connection mid-stream.
      const log = page.getByRole("log");
      await log.getByText("unit line 5", { exact: true }).waitFor({ timeout: PATIENCE_MS });
      lb.cut();
      await page.getByText("The job has finished.").waitFor({ timeout: PATIENCE_MS });

      // Each line of the page: its number and its text.
      const numbers = (await log.locator(".l .n").allTextContents()).map(Number);
      assert.deepEqual(
        numbers,
        numbers.map((_, i) => i + 1),
        "each line number once, in order",
      );
      const texts = await log.locator(".l .t").allTextContents();
      const seen = texts.flatMap((t) => /^unit line (\d+)$/.exec(t)?.slice(1).map(Number) ?? []);
      assert.deepEqual(
        seen,
        Array.from({ length: LINES }, (_, i) => i + 1),
        "every line once, in order",
      );
      const streams = lb.requests.filter((r) => r.includes(`/jobs/unit/log/stream`));
      assert.ok(
        streams.some((r) => /^last-event-id: \d+:\d+$/im.test(r)),
        `the stream was resumed from its last event id: ${JSON.stringify(streams)}`,
      );
    } finally {
      await ctx.close();
      await lb.close();
    }
  });
}
