// The gateway killed with SIGKILL at random points while deliveries and runs are in flight, on
// every database engine: after the restarts every stored delivery is processed exactly once, every
// run reaches a final state and every check run its final conclusion on GitHub's side.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { after, describe, test } from "node:test";
import { sql } from "kysely";
import { openStore } from "../../src/store/index.js";
import { DATABASE_ENV } from "../../src/store/settings.js";
import { engines } from "../support/engines.js";
import { PATIENCE_MS } from "../support/patience.js";
import { startChild } from "./child.js";
import {
  assertNoCheckRunCreatedTwice,
  commentPayload,
  historyOf,
  prPayload,
  REPO,
  TRUSTED,
  UNTRUSTED,
  WEBHOOK_SECRET,
  World,
} from "./harness.js";

for (const engine of await engines()) {
  describe(`on ${engine.name}`, () => {
    let w: World | undefined;
    let child: ChildProcess | undefined;

    after(async () => {
      child?.kill("SIGKILL");
      await w?.close();
    });

    test("SIGKILL at random points loses nothing and repeats nothing", {
      timeout: 2 * PATIENCE_MS,
    }, async (t) => {
      w = await World.on(engine, undefined, { server: false });
      const world = w;
      const trusted = world.openPr({ author: TRUSTED });
      const untrusted = world.openPr({ author: UNTRUSTED });
      const deliveries: { event: string; payload: unknown; id: string }[] = [
        {
          event: "pull_request",
          payload: prPayload("opened", trusted, { baseSha: world.baseSha }),
          id: "d-1",
        },
        {
          event: "pull_request",
          payload: prPayload("opened", untrusted, { baseSha: world.baseSha }),
          id: "d-2",
        },
        {
          event: "issue_comment",
          payload: commentPayload(untrusted.number, "/ok-to-test", TRUSTED),
          id: "d-3",
        },
        {
          event: "issue_comment",
          payload: commentPayload(trusted.number, "/test all", TRUSTED),
          id: "d-4",
        },
      ];
      const acked = new Set<string>();
      let url = "";
      const send = async (d: (typeof deliveries)[number]) => {
        const { sign } = await import("@octokit/webhooks-methods");
        const body = JSON.stringify(d.payload);
        try {
          const res = await fetch(`${url}/webhooks/github`, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "x-github-event": d.event,
              "x-github-delivery": d.id,
              "x-hub-signature-256": await sign(WEBHOOK_SECRET, body),
            },
            body,
          });
          if (res.status === 202 || res.status === 200) acked.add(d.id);
        } catch {
          // The gateway is down: GitHub redelivers later.
        }
      };

      // On PostgreSQL a killed gateway's claims are taken over once their lease runs out: 2 s
      // rather than the default 30 s, which the last start would otherwise wait out.
      const env = { [DATABASE_ENV.leaseTtl]: "2s" };
      for (let round = 0; round < 4; round++) {
        const c = await startChild(world, { env });
        child = c.proc;
        url = c.url;
        // Deliveries not yet acknowledged are (re)delivered, as GitHub's redelivery would.
        const pending = deliveries.filter((d) => !acked.has(d.id));
        const sending = (async () => {
          for (const d of pending) {
            await send(d);
            await new Promise((r) => setTimeout(r, Math.random() * 150));
          }
        })();
        await new Promise((r) => setTimeout(r, 150 + Math.random() * 900));
        child.kill("SIGKILL");
        await new Promise((r) => child!.once("exit", r));
        await sending;
      }
      // The last life: runs to the end.
      const c = await startChild(world, { env });
      child = c.proc;
      url = c.url;
      for (const d of deliveries.filter((x) => !acked.has(x.id))) await send(d);
      assert.equal(acked.size, deliveries.length);

      const store = await openStore({ dataDir: world.dataDir, database: world.database });
      const db = store.db;
      // What happened, for the failure messages.
      const traced = async () =>
        (
          await Promise.all([trusted, untrusted].map((pr) => historyOf(store, world.gh, pr.number)))
        ).join("\n");
      /** Rows of `table` whose `column` holds one of `values`. */
      const rows = async (table: string, column: string, values: string[]) => {
        const r = await sql<{ n: number | string }>`
          SELECT count(*) AS n FROM ${sql.table(table)} WHERE ${sql.ref(column)} IN (${sql.join(values)})`.execute(
          db,
        );
        return Number(r.rows[0]!.n);
      };
      try {
        const until = Date.now() + PATIENCE_MS;
        for (;;) {
          const busy =
            (await rows("events", "state", ["pending", "processing"])) +
            (await rows("run_requests", "state", ["queued", "running"])) +
            (await rows("outbox", "state", ["pending", "delivering"]));
          if (busy === 0) break;
          assert.ok(Date.now() < until, "the gateway did not settle after the restarts");
          await new Promise((r) => setTimeout(r, 100));
        }
        await new Promise((r) => setTimeout(r, 300));

        const events = await db
          .selectFrom("events")
          .select(["delivery_id", "state", "attempts"])
          .orderBy("seq")
          .execute();
        assert.deepEqual(
          events.map((e) => e.delivery_id).sort(),
          deliveries.map((d) => d.id).sort(),
        );
        for (const e of events) assert.equal(e.state, "done", `delivery ${e.delivery_id}`);
        const requests = await db.selectFrom("run_requests").selectAll().execute();
        // Each delivery requested its runs once, however often it was taken up again.
        const firsts = (pr: number, kind: string) =>
          requests.filter((r) => r.attempt === 1 && r.pr === pr && r.kind === kind).length;
        assert.equal(firsts(trusted.number, "full"), 1);
        assert.equal(firsts(untrusted.number, "public"), 1);
        assert.equal(firsts(untrusted.number, "restricted") || firsts(untrusted.number, "full"), 1);
        assert.equal(await rows("runs", "status", ["queued", "running"]), 0, "every run ended");
        const retaken = requests.filter((r) => r.attempt > 1).length;
        const retried = events.filter((e) => e.attempts > 1).length;
        const gaveUp = requests.filter((r) => r.note === "interrupted").length;
        t.diagnostic(
          `runs taken up again: ${retaken}; given up after their attempts: ${gaveUp}; deliveries processed again: ${retried}`,
        );
        assert.equal(await rows("outbox", "state", ["failed"]), 0);
        for (const pr of [trusted, untrusted]) {
          const checks = world.gh.checkRuns("acme/app", pr.headSha);
          for (const ch of checks) {
            assert.equal(
              ch.status,
              "completed",
              `${ch.name} on PR ${pr.number}\n${await traced()}`,
            );
          }
          const names = Object.fromEntries(checks.map((ch) => [ch.name, ch.conclusion]));
          for (const name of [
            "airlock/unit",
            "airlock/functional-aws",
            "airlock/functional-scw",
            "airlock/all-tests",
            "airlock/approval",
          ]) {
            assert.equal(names[name], "success", `${name} on PR ${pr.number}\n${await traced()}`);
          }
          // A job's check, as the PR shows it (the newest check run of its name), was last written by
          // the newest request (a retry keeps its request's place) whose run has that job, whichever
          // run ended last. Older check runs of the name hold earlier runs of the job.
          const shown = [...new Map(checks.map((ch) => [ch.name, ch] as const)).values()];
          for (const ch of shown.filter((c) => c.external_id?.includes("/"))) {
            const [runId, jobId] = ch.external_id!.split("/");
            const newest = await db
              .selectFrom("run_requests as q")
              .innerJoin("jobs as j", "j.run_id", "q.id")
              .select("q.id")
              .where("q.head_sha", "=", pr.headSha)
              .where("j.job_id", "=", jobId!)
              .orderBy("q.created_at", "desc")
              .orderBy("q.attempt", "desc")
              .limit(1)
              .executeTakeFirst();
            const last = ch.history.at(-1)?.external_id;
            assert.equal(
              last,
              `${newest?.id}/${jobId}`,
              `${ch.name} on PR ${pr.number}\n${await traced()}`,
            );
            assert.equal(runId, newest?.id);
          }
        }
      } finally {
        await store.close();
      }
      assertNoCheckRunCreatedTwice(world.gh, REPO);
      world.gh.assertNoViolations();
      child.kill("SIGTERM");
      await new Promise((r) => child!.once("exit", r));
      child = undefined;
    });
  });
}
