// GitLab's trigger API has no idempotency key: a trigger whose answer was lost, or a run taken up
// again after a restart, must not start a second secret-bearing pipeline. The executor looks for
// the run's pipeline by its variables (documented list and variables endpoints, checked by the
// double) and adopts it; a trigger GitLab refused is not repeated.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GitLabUncertainError } from "../../../src/executors/gitlab/index.js";
import { runRequest, useGitLabDouble, withRequestStore } from "./fixture.js";

const TRIGGER = "glptt-idem-4d3c2b1a";
const API = "glpat-idem-8h7g6f";
const SHA = "5c0ffee5dba79e4c8300dd08aeb37f8e728b8dad";
const f = useGitLabDouble({
  trigger: TRIGGER,
  api: API,
  sha: SHA,
  script: () => [
    {
      status: "success",
      jobs: [
        { name: "aws-infra", status: "success", duration: 3 },
        { name: "do-managed", status: "failed", duration: 2 },
      ],
    },
  ],
});
const { client, executor, request } = f;
let seq = 0;

const posts = () => f.gl.requests.filter((r) => r.path.endsWith("/trigger/pipeline")).length;
const lookups = () => f.gl.requests.filter((r) => /\/pipelines$/.test(r.path)).length;

/** What a process that died right after its trigger left behind: a pipeline nobody follows. */
async function orphan(runId: string, sha = SHA): Promise<number> {
  const e = executor();
  const p = await client().triggerPipeline(
    TRIGGER,
    "main",
    e.variables(request({ runId, sha }), "dispatch"),
  );
  return p.id;
}

