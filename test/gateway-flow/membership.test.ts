// A member removed from the organisation loses trust at once (docs/security.md): GitHub's
// `organization.member_removed` (and `membership`, `member`, `team` events) makes the gateway
// forget every cached trust answer, so the removed member can no longer approve, and an approval
// they gave no longer releases a secret. Through the real HTTP server and the GitHub double.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { example } from "../gateway/helpers.js";
import {
  commentPayload,
  INSTALLATION,
  prPayload,
  REPO,
  TRUSTED,
  UNTRUSTED,
  World,
} from "./harness.js";

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
const LEAVER = "bob";

let w: World;
before(async () => {
  w = await World.create(PIPELINE);
});
after(async () => {
  w?.gh.assertNoViolations();
  await w?.close();
});

const releasesFor = async (sha: string) => {
  const runIds = new Set((await w.jobsOf(sha)).map((j) => j.run_id));
  return (await w.releases()).filter((r) => runIds.has(r.runId ?? ""));
};

async function openedByOutsider() {
  const pr = w.openPr({ author: UNTRUSTED });
  await w.send("pull_request", prPayload("opened", pr, { baseSha: w.baseSha }));
  return pr;
}

/** GitHub's delivery for `login` leaving the organisation (an edited real example). */
function memberRemoved(login: string) {
  const p = example("organization", "member_added");
  p.action = "member_removed";
  p.installation = { id: INSTALLATION, node_id: "I" };
  p.organization = { ...p.organization, login: "acme" };
  p.membership = { ...p.membership, state: "active", user: { ...p.membership.user, login } };
  return p;
}

test("a removed member can no longer approve, and their approval releases nothing more", async () => {
  const first = await openedByOutsider();
  const second = await openedByOutsider();
  await w.send(
    "issue_comment",
    commentPayload(first.number, `/ok-to-test ${first.headSha}`, LEAVER),
  );
  await w.settle();
  assert.equal((await releasesFor(first.headSha)).length, 1, "trusted: the approval released");

  // Removed on GitHub; the gateway still holds the cached answer "bob is a member of acme".
  w.gh.removeOrgMember("acme", LEAVER);
  const res = await w.send("organization", memberRemoved(LEAVER));
  assert.equal(res.status, 202);
  await w.settle();

  await w.send(
    "issue_comment",
    commentPayload(second.number, `/ok-to-test ${second.headSha}`, LEAVER),
  );
  await w.settle();
  assert.deepEqual(await releasesFor(second.headSha), [], "the removed member approves nothing");
  assert.notEqual(w.check(second.headSha, "airlock/approval")?.conclusion, "success");

  // The approval given before the removal: running its restricted jobs again is refused, saying why.
  await w.send("issue_comment", commentPayload(first.number, "/test all", TRUSTED));
  await w.settle();
  assert.equal((await releasesFor(first.headSha)).length, 1, "no second release");
  const replies = w.gh.comments(REPO, first.number).map((c) => c.body);
  assert.ok(
    replies.some((b) => b.includes(`${LEAVER} approved`) && b.includes("no longer trusted")),
    replies.join(" | "),
  );
});
