// Attacks on "who pushed a commit" (DESIGN.md invariant 10, docs/security.md) through the real
// HTTP server, against the GitHub double checked by GitHub's REST description. A trusted member
// authors each PR; an untrusted account pushes a new head to it; the trusted member then acts on
// the PR with every pull_request action, and the deliveries arrive in every order GitHub may send
// them (or not at all: GitHub sends no `synchronize` for a push to a closed PR). The untrusted
// commit must never receive a secret until a trusted member approves that SHA. Forks owned by an
// untrusted account (maintainer edits enabled or not) never take the trusted-author path.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { commentPayload, prPayload, REPO, TRUSTED, World } from "./harness.js";

/** Cheap jobs: a public one and a restricted one that holds the secret. */
const PIPELINE = `version: 1
secrets:
  cloud:
    backend: embedded
trust:
  orgs: [acme]
jobs:
  unit:
    run: "true"
  functional:
    secrets: [cloud]
    run: echo "token $CLOUD_TOKEN"
`;
/** Not trusted (no acme membership, no permission), but able to push to the head branch. */
const PUSHER = "walt";
/** A trusted maintainer, as GitHub's "allow edits by maintainers" lets one push to a fork. */
const MAINTAINER = "bob";

let w: World;
before(async () => {
  w = await World.create(PIPELINE);
});
after(async () => {
  w?.gh.assertNoViolations();
  await w?.close();
});

type Pr = ReturnType<World["openPr"]>;
interface Delivery {
  action: string;
  sender: string;
  /** The head the payload names (GitHub's at the time it sent it). */
  sha: string;
  state?: "open" | "closed";
  draft?: boolean;
  label?: string;
}

async function deliver(pr: Pr, d: Delivery) {
  const payload = prPayload(
    d.action,
    { ...pr, headSha: d.sha, ...(d.draft !== undefined ? { draft: d.draft } : {}) },
    {
      baseSha: w.baseSha,
      sender: d.sender,
      ...(d.label ? { label: d.label } : {}),
      ...(d.state ? { state: d.state } : {}),
    },
  );
  if (d.action === "edited") {
    payload.changes = { base: { ref: { from: "release" }, sha: { from: w.baseSha } } };
  }
  const res = await w.send("pull_request", payload);
  assert.equal(res.status, 202, `${d.action} accepted`);
}

const releasesFor = async (sha: string) => {
  const runIds = new Set((await w.jobsOf(sha)).map((j) => j.run_id));
  return (await w.releases()).filter((r) => runIds.has(r.runId ?? ""));
};

