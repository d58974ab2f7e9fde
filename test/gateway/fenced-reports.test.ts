// A gateway that stalled (not died) past its lease while another took its run over reports
// nothing more of that run (its late job states would open the checks the takeover ended again),
// does not end its request (the takeover takes it up again), and is told to stop it.
// Two stores on one database stand for the two gateways; the takeover is the other gateway's
// adoption of the run once the first one's lease ran out.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import type { Forge } from "../../src/forge/types.js";
import { Outbox } from "../../src/gateway/outbox/index.js";
import { Reporter } from "../../src/gateway/report.js";
import type { OpenedStore } from "../../src/store/index.js";
import { engines } from "../support/engines.js";
import { runRequest } from "../support/run-request.js";

const noForge = (): Forge => {
  throw new Error("nothing is sent in this test");
};

/** Check-run items stored in the outbox. */
async function checkItems(store: OpenedStore): Promise<number> {
  const r = await store.db
    .selectFrom("outbox")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("kind", "=", "check_run")
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

for (const engine of await engines()) {
  describe(`on ${engine.name}`, () => {
    const closing: (() => Promise<void>)[] = [];
    after(async () => {
      for (const c of closing.reverse()) await c();
    });

    test("a run taken over: the stalled gateway's late job reports are dropped", async () => {
      const opened = await engine.open();
      const a = opened.store;
      const b = await opened.reopen();
      closing.push(
        () => opened.close(),
        () => b.close(),
      );
      const reporter = (store: OpenedStore) =>
        new Reporter({ outbox: new Outbox(store, { forgeFor: noForge }), runs: store.runs });

      const req = runRequest("fenced-1", { kind: "public" });
      await a.requests.insert(req);
      const claimed = await a.requests.claimNext(Date.now(), { running: 4 });
      assert.equal(claimed?.id, req.id);
      await a.runs.create(
        { id: req.id, source: "github", repo: req.repo, ref: req.headRef, sha: req.headSha, pr: 1 },
        [
          {
            jobId: "unit",
            template: "unit",
            needs: [],
            secrets: [],
            restricted: false,
            state: "pending",
            reason: "all jobs",
          },
        ],
      );
      await a.runs.setStatus(req.id, "running");
      await a.runs.updateJob(req.id, "unit", { state: "running", startedAt: Date.now() });

      // While A holds the run, its reports are stored.
      await reporter(a).jobs(req.repo, req.installationId, req.id);
      assert.equal(await checkItems(a), 1);

      // A stalls past its lease; B adopts the run (as of a time past A's lease) and reports it.
      const adopted = await b.requests.adoptAbandoned(Date.now() + 3600_000);
      assert.deepEqual(
        adopted.map((r) => r.id),
        [req.id],
      );
      await b.runs.updateJob(req.id, "unit", { state: "cancelled", finishedAt: Date.now() });
      await reporter(b).jobs(req.repo, req.installationId, req.id);
      assert.equal(await checkItems(a), 2);

      // A wakes up and reports the job it thought it ran: nothing is stored.
      await a.runs.updateJob(req.id, "unit", { state: "passed", finishedAt: Date.now() });
      await reporter(a).jobs(req.repo, req.installationId, req.id);
      assert.equal(await checkItems(a), 2);
      assert.equal(await a.requests.holdsClaim(req.id), false);
      assert.equal(await b.requests.holdsClaim(req.id), true);

      // A's supervisor learns that its run was taken over (and stops it); its end of the request
      // changes nothing: the run is B's to end or take up again.
      assert.deepEqual(await a.requests.stopsAsked([req.id]), [
        {
          id: req.id,
          reason: "another gateway took the run over: this one stalled past its lease",
        },
      ]);
      assert.deepEqual(await b.requests.stopsAsked([req.id]), []);
      await a.requests.finish(req.id, "done");
      assert.equal((await b.requests.get(req.id))?.state, "running");
      await b.requests.requeue(adopted[0]!, "fenced-2", Date.now(), "interrupted", "lost");
      assert.equal((await b.requests.get(req.id))?.state, "done");
      assert.equal((await b.requests.get("fenced-2"))?.state, "queued");
    });
  });
}
