// Two gateway processes on one PostgreSQL database, each with a data directory of its own (the
// keys copied: replicas share the database and the keys, not a disk), deliveries sent to both in
// turn and each also to the other (as a redelivery would). The replica running a job is killed
// with SIGKILL; the other one takes its work over once the lease runs out. Every delivery is
// processed once, no run attempt starts twice, no check run is created twice (the GitHub double,
// checked against GitHub's REST description, counts), and every check reaches its conclusion.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { cpSync } from "node:fs";
import path from "node:path";
import { after, describe, test } from "node:test";
import { type OpenedStore, openStore } from "../../src/store/index.js";
import { DATABASE_ENV } from "../../src/store/settings.js";
import { engines } from "../support/engines.js";
import { PATIENCE_MS } from "../support/patience.js";
import { sendTo as send, startChild } from "./child.js";
import {
  assertNoCheckRunCreatedTwice,
  BASE_PIPELINE,
  commentPayload,
  prPayload,
  REPO,
  TRUSTED,
  UNTRUSTED,
  World,
} from "./harness.js";

// The restricted jobs last long enough for a replica to be killed while one runs; on a commit with
// a file named "slow", until they are stopped.
const PIPELINE = BASE_PIPELINE.replace(
  'echo "token is $CLOUD_TOKEN"',
  'if [ -f slow ]; then sleep 600; fi; sleep 2; echo "token is $CLOUD_TOKEN"',
);

const postgres = (await engines()).find((e) => e.name === "postgres");