describe("an idempotent trigger", () => {
  it("adopts the pipeline whose answer was lost: one pipeline, and its result is used", async () => {
    // Pipelines of other runs on the same ref and commit must not be taken for this one.
    await orphan("someone-else");
    f.gl.triggers.length = 0;
    f.gl.requests.length = 0;
    f.gl.fail("trigger", "lost");
    const req = request();
    const r = await executor().runRestricted(req);
    assert.equal(f.gl.triggers.length, 1, "exactly one pipeline was triggered");
    assert.equal(posts(), 1, "the trigger was not sent again");
    assert.equal(r.pipeline?.id, f.gl.triggers[0]!.pipelineId, "the lost pipeline was adopted");
    assert.equal(f.gl.triggers[0]!.variables.AIRLOCK_RUN_ID, req.runId);
    assert.equal(r.status, "failed");
    assert.equal(r.jobs["aws-infra"]?.status, "passed");
    assert.equal(r.jobs["do-managed"]?.status, "failed");
    assert.equal(lookups(), 1);
    const list = f.gl.requests.find((q) => /\/pipelines$/.test(q.path))!;
    assert.equal(list.headers["private-token"], API, "the listing uses the API token");
    assert.deepEqual(f.gl.violations, []);
  });

  it("triggers again only after finding no pipeline of the run", async () => {
    f.gl.fail("trigger", 503);
    const r = await executor().runRestricted(request());
    assert.equal(r.status, "failed", r.error);
    assert.equal(posts(), 2);
    assert.equal(f.gl.triggers.length, 1);
    assert.equal(lookups(), 1);
    assert.deepEqual(f.gl.violations, []);
  });

  it("never repeats a trigger GitLab refused", async () => {
    f.gl.fail("trigger", 400);
    const r = await executor().runRestricted(request());
    assert.equal(r.status, "error");
    assert.equal(r.pipeline, null);
    assert.match(
      r.error!,
      /could not trigger the GitLab pipeline: GitLab refused POST trigger\/pipeline \(HTTP 400/,
    );
    assert.equal(posts(), 1);
    assert.equal(lookups(), 0, "a refusal is certain: nothing to look for");
    assert.equal(f.gl.triggers.length, 0);
  });

  it("does not trigger blind when it cannot look, and says what to fix", async () => {
    f.gl.variablesForbidden = true;
    await orphan("someone-else");
    f.gl.fail("trigger", "lost");
    const r = await executor().runRestricted(request());
    assert.equal(r.status, "error");
    assert.equal(posts(), 2, "the orphan's and the lost one; no third");
    assert.match(r.error!, /answer to the trigger was lost/);
    assert.match(r.error!, /did not trigger again/);
    assert.match(r.error!, /HTTP 403/);
    assert.match(r.error!, /API token must be able to read the project's pipelines/);
    assert.ok(!r.error!.includes(API) && !r.error!.includes(TRIGGER));
  });

  it("gives up after the bounded attempts when GitLab keeps losing answers and has no pipeline", async () => {
    f.gl.fail("trigger", 502, 3);
    const r = await executor().runRestricted(request());
    assert.equal(r.status, "error");
    assert.equal(posts(), 3);
    assert.equal(f.gl.triggers.length, 0);
    assert.match(r.error!, /started no pipeline for this run in 3 attempts/);
  });

  it("after a restart, adopts the pipeline an earlier attempt of the run started", async () => {
    const earlier = `run-idem-earlier-${++seq}`;
    const id = await orphan(earlier);
    await orphan(earlier, "f".repeat(40)); // same run id, another commit: not this run's
    const before = f.gl.triggers.length;
    const r = await executor().runRestricted(
      request({ earlierRunIds: [earlier], requestedAt: Date.now() - 60_000 }),
    );
    assert.equal(f.gl.triggers.length, before, "no second pipeline");
    assert.equal(r.pipeline?.id, id);
    assert.equal(r.status, "failed");

    // A pipeline the earlier attempt cancelled (a graceful shutdown) is no result: a new one runs.
    const stopped = `run-idem-stopped-${++seq}`;
    f.gl.script = [{ status: "running" }];
    const stoppedId = await orphan(stopped);
    await client().cancelPipeline(stoppedId);
    await client().getPipeline(stoppedId); // the double settles on "canceled"
    f.gl.script = [{ status: "success", jobs: [] }];
    const again = await executor().runRestricted(request({ earlierRunIds: [stopped] }));
    assert.notEqual(again.pipeline?.id, stoppedId);
    assert.equal(f.gl.triggers.length, before + 2);

    // No earlier pipeline: the run triggers its own, once.
    const fresh = await executor().runRestricted(request({ earlierRunIds: ["run-never-started"] }));
    assert.equal(f.gl.triggers.length, before + 3);
    assert.equal(fresh.pipeline?.id, f.gl.triggers.at(-1)!.pipelineId);
    assert.deepEqual(f.gl.violations, []);
  });

  it("the trigger's lost answer surfaces from the client as uncertain, never as a retry", async () => {
    f.gl.fail("trigger", "lost");
    await assert.rejects(
      client().triggerPipeline(TRIGGER, "main", { AIRLOCK_RUN_ID: "x" }),
      (e: unknown) => e instanceof GitLabUncertainError && /answer was lost/.test(e.message),
    );
    assert.equal(posts(), 1);
    assert.equal(f.gl.triggers.length, 1);
  });
});

describe("the GitLab double's pipeline list", () => {
  it("answers the documented filters and refuses anything else", async () => {
    await orphan("list-check");
    const get = (q: string) =>
      fetch(`${f.gl.url}/api/v4/projects/team%2Ffunctional-tests/pipelines?${q}`, {
        headers: { "PRIVATE-TOKEN": API },
      });
    const ok = await get(
      `ref=main&source=trigger&updated_after=${new Date(Date.now() - 60_000).toISOString()}&order_by=id&sort=desc&per_page=100`,
    );
    assert.equal(ok.status, 200);
    const list = (await ok.json()) as { id: number; ref: string }[];
    assert.ok(list.length >= 1 && list.every((p) => p.ref === "main"));
    assert.ok(
      list.every((p, i) => i === 0 || list[i - 1]!.id > p.id),
      "newest first",
    );
    const none = await get(`ref=other`);
    assert.deepEqual(await none.json(), []);
    assert.equal((await get("run_id=1")).status, 400);
    assert.equal((await get("updated_after=yesterday")).status, 400);
    assert.equal((await get("per_page=500")).status, 400);
    assert.equal(f.gl.violations.length, 3);
    const noAuth = await fetch(`${f.gl.url}/api/v4/projects/4242/pipelines`);
    assert.equal(noAuth.status, 401);
  });
});

describe("the gateway's earlier attempts of a run", () => {
  it("are the requests a restart took up again, not other runs of the PR", async () => {
    await withRequestStore(async (store) => {
      const base = runRequest(3, SHA);
      await store.insert({ ...base, id: "first" });
      await store.insert({ ...base, id: "unrelated" });
      await store.requeue((await store.get("first"))!, "second");
      await store.requeue((await store.get("second"))!, "third");
      assert.deepEqual(await store.earlierAttempts((await store.get("third"))!), [
        "first",
        "second",
      ]);
      assert.deepEqual(await store.earlierAttempts((await store.get("unrelated"))!), []);
    });
  });
});