test("no pull_request action, in any delivery order, lets an outsider's push ride on a trusted author", async () => {
  const sync = (sha: string): Delivery => ({ action: "synchronize", sender: PUSHER, sha });
  const by = (action: string, sha: string, extra: Partial<Delivery> = {}): Delivery => ({
    action,
    sender: TRUSTED,
    sha,
    ...extra,
  });
  type Plan = {
    name: string;
    draft?: boolean;
    /** The PR is closed before the outsider pushes (GitHub then sends no synchronize). */
    closed?: boolean;
    api?: { draft?: boolean; state?: "open" | "closed" };
    deliveries: (first: string, pushed: string) => Delivery[];
  };
  const plans: Plan[] = [
    // Closed, pushed while closed, reopened (no synchronize exists), in both orders.
    {
      name: "close, push, reopen",
      closed: true,
      deliveries: (a, b) => [by("closed", a, { state: "closed" }), by("reopened", b)],
    },
    {
      name: "reopen delivered before close",
      closed: true,
      deliveries: (a, b) => [by("reopened", b), by("closed", a, { state: "closed" })],
    },
    // Draft, pushed, ready for review: before, after, or without the push's delivery.
    {
      name: "ready before the push",
      draft: true,
      api: { draft: false },
      deliveries: (_a, b) => [by("ready_for_review", b), sync(b)],
    },
    {
      name: "ready after the push",
      draft: true,
      api: { draft: false },
      deliveries: (_a, b) => [sync(b), by("ready_for_review", b)],
    },
    {
      name: "ready, push lost",
      draft: true,
      api: { draft: false },
      deliveries: (_a, b) => [by("ready_for_review", b)],
    },
    // Every other action by the trusted author on the outsider's head, before and after the push.
    ...(["labeled", "unlabeled", "edited", "converted_to_draft"] as const).flatMap((action) => {
      const extra = action.endsWith("labeled") ? { label: "test-functional" } : {};
      const draft = action === "converted_to_draft" ? { draft: true } : {};
      // Converted to a draft, then made ready again: the API's last word is "not a draft".
      const api = {};
      const then = action === "converted_to_draft" ? ["ready_for_review"] : [];
      const after = (b: string) => then.map((a) => by(a, b));
      return [
        {
          name: `${action} before the push`,
          api,
          deliveries: (_a: string, b: string) => [
            by(action, b, { ...extra, ...draft }),
            sync(b),
            ...after(b),
          ],
        },
        {
          name: `${action} after the push`,
          api,
          deliveries: (_a: string, b: string) => [
            sync(b),
            by(action, b, { ...extra, ...draft }),
            ...after(b),
          ],
        },
        {
          name: `${action}, push lost`,
          api,
          deliveries: (_a: string, b: string) => [
            by(action, b, { ...extra, ...draft }),
            ...after(b),
          ],
        },
      ];
    }),
    // The trusted author's `opened`, delivered late (it names the old head), around the push.
    {
      name: "late opened after the push",
      deliveries: (a, b) => [sync(b), by("opened", a)],
    },
  ];

  const runs: { plan: Plan; pr: Pr; first: string; pushed: string }[] = [];
  for (const plan of plans) {
    const pr = w.openPr({ author: TRUSTED, ...(plan.draft ? { draft: true } : {}) });
    const first = pr.headSha;
    await deliver(pr, { action: "opened", sender: TRUSTED, sha: first, draft: !!plan.draft });
    runs.push({ plan, pr, first, pushed: "" });
  }
  await w.settle();
  for (const r of runs) {
    // Positive control: the trusted author's own first head was authorized (drafts wait).
    const approval = w.check(r.first, "airlock/approval");
    if (r.plan.draft) assert.notEqual(approval?.conclusion, "success", r.plan.name);
    else assert.equal(approval?.conclusion, "success", `${r.plan.name}: ${r.first} is trusted`);
    if (r.plan.closed) w.gh.updatePull(REPO, r.pr.number, { state: "closed" });
    r.pushed = w.push(r.pr);
    w.gh.updatePull(REPO, r.pr.number, { state: "open", ...r.plan.api });
    for (const d of r.plan.deliveries(r.first, r.pushed)) await deliver(r.pr, d);
  }
  await w.settle();
  for (const r of runs) {
    assert.deepEqual(await releasesFor(r.pushed), [], `${r.plan.name}: no secret for the push`);
    const approval = w.check(r.pushed, "airlock/approval");
    assert.notEqual(approval?.conclusion, "success", `${r.plan.name}: not approved`);
    assert.ok(
      !(await w.jobsOf(r.pushed)).some((j) => j.restricted === 1 && j.state !== "skipped"),
      `${r.plan.name}: no restricted job ran on the outsider's commit`,
    );
  }

  // Not vacuous: a trusted member's approval of that exact SHA releases the secret, and a
  // push by the trusted author herself is trusted again.
  const [approved, repushed] = runs;
  await w.send(
    "issue_comment",
    commentPayload(approved!.pr.number, `/ok-to-test ${approved!.pushed}`, MAINTAINER),
  );
  const own = w.push(repushed!.pr);
  await deliver(repushed!.pr, { action: "synchronize", sender: TRUSTED, sha: own });
  await w.settle();
  assert.equal((await releasesFor(approved!.pushed)).length, 1, "approved: the secret is released");
  assert.equal((await releasesFor(own)).length, 1, "the author's own push is trusted");
});