if (postgres) {
  describe("two gateways on one PostgreSQL", () => {
    let w: World | undefined;
    const children: ChildProcess[] = [];

    after(async () => {
      for (const c of children) c.kill("SIGKILL");
      await w?.close();
    });

    /** Two replicas on the world's database, each with a data directory of its own. */
    const startReplicas = async (world: World) => {
      const replicas: { proc: ChildProcess; url: string }[] = [];
      for (const name of ["r1", "r2"]) {
        const dataDir = path.join(world.root, name);
        cpSync(world.dataDir, dataDir, { recursive: true });
        const c = await startChild(world, { dataDir, env: { [DATABASE_ENV.leaseTtl]: "3s" } });
        children.push(c.proc);
        replicas.push(c);
      }
      return replicas;
    };

    /** The replica running a restricted job, and that run, once one runs. */
    const runnerOf = async (
      store: OpenedStore,
      replicas: { proc: ChildProcess; url: string }[],
    ) => {
      const until = Date.now() + PATIENCE_MS;
      for (;;) {
        assert.ok(Date.now() < until, "no restricted job started");
        const row = await store.db
          .selectFrom("jobs as j")
          .innerJoin("run_requests as q", "q.id", "j.run_id")
          .select(["q.id", "q.lease_owner"])
          .where("j.state", "=", "running")
          .where("j.job_id", "like", "functional%")
          .where("q.state", "=", "running")
          .executeTakeFirst();
        const pid = Number(row?.lease_owner?.split(":")[1]);
        const runner = replicas.find((r) => r.proc.pid === pid);
        if (row && runner) {
          return { runner, run: row.id, other: replicas.find((r) => r !== runner)! };
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };

    test("a replica killed mid-run: the other finishes its work, nothing twice", {
      timeout: 2 * PATIENCE_MS,
    }, async (t) => {
      w = await World.on(postgres, PIPELINE, { server: false });
      const world = w;
      const replicas = await startReplicas(world);

      const prs = [
        world.openPr({ author: TRUSTED }),
        world.openPr({ author: UNTRUSTED }),
        world.openPr({ author: TRUSTED }),
      ];
      const deliveries = [
        ...prs.map((pr, i) => ({
          id: `open-${i}`,
          event: "pull_request",
          payload: prPayload("opened", pr, { baseSha: world.baseSha }),
        })),
        {
          id: "ok-to-test",
          event: "issue_comment",
          payload: commentPayload(prs[1]!.number, "/ok-to-test", TRUSTED),
        },
      ];
      // In turn, then each to the other replica too: a duplicate is stored once.
      for (const [i, d] of deliveries.entries()) {
        assert.equal(await send(replicas[i % 2]!.url, d.event, d.id, d.payload), 202);
        assert.equal(
          await send(replicas[(i + 1) % 2]!.url, d.event, d.id, d.payload),
          200,
          "a duplicate",
        );
      }

      const store: OpenedStore = await openStore({
        dataDir: world.dataDir,
        database: world.database,
      });
      try {
        const { db } = store;
        // Wait for a restricted job running, then kill the replica whose run it is.
        const until = Date.now() + PATIENCE_MS;
        const running = await runnerOf(store, replicas);
        const victim = { pid: running.runner.proc.pid!, run: running.run };
        const killed = replicas.find((r) => r.proc.pid === victim.pid)!;
        const survivor = replicas.find((r) => r !== killed)!;
        killed.proc.kill("SIGKILL");
        await new Promise((r) => killed.proc.once("exit", r));
        t.diagnostic(`killed the replica running ${victim.run}`);

        // The survivor settles everything (the killed replica's leases run out first).
        for (;;) {
          const busy = await db
            .selectFrom("events")
            .select((eb) => eb.fn.countAll<number>().as("n"))
            .where("state", "in", ["pending", "processing"])
            .executeTakeFirstOrThrow();
          const reqs = await store.requests.inState("running");
          const queued = await store.requests.inState("queued");
          const outbox = await store.outbox.depth();
          if (Number(busy.n) + reqs.length + queued.length + outbox === 0) break;
          assert.ok(Date.now() < until, "the surviving replica did not settle");
          await new Promise((r) => setTimeout(r, 100));
        }

        assert.equal(
          await send(survivor.url, deliveries[0]!.event, deliveries[0]!.id, deliveries[0]!.payload),
          200,
          "still known as delivered",
        );
        const events = await store.events.list();
        assert.deepEqual(
          events.map((e) => e.deliveryId).sort(),
          deliveries.map((d) => d.id).sort(),
          "each delivery stored once",
        );
        for (const e of events) assert.equal(e.state, "done", e.deliveryId);
        const requests = await db.selectFrom("run_requests").selectAll().execute();
        // Each delivery requested its runs once.
        for (const [pr, kind] of [
          [prs[0]!.number, "full"],
          [prs[1]!.number, "public"],
          [prs[2]!.number, "full"],
        ] as const) {
          assert.equal(
            requests.filter((r) => r.attempt === 1 && r.pr === pr && r.kind === kind).length,
            1,
            `PR ${pr} ${kind}`,
          );
        }
        // The killed run was adopted by the survivor: recorded as interrupted, taken up again.
        assert.equal((await store.runs.get(victim.run))?.status, "interrupted");
        const retry = requests.find((r) => r.attempt > 1 && r.state === "done");
        assert.ok(retry, "the interrupted run was taken up again");
        assert.ok(!retry.lease_owner?.includes(`:${victim.pid}:`), "by the other replica");
        // No run attempt started twice: each job of each run released its secrets at most once.
        const releases = await store.audit.list({ action: "release" });
        const perJob = new Map<string, number>();
        for (const r of releases) {
          const k = `${r.runId}/${r.jobId}`;
          perJob.set(k, (perJob.get(k) ?? 0) + 1);
        }
        for (const [k, n] of perJob) assert.equal(n, 1, `${k} was released secrets ${n} times`);
        assert.ok(perJob.size >= 6, "restricted jobs of three runs released their secrets");

        for (const pr of prs) {
          const names = Object.fromEntries(
            world.gh.checkRuns("acme/app", pr.headSha).map((c) => [c.name, c.conclusion]),
          );
          for (const name of [
            "airlock/unit",
            "airlock/functional-aws",
            "airlock/functional-scw",
            "airlock/all-tests",
          ]) {
            assert.equal(names[name], "success", `${name} on PR ${pr.number}`);
          }
        }
      } finally {
        await store.close();
      }
      assertNoCheckRunCreatedTwice(world.gh, REPO);
      world.gh.assertNoViolations();
    });

    test("a push handled by one replica stops the run the other one runs", {
      timeout: 2 * PATIENCE_MS,
    }, async () => {
      const world = await World.on(postgres, PIPELINE, { server: false });
      const replicas = await startReplicas(world);
      try {
        const pr = world.openPr({ author: TRUSTED, files: { slow: "1\n" } });
        const old = pr.headSha;
        const opened = prPayload("opened", pr, { baseSha: world.baseSha });
        assert.equal(await send(replicas[0]!.url, "pull_request", "p-open", opened), 202);
        const store = await openStore({ dataDir: world.dataDir, database: world.database });
        try {
          const { run, other } = await runnerOf(store, replicas);
          // The push removes the slow file; it reaches the replica that does not run the job.
          world.push(pr, { slow: null });
          const sync = prPayload("synchronize", pr, { baseSha: world.baseSha });
          assert.equal(await send(other.url, "pull_request", "p-sync", sync), 202);
          const until = Date.now() + PATIENCE_MS;
          for (;;) {
            const status = (await store.runs.get(run))?.status;
            if (status !== "queued" && status !== "running") {
              assert.equal(status, "cancelled", "the old head's run was stopped");
              break;
            }
            assert.ok(Date.now() < until, "the old head's run was never stopped");
            await new Promise((r) => setTimeout(r, 100));
          }
          const jobs = await store.runs.jobs(run);
          assert.ok(
            jobs
              .filter((j) => j.job_id.startsWith("functional"))
              .every((j) => j.state !== "passed"),
            "its restricted jobs did not run to their end",
          );
          // The new head runs to the end.
          for (;;) {
            const checks = world.checks(pr.headSha);
            if (checks["airlock/all-tests"] === "success") break;
            assert.ok(Date.now() < until, `the new head's checks: ${JSON.stringify(checks)}`);
            await new Promise((r) => setTimeout(r, 100));
          }
          assert.notEqual(pr.headSha, old);
        } finally {
          await store.close();
        }
        world.gh.assertNoViolations();
      } finally {
        for (const r of replicas) {
          if (r.proc.exitCode !== null || r.proc.signalCode !== null) continue;
          r.proc.kill("SIGTERM");
          await new Promise((done) => r.proc.once("exit", done));
        }
        await world.close();
      }
    });
  });
}
