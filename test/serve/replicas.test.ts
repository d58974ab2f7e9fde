// Two `airlock serve` processes on one PostgreSQL, as a load balancer would see them: each with a
// data directory of its own (the keys copied) and one shared logs directory (a shared mount). A
// console session started on one replica works on the other, and the other replica streams the
// live log of a job the first one runs: every line once, also across a reconnect that resumes
// from the last event id.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { openStore } from "../../src/store/index.js";
import { deliver } from "../gateway/helpers.js";
import { prPayload, TRUSTED, WEBHOOK_SECRET, World } from "../gateway-flow/harness.js";
import { engines } from "../support/engines.js";
import { PATIENCE_MS } from "../support/patience.js";
import { Browser, type Served } from "./helpers.js";
import { slowLinesPipeline, startReplica } from "./replica-support.js";

const LINES = 30;
const PIPELINE = slowLinesPipeline(LINES);

const postgres = (await engines()).find((e) => e.name === "postgres");

if (postgres) {
  let w: World;
  const served: Served[] = [];

  before(async () => {
    w = await World.on(postgres, PIPELINE, { server: false });
    for (const name of ["r1", "r2"]) served.push(await startReplica(w, name));
  });

  after(async () => {
    for (const s of served) await s.stop();
    await w?.close();
  });

  /** Reads a live log stream until it ends or `stopAfter` lines came; its lines and last id. */
  async function readStream(
    b: Browser,
    url: string,
    lastEventId?: string,
    stopAfter = Number.POSITIVE_INFINITY,
  ): Promise<{ lines: number[]; lastId: string | undefined; ended: boolean }> {
    const res = await b.fetch(url, {
      headers: lastEventId ? { "last-event-id": lastEventId } : {},
    });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    const lines: number[] = [];
    let buf = "";
    let lastId: string | undefined;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return { lines, lastId, ended: false };
        buf += decoder.decode(value, { stream: true });
        for (let i = buf.indexOf("\n\n"); i !== -1; i = buf.indexOf("\n\n")) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const field = (k: string) => ev.match(new RegExp(`^${k}: (.*)$`, "m"))?.[1];
          if (field("event") === "end") return { lines, lastId, ended: true };
          if (field("event") !== "lines") continue;
          lastId = field("id") ?? lastId;
          for (const l of JSON.parse(field("data")!) as { n: number; html: string }[]) {
            const m = /unit line (\d+)/.exec(l.html);
            if (m) lines.push(Number(m[1]));
          }
          if (lines.length >= stopAfter) return { lines, lastId, ended: false };
        }
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  }

  test("a session and a live log served by the replica that does not run the job", {
    timeout: PATIENCE_MS,
  }, async () => {
    const pr = w.openPr({ author: TRUSTED });
    const status = (
      await deliver(served[0]!.url, {
        event: "pull_request",
        payload: prPayload("opened", pr, { baseSha: w.baseSha }),
        secret: WEBHOOK_SECRET,
      })
    ).status;
    assert.equal(status, 202);

    // Which replica runs the job: the holder of its run's lease.
    const db = await openStore({ dataDir: w.dataDir, database: w.database });
    let runner: Served | undefined;
    let runId = "";
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
    } finally {
      await db.close();
    }
    const other = served.find((s) => s !== runner)!;

    // Signed in on the runner (an admin token), then the same cookie on the other replica.
    const tokenDb = await openStore({ dataDir: w.dataDir, database: w.database });
    let token: string;
    try {
      ({ token } = await tokenDb.sessions.createToken({
        name: "ops",
        createdBy: "test",
        expiresAt: null,
      }));
    } finally {
      await tokenDb.close();
    }
    const signIn = new Browser(runner.url);
    const login = await signIn.fetch("/login/token", {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: new URL(runner.url).origin,
      },
      body: new URLSearchParams({ token, next: "/runs" }).toString(),
    });
    assert.equal(login.status, 303);
    const cookie = login.headers.getSetCookie().find((c) => c.startsWith("airlock_session="));
    assert.ok(cookie, "a session cookie");
    const b = new Browser(other.url);
    b.setCookie("airlock_session", cookie.split(";")[0]!.slice("airlock_session=".length));
    assert.equal((await b.fetch(`/runs/${runId}`)).status, 200, "the session works there too");
    assert.equal((await new Browser(other.url).fetch(`/runs/${runId}`)).status, 303, "to sign in");

    // The live log from the other replica: a few lines, a dropped connection, then the rest.
    const stream = `/runs/${runId}/jobs/unit/log/stream`;
    const first = await readStream(b, stream, undefined, 3);
    assert.ok(first.lastId, "events carry ids to resume from");
    const rest = await readStream(b, stream, first.lastId);
    assert.ok(rest.ended, "the stream ends with the job");
    assert.deepEqual(
      [...first.lines, ...rest.lines],
      Array.from({ length: LINES }, (_, i) => i + 1),
      "every line once, in order",
    );
  });
}
