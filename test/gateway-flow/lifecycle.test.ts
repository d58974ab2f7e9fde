// The rest of a pull request's life through the real HTTP server: draft and ready for review,
// converted back to a draft, a push that supersedes a running run, closing and reopening, and a
// base change. Each asserts the checks GitHub's double recorded, the runs and jobs in the store,
// and the secret releases in the audit log. On every database engine.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { engines } from "../support/engines.js";
import { PATIENCE_MS } from "../support/patience.js";
import {
  commentPayload,
  prPayload,
  REPO,
  startFlowServer,
  TRUSTED,
  UNTRUSTED,
  World,
} from "./harness.js";
import { sleepers as countSleepers, steeredPipeline } from "./steered.js";

/** A sleep this process alone starts, so that the test can tell whether it was killed. */
const SLEEP = `59.${process.pid}`;

const PIPELINE = steeredPipeline(SLEEP);

for (const engine of await engines()) {
  describe(`on ${engine.name}`, () => {
    let w: World;
    before(async () => {
      w = await World.on(engine, PIPELINE);
    });
    after(async () => {
      w?.gh.assertNoViolations();
      await w?.close();
    });

    type Pr = ReturnType<World["openPr"]>;

    async function send(action: string, pr: Pr, o: { sender?: string; extra?: object } = {}) {
      const payload = {
        ...prPayload(action, pr, {
          baseSha: (pr as { baseSha?: string }).baseSha ?? w.baseSha,
          ...(o.sender ? { sender: o.sender } : {}),
          ...(action === "closed" ? { state: "closed" as const } : {}),
        }),
        ...o.extra,
      };
      const r = await w.send("pull_request", payload);
      assert.equal(r.status, 202, `${action} accepted`);
    }

    async function comment(n: number, body: string, sender: string) {
      assert.equal((await w.send("issue_comment", commentPayload(n, body, sender))).status, 202);
    }

    /** What GitHub's API says about the PR from now on (draft, state, base). */
    function update(pr: Pr, o: { draft?: boolean; state?: "open" | "closed"; baseSha?: string }) {
      Object.assign(pr, o);
      w.gh.addPull(REPO, {
        number: pr.number,
        headSha: pr.headSha,
        baseSha: (pr as { baseSha?: string }).baseSha ?? w.baseSha,
        author: pr.author,
        ...(pr.draft ? { draft: true } : {}),
        ...(pr.labels ? { labels: pr.labels } : {}),
        ...(o.state ? { state: o.state } : {}),
      });
    }

    /** A push that replaces the head with a commit whose files are `files`. */
    function pushFiles(pr: Pr, files: Record<string, string>): string {
      const sha = w.repo.commit(files, pr.headSha);
      w.repo.setPullHead(pr.number, sha);
      w.gh.pushPull(REPO, pr.number, sha);
      pr.headSha = sha;
      return sha;
    }

    async function waitFor<T>(
      what: string,
      probe: () => T | undefined | false | Promise<T | undefined | false>,
      ms = PATIENCE_MS,
    ) {
      const until = Date.now() + ms;
      while (Date.now() < until) {
        const v = await probe();
        if (v) return v;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`timed out waiting for ${what}`);
    }

    /**
     * The job's process is up (its sleep runs). Waiting for the process, not the job's row, keeps
     * these tests on the cancellation of a running job rather than on the sandbox's start-up.
     */
    const running =
      (sha: string, job: string, processes = 1) =>
      async () =>
        (await w.jobsOf(sha)).some((j) => j.job_id === job && j.state === "running") &&
        sleepers() >= processes;

    const sleepers = () => countSleepers(SLEEP);

    const restricted = async (sha: string) =>
      (await w.jobsOf(sha)).filter((j) => j.restricted === 1);
    const releasesFor = async (sha: string) => {
      const runIds = new Set((await w.jobsOf(sha)).map((j) => j.run_id));
      return (await w.releases()).filter((r) => runIds.has(r.runId ?? ""));
    };

    test("a draft runs public jobs only; ready_for_review starts the restricted ones", async () => {
      const pr = w.openPr({ author: TRUSTED, draft: true });
      const before = (await w.releases()).length;
      await send("opened", pr);
      await w.settle();
      let checks = w.checks(pr.headSha);
      assert.equal(checks["airlock/unit"], "success");
      assert.equal(checks["airlock/functional-aws"], undefined);
      assert.equal((await restricted(pr.headSha)).length, 0);
      const approval = w.check(pr.headSha, "airlock/approval")!;
      assert.notEqual(approval.conclusion, "success");
      assert.match(approval.output.summary ?? "", /draft/);
      assert.equal(checks["airlock/all-tests"], "in_progress");
      assert.equal((await w.releases()).length, before);

      // An approval on a draft releases nothing either.
      await comment(pr.number, "/test all", TRUSTED);
      await w.settle();
      assert.equal((await restricted(pr.headSha)).length, 0);
      assert.match(w.gh.comments(REPO, pr.number).at(-1)?.body ?? "", /draft/);

      update(pr, { draft: false });
      await send("ready_for_review", pr);
      await w.settle();
      checks = w.checks(pr.headSha);
      assert.equal(checks["airlock/functional-aws"], "success");
      assert.equal(checks["airlock/functional-scw"], "success");
      assert.equal(checks["airlock/approval"], "success");
      assert.equal(checks["airlock/all-tests"], "success");
      assert.equal((await w.releases()).length, before + 2);
      // A check run is updated in place while its job runs; a job that runs again gets a new one.
      // The public job ran twice (for the draft, then under the restricted jobs), the others once.
      const runsOf = (name: string) =>
        w.gh.checkRuns(REPO, pr.headSha).filter((c) => c.name === name);
      assert.equal((await w.jobsOf(pr.headSha)).filter((j) => j.job_id === "unit").length, 2);
      assert.deepEqual(
        runsOf("airlock/unit").map((c) => c.conclusion),
        ["success", "success"],
      );
      for (const name of ["functional-aws", "functional-scw", "approval", "all-tests"]) {
        assert.equal(runsOf(`airlock/${name}`).length, 1, name);
      }
    });

    test("converted_to_draft stops restricted jobs (killing a running one) and keeps public jobs", async () => {
      const pr = w.openPr({ author: TRUSTED, files: { slow: "all" } });
      await send("opened", pr);
      await waitFor("both functional jobs to run", running(pr.headSha, "functional-aws", 2));
      update(pr, { draft: true });
      await send("converted_to_draft", pr);
      await w.settle();
      assert.equal(sleepers(), 0, "no process of the stopped job is left");
      const checks = w.checks(pr.headSha);
      assert.equal(checks["airlock/unit"], "success", "the public job's result stands");
      assert.equal(checks["airlock/functional-aws"], "cancelled");
      assert.equal(checks["airlock/functional-scw"], "cancelled");
      assert.notEqual(checks["airlock/all-tests"], "success");
      assert.match(w.check(pr.headSha, "airlock/approval")!.output.summary ?? "", /draft/);
      assert.match(w.check(pr.headSha, "airlock/all-tests")!.output.title ?? "", /^Draft/);
      for (const j of await restricted(pr.headSha)) assert.equal(j.state, "cancelled", j.job_id);
      const requests = w.server.wired.flow.supervisor.active();
      assert.equal(requests.length, 0);

      // While a draft, a trusted member's /test is refused and nothing with secrets starts.
      const releases = (await w.releases()).length;
      await comment(pr.number, "/test all", TRUSTED);
      await w.settle();
      assert.equal((await w.releases()).length, releases);
      assert.match(w.gh.comments(REPO, pr.number).at(-1)?.body ?? "", /draft/);
      assert.equal(
        (await restricted(pr.headSha)).filter((j) => j.state !== "cancelled").length,
        0,
        "no restricted job ran after the conversion",
      );
    });

    test("a new push cancels the old head's run, kills its job, and closes the old head's checks", async () => {
      const pr = w.openPr({ author: TRUSTED, files: { slow: "aws" } });
      const old = pr.headSha;
      await send("opened", pr);
      await waitFor("functional-aws to run", running(old, "functional-aws"));
      const next = pushFiles(pr, { slow: "none" });
      await send("synchronize", pr);
      await w.settle();
      assert.equal(sleepers(), 0, "no process of the old run is left");

      const was = w.checks(old);
      assert.equal(was["airlock/unit"], "success");
      assert.equal(was["airlock/functional-aws"], "cancelled");
      assert.equal(
        was["airlock/all-tests"],
        "cancelled",
        "the old head's gate is closed, not left running",
      );
      assert.match(w.check(old, "airlock/all-tests")!.output.title ?? "", /[Ss]uperseded/);
      for (const c of w.gh.checkRuns(REPO, old)) assert.equal(c.status, "completed", c.name);
      const oldRun = (await w.jobsOf(old)).find((j) => j.job_id === "functional-aws")!;
      const run = await w.server.db.runs.get(oldRun.run_id);
      assert.equal(run?.status, "cancelled");

      const now = w.checks(next);
      assert.equal(now["airlock/unit"], "success");
      assert.equal(now["airlock/functional-aws"], "success");
      assert.equal(now["airlock/functional-scw"], "success");
      assert.equal(now["airlock/all-tests"], "success");
    });

    test("closing cancels runs and voids approvals; reopening asks for a new approval", async () => {
      const pr = w.openPr({ author: UNTRUSTED, files: { slow: "aws" } });
      await send("opened", pr);
      await w.settle();
      await comment(pr.number, "/ok-to-test", TRUSTED);
      await waitFor("functional-aws to run", running(pr.headSha, "functional-aws"));
      update(pr, { state: "closed" });
      await send("closed", pr, { sender: UNTRUSTED });
      await w.settle();
      assert.equal(sleepers(), 0);
      const checks = w.checks(pr.headSha);
      assert.equal(checks["airlock/functional-aws"], "cancelled");
      assert.notEqual(checks["airlock/all-tests"], "success");
      assert.equal(checks["airlock/all-tests"], "cancelled", "a closed PR's gate is settled");
      const approvals = await w.server.db.approvals.history(REPO, pr.number);
      assert.equal(approvals.length, 1);
      assert.ok(
        approvals.every((a) => a.voidedAt !== null),
        "closing voids the approval",
      );
      const releases = (await w.releases()).length;
      const jobs = (await restricted(pr.headSha)).length;

      update(pr, { state: "open" });
      await send("reopened", pr, { sender: UNTRUSTED });
      await w.settle();
      assert.equal(w.checks(pr.headSha)["airlock/approval"], "action_required");
      assert.equal((await w.releases()).length, releases, "no secret after the reopen");
      assert.equal(
        (await restricted(pr.headSha)).length,
        jobs,
        "no restricted job after the reopen",
      );
      assert.notEqual(w.checks(pr.headSha)["airlock/all-tests"], "success");
    });

    test("a base change voids approvals: restricted jobs wait, and the gate no longer counts the old run", async () => {
      const pr = w.openPr({ author: UNTRUSTED });
      await send("opened", pr);
      await w.settle();
      await comment(pr.number, "/ok-to-test", TRUSTED);
      await w.settle();
      assert.equal(w.checks(pr.headSha)["airlock/all-tests"], "success");
      const releases = (await w.releases()).length;

      // The PR is retargeted to another branch, whose definition GitHub serves at its own SHA.
      const newBase = w.repo.commit(
        { ".airlock.yml": PIPELINE, "other.txt": "release\n" },
        w.baseSha,
      );
      w.gh.setFile(REPO, newBase, ".airlock.yml", PIPELINE);
      update(pr, { baseSha: newBase });
      await send("edited", pr, {
        sender: UNTRUSTED,
        extra: { changes: { base: { ref: { from: "release" }, sha: { from: w.baseSha } } } },
      });
      await w.settle();
      const approvals = await w.server.db.approvals.history(REPO, pr.number);
      assert.ok(approvals.every((a) => a.voidedAt !== null));
      assert.equal(w.checks(pr.headSha)["airlock/approval"], "action_required");
      assert.notEqual(w.checks(pr.headSha)["airlock/all-tests"], "success");
      assert.equal((await w.releases()).length, releases);

      // A new approval runs the restricted jobs against the new base, and the gate turns green again.
      await comment(pr.number, "/ok-to-test", TRUSTED);
      await w.settle();
      assert.equal(w.checks(pr.headSha)["airlock/all-tests"], "success");
      assert.equal((await w.releases()).length, releases + 2);
      assert.equal((await releasesFor(pr.headSha)).length, 4);
    });

    test("a run stopped by a graceful shutdown is taken up again after the restart", async () => {
      const pr = w.openPr({ author: TRUSTED, files: { slow: "aws" } });
      await send("opened", pr);
      await waitFor("functional-aws to run", running(pr.headSha, "functional-aws"));
      await w.server.close();
      assert.equal(sleepers(), 0, "the shutdown stopped the job");
      w.server = await startFlowServer({
        dataDir: w.dataDir,
        gh: w.gh,
        cloneBase: w.repo.cloneBase,
        database: w.database,
      });
      const again = async () =>
        (await w.server.db.requests.forPr(REPO, pr.number)).find((r) => r.attempt === 2);
      const retaken = await waitFor("the run to be taken up again", again);
      await waitFor(
        "its functional-aws to run",
        async () =>
          (await w.jobsOf(pr.headSha)).some(
            (j) =>
              j.run_id === retaken.id && j.job_id === "functional-aws" && j.state === "running",
          ) && sleepers() > 0,
      );
      // A push ends the hanging run; the new head runs to the end.
      const next = pushFiles(pr, { slow: "none" });
      await send("synchronize", pr);
      await w.settle();
      assert.equal(sleepers(), 0);
      assert.equal(w.checks(next)["airlock/all-tests"], "success");
    });
  });
}
