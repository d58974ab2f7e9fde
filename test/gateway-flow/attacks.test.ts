// Attack scenarios through the real HTTP server: in each, no secret is released and the checks
// on the pull request say the right thing. On every database engine.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { engines } from "../support/engines.js";
import {
  CLOUD_TOKEN,
  commentPayload,
  prPayload,
  REPO,
  TRUSTED,
  UNTRUSTED,
  World,
} from "./harness.js";

for (const engine of await engines()) {
  describe(`on ${engine.name}`, () => {
    let w: World;
    before(async () => {
      w = await World.on(engine);
    });
    after(async () => {
      w?.gh.assertNoViolations();
      await w?.close();
    });

    const opened = async (pr: Parameters<typeof prPayload>[1], sender?: string) => {
      const r = await w.send(
        "pull_request",
        prPayload("opened", pr, { baseSha: w.baseSha, ...(sender ? { sender } : {}) }),
      );
      assert.equal(r.status, 202);
      await w.settle();
    };
    const comment = async (n: number, body: string, sender: string) => {
      assert.equal((await w.send("issue_comment", commentPayload(n, body, sender))).status, 202);
      await w.settle();
    };
    const restrictedJobs = async (sha: string) =>
      (await w.jobsOf(sha)).filter((j) => j.restricted === 1);

    test("forged and missing signatures are refused and nothing is stored", async () => {
      const pr = w.openPr({ author: TRUSTED });
      const payload = prPayload("opened", pr, { baseSha: w.baseSha });
      const forged = await w.send("pull_request", payload, { secret: "not-the-secret" });
      const missing = await w.send("pull_request", payload, { secret: null });
      assert.equal(forged.status, 401);
      assert.equal(missing.status, 401);
      await w.settle();
      assert.equal(await w.server.events.get(forged.id), undefined);
      assert.equal(await w.server.events.get(missing.id), undefined);
      assert.deepEqual(w.checks(pr.headSha), {});
      assert.equal((await w.releases()).length, 0);
    });

    test("a replayed delivery is processed once", async () => {
      const pr = w.openPr({ author: UNTRUSTED });
      const payload = prPayload("opened", pr, { baseSha: w.baseSha });
      const first = await w.send("pull_request", payload);
      const again = await w.send("pull_request", payload, { id: first.id });
      assert.equal(first.status, 202);
      assert.equal(again.status, 200);
      await w.settle();
      const runs = await w.server.db.db
        .selectFrom("runs")
        .select("id")
        .where("sha", "=", pr.headSha)
        .execute();
      assert.equal(runs.length, 1);
    });

    test("an untrusted author gets public jobs only, and an approval check that waits", async () => {
      const pr = w.openPr({ author: UNTRUSTED });
      await opened(pr);
      const checks = w.checks(pr.headSha);
      assert.equal(checks["airlock/unit"], "success");
      assert.equal(checks["airlock/functional-aws"], undefined);
      assert.equal(checks["airlock/approval"], "action_required");
      assert.equal(checks["airlock/all-tests"], "in_progress");
      const approval = w.check(pr.headSha, "airlock/approval")!;
      assert.match(approval.output.summary ?? "", /\/ok-to-test/);
      assert.equal((await restrictedJobs(pr.headSha)).length, 0);
      const unit = (await w.jobsOf(pr.headSha))[0]!;
      assert.match(await w.logs(unit.run_id, "unit"), /CLOUD_TOKEN=unset/);
      assert.equal(unit.grants, "{}");
      assert.equal((await w.releases()).length, 0);
    });

    test("labels added by an untrusted sender neither approve nor select", async () => {
      const pr = w.openPr({ author: UNTRUSTED });
      await opened(pr);
      for (const label of ["ok-to-test", "test-aws"]) {
        pr.labels = [...(pr.labels ?? []), label];
        w.gh.addPull(REPO, {
          number: pr.number,
          headSha: pr.headSha,
          baseSha: w.baseSha,
          author: UNTRUSTED,
          labels: pr.labels,
        });
        const r = await w.send(
          "pull_request",
          prPayload("labeled", pr, { baseSha: w.baseSha, label, sender: UNTRUSTED }),
        );
        assert.equal(r.status, 202);
      }
      await w.settle();
      assert.equal((await restrictedJobs(pr.headSha)).length, 0);
      assert.equal(w.checks(pr.headSha)["airlock/approval"], "action_required");
      assert.equal((await w.releases()).length, 0);
    });

    test("/ok-to-test from an untrusted commenter, or inside a code block, approves nothing", async () => {
      const pr = w.openPr({ author: UNTRUSTED });
      await opened(pr);
      await comment(pr.number, "/ok-to-test", UNTRUSTED);
      await comment(pr.number, `/ok-to-test ${pr.headSha}`, "someone-else");
      await comment(pr.number, "Try this:\n\n```\n/ok-to-test\n```\n", TRUSTED);
      await comment(pr.number, "> /ok-to-test", TRUSTED);
      assert.equal((await restrictedJobs(pr.headSha)).length, 0);
      assert.equal(w.checks(pr.headSha)["airlock/approval"], "action_required");
      assert.equal((await w.releases()).length, 0);
      assert.equal(w.gh.comments(REPO, pr.number).length, 0, "untrusted commands get no reply");
    });

    test("an approval covers one commit: a new push voids it, and /ok-to-test <old sha> is refused", async () => {
      const pr = w.openPr({ author: UNTRUSTED });
      await opened(pr);
      const before = (await w.releases()).length;
      await comment(pr.number, "/ok-to-test", TRUSTED);
      const approved = pr.headSha;
      assert.equal(w.checks(approved)["airlock/approval"], "success");
      assert.equal(w.checks(approved)["airlock/functional-aws"], "success");
      assert.equal(w.checks(approved)["airlock/all-tests"], "success");
      assert.equal((await w.releases()).length, before + 2);

      const next = w.push(pr);
      const r = await w.send(
        "pull_request",
        prPayload("synchronize", pr, { baseSha: w.baseSha, sender: UNTRUSTED }),
      );
      assert.equal(r.status, 202);
      await w.settle();
      const approval = w.check(next, "airlock/approval")!;
      assert.equal(approval.conclusion, "action_required");
      assert.equal(approval.output.title, "Approval voided by a new push");
      assert.equal(w.checks(next)["airlock/unit"], "success");
      assert.equal((await restrictedJobs(next)).length, 0);
      assert.equal((await w.releases()).length, before + 2);

      await comment(pr.number, `/ok-to-test ${approved}`, TRUSTED);
      assert.equal((await restrictedJobs(next)).length, 0);
      assert.equal((await w.releases()).length, before + 2);
      const replies = w.gh.comments(REPO, pr.number);
      assert.equal(replies.length, 1);
      assert.match(replies[0]!.body, /is not the head of this pull request/);
    });

    test("a PR that edits .airlock.yml gets no secret for its public jobs and no new restricted job", async () => {
      const head = `version: 1
secrets:
  cloud:
    backend: embedded
trust:
  users: [${UNTRUSTED}]
jobs:
  unit:
    secrets: [cloud]
    run: echo "unit sees \${CLOUD_TOKEN:-unset}"
  evil:
    run: echo "evil sees \${CLOUD_TOKEN:-unset}"
  steal:
    secrets: [cloud]
    run: echo "steal sees $CLOUD_TOKEN"
  functional:
    needs: [unit]
    secrets: [cloud]
    run: echo "rewritten functional sees $CLOUD_TOKEN"
`;
      const pr = w.openPr({ author: UNTRUSTED, files: { ".airlock.yml": head } });
      const before = (await w.releases()).length;
      await opened(pr);
      let checks = w.checks(pr.headSha);
      assert.equal(checks["airlock/evil"], "success");
      assert.equal(checks["airlock/steal"], undefined);
      assert.equal(checks["airlock/approval"], "action_required", "trust rules come from the base");
      assert.match(
        w.check(pr.headSha, "airlock/approval")!.output.summary ?? "",
        /base commit's definition/,
      );
      const evil = (await w.jobsOf(pr.headSha)).find((j) => j.job_id === "evil")!;
      assert.match(await w.logs(evil.run_id, "evil"), /evil sees unset/);
      assert.equal((await w.releases()).length, before);

      await comment(pr.number, "/ok-to-test", TRUSTED);
      checks = w.checks(pr.headSha);
      assert.equal(checks["airlock/functional-aws"], "success", "the base definition runs");
      assert.equal(checks["airlock/steal"], undefined);
      const granted = (await w.jobsOf(pr.headSha))
        .filter((j) => j.grants !== "{}")
        .map((j) => j.job_id);
      assert.deepEqual([...new Set(granted)].sort(), ["functional-aws", "functional-scw"]);
      for (const j of (await w.jobsOf(pr.headSha)).filter((x) =>
        x.job_id.startsWith("functional"),
      )) {
        const log = await w.logs(j.run_id, j.job_id);
        assert.doesNotMatch(log, /rewritten/);
        assert.ok(!log.includes(CLOUD_TOKEN));
      }
    });

    test("branch names and labels carrying shell metacharacters and ../ stay data", async () => {
      const marker = `/tmp/airlock-pwned-${process.pid}`;
      const headRef = `x$(touch ${marker})\`touch ${marker}\`;../../etc`;
      const pr = w.openPr({ author: TRUSTED, headRef });
      await opened(pr);
      const run = await w.server.db.db
        .selectFrom("runs")
        .select("ref")
        .where("sha", "=", pr.headSha)
        .executeTakeFirstOrThrow();
      assert.equal(run.ref, headRef);
      assert.equal(w.checks(pr.headSha)["airlock/all-tests"], "success");

      const label = `test-$(touch ${marker})/../../x`;
      pr.labels = [label];
      w.gh.addPull(REPO, {
        number: pr.number,
        headSha: pr.headSha,
        baseSha: w.baseSha,
        author: TRUSTED,
        headRef,
        labels: pr.labels,
      });
      const r = await w.send(
        "pull_request",
        prPayload("labeled", pr, { baseSha: w.baseSha, label, sender: TRUSTED }),
      );
      assert.equal(r.status, 202);
      await w.settle();
      const replies = w.gh.comments(REPO, pr.number);
      assert.equal(replies.length, 1, "a label that selects nothing is answered");
      assert.match(replies[0]!.body, /selects no job|is not a tag/);
      assert.match(replies[0]!.body, /```text\n/);
      assert.equal(existsSync(marker), false);
    });

    test("malformed and oversized payloads are refused", async () => {
      const body = "{ not json";
      const { sign } = await import("@octokit/webhooks-methods");
      const res = await fetch(`${w.server.url}/webhooks/github`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": "pull_request",
          "x-github-delivery": "malformed-1",
          "x-hub-signature-256": await sign("flow-webhook-secret", body),
        },
        body,
      });
      assert.equal(res.status, 400);
      const big = `{"a":"${"x".repeat(25 * 1024 * 1024)}"}`;
      const huge = await fetch(`${w.server.url}/webhooks/github`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-github-event": "pull_request",
          "x-github-delivery": "huge-1",
          "x-hub-signature-256": "sha256=00",
        },
        body: big,
      }).catch(() => ({ status: 413 }));
      assert.equal(huge.status, 413);
      assert.equal(await w.server.events.get("malformed-1"), undefined);
      assert.equal(await w.server.events.get("huge-1"), undefined);
    });

    test("a run queued under an approval that is voided before it starts gets no secret", async () => {
      const pr = w.openPr({ author: UNTRUSTED });
      await opened(pr);
      const before = (await w.releases()).length;
      const { approvals } = w.server.db;
      assert.ok(await approvals.approve(REPO, pr.number, pr.headSha, TRUSTED, "comment"));
      // Queued while approved, as the handler would; the approval is voided before the run starts.
      await w.server.db.requests.insert({
        id: `late-${pr.number}`,
        repo: REPO,
        pr: pr.number,
        installationId: 77,
        headSha: pr.headSha,
        baseSha: w.baseSha,
        headRef: `feature-${pr.number}`,
        author: UNTRUSTED,
        kind: "restricted",
        selection: null,
        requestedBy: TRUSTED,
      });
      await approvals.voidAll(REPO, pr.number, "test: voided before the run started");
      w.server.wired.flow.supervisor.poke();
      await w.settle();
      assert.equal((await w.releases()).length, before);
      for (const j of await w.jobsOf(pr.headSha)) assert.equal(j.grants, "{}", j.job_id);
      assert.equal(
        (await restrictedJobs(pr.headSha)).filter((j) => j.state === "passed").length,
        0,
      );
    });
  });
}