test("a head branch in a fork only trusted people control is required for the trusted-author path", async () => {
  const outsiderFork = w.openPr({ author: TRUSTED, headRepo: "mallory/app" });
  const maintainerEdits = w.openPr({
    author: "mallory",
    headRepo: "mallory/app",
    maintainerCanModify: true,
  });
  const orgFork = w.openPr({
    author: TRUSTED,
    headRepo: "acme-forks/app",
    headOwnerType: "Organization",
  });
  const ownFork = w.openPr({ author: TRUSTED, headRepo: `${TRUSTED}/app` });
  for (const pr of [outsiderFork, maintainerEdits, orgFork, ownFork]) {
    await deliver(pr, { action: "opened", sender: pr.author, sha: pr.headSha });
  }
  await w.settle();
  assert.equal((await releasesFor(ownFork.headSha)).length, 1, "the author's own fork is trusted");
  for (const [pr, why] of [
    [outsiderFork, /mallory\/app, a fork whose owner mallory is not trusted/],
    [orgFork, /acme-forks\/app, a fork owned by an organisation/],
    [maintainerEdits, /mallory is not trusted/],
  ] as const) {
    assert.deepEqual(await releasesFor(pr.headSha), [], pr.headRepo);
    const approval = w.check(pr.headSha, "airlock/approval");
    assert.equal(approval?.conclusion, "action_required", pr.headRepo);
    assert.match(approval?.output.summary ?? "", why);
  }

  // A trusted maintainer pushes to the forks (maintainer edits); an outsider with push access to
  // the trusted author's own fork pushes there. Neither commit is vouched for by its pusher alone.
  const byMaintainer = w.push(maintainerEdits);
  await deliver(maintainerEdits, { action: "synchronize", sender: MAINTAINER, sha: byMaintainer });
  const toOutsiderFork = w.push(outsiderFork);
  await deliver(outsiderFork, { action: "synchronize", sender: MAINTAINER, sha: toOutsiderFork });
  const intoOwnFork = w.push(ownFork);
  await deliver(ownFork, { action: "synchronize", sender: PUSHER, sha: intoOwnFork });
  await w.settle();
  for (const sha of [byMaintainer, toOutsiderFork, intoOwnFork]) {
    assert.deepEqual(await releasesFor(sha), [], sha);
  }
  // The maintainer approves the exact commit after reviewing it.
  await w.send(
    "issue_comment",
    commentPayload(maintainerEdits.number, `/ok-to-test ${byMaintainer}`, MAINTAINER),
  );
  await w.settle();
  assert.equal((await releasesFor(byMaintainer)).length, 1);
});

test("first sight through a comment: a bare /ok-to-test names the head and asks for it; the SHA approves it", async () => {
  // Airlock never saw this PR's events (installed later, or the deliveries were lost), and even a
  // trusted author's head has no proof of who pushed it.
  const pr = w.openPr({ author: TRUSTED });
  await w.send("issue_comment", commentPayload(pr.number, "/test all", TRUSTED));
  await w.send("issue_comment", commentPayload(pr.number, "/ok-to-test", MAINTAINER));
  await w.settle();
  assert.deepEqual(await releasesFor(pr.headSha), []);
  const replies = w.gh.comments(REPO, pr.number).map((c) => c.body);
  assert.ok(
    replies.some((b) => b.includes("no evidence of who pushed") && b.includes("/ok-to-test")),
    `/test says why secrets wait: ${replies.join(" | ")}`,
  );
  assert.ok(
    replies.some(
      (b) =>
        b.includes(`Airlock cannot tell that ${pr.headSha} was the head`) &&
        b.includes(`\`/ok-to-test ${pr.headSha}\``),
    ),
    `the bare approval is answered with the SHA to approve: ${replies.join(" | ")}`,
  );
  assert.ok(!replies.some((b) => /moved/.test(b)), "nothing untrue about a move is said");
  await w.send("issue_comment", commentPayload(pr.number, `/ok-to-test ${pr.headSha}`, MAINTAINER));
  await w.settle();
  assert.equal((await releasesFor(pr.headSha)).length, 1);
});
