import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, test } from "node:test";
import { TrustSchema } from "../../src/config/schema.js";
import { parseComment } from "../../src/gateway/commands.js";
import type { ApprovalRepo } from "../../src/store/index.js";
import { approveByComment, approveByLabel } from "../../src/trust/approvals.js";
import { authorizeCommit, type HeadRepo } from "../../src/trust/authorize.js";
import { TrustEvaluator } from "../../src/trust/rules.js";
import { type GitHubDouble, startGitHubDouble } from "../doubles/github.js";
import { clientFor, openTestDb, removeDir, sha, type TestDb } from "../outbox/support.js";

let gh: GitHubDouble;
let tdb: TestDb;
let store: ApprovalRepo;
let trust: TrustEvaluator;
const REPO = { owner: "acme", repo: "app" };
const FULL = "acme/app";
const rules = TrustSchema.parse({ orgs: ["acme"] });
const A = sha("a");
const B = sha("b");

before(async () => {
  gh = await startGitHubDouble();
  gh.addInstallation({ id: 1, account: "acme", repos: [FULL] });
  gh.addOrgMember("acme", "alice");
  gh.addOrgMember("acme", "bob");
  trust = new TrustEvaluator(clientFor(gh).client);
});
after(async () => {
  gh.assertNoViolations();
  await gh.close();
});
beforeEach(async () => {
  tdb = await openTestDb();
  store = tdb.store.approvals;
});
afterEach(async () => {
  await tdb.close();
  removeDir(tdb.dir);
});

const BASE: HeadRepo = { fullName: FULL, owner: { login: "acme", type: "Organization" } };
const fork = (owner: string, type = "User"): HeadRepo => ({
  fullName: `${owner}/app`,
  owner: { login: owner, type },
});

const authorize = (sha: string, author = "mallory", headRepo: HeadRepo | null = BASE) =>
  authorizeCommit({
    repo: REPO,
    pr: 7,
    sha,
    author: { login: author },
    headRepo,
    rules,
    trust,
    approvals: store,
    restricted: [],
    // Without trust.rules, what a commit changes is never asked.
    changes: () => Promise.reject(new Error("the comparison was asked for")),
  });

/** What the gateway does with a PR comment: parse, check the sender, apply the rule, store. */
async function comment(sender: string, body: string, createdAt = Date.now()) {
  const verdict = await trust.check({ login: sender }, REPO, rules);
  const results = [];
  for (const cmd of parseComment(body).commands) {
    if (cmd.kind !== "ok-to-test") continue;
    const d = approveByComment({
      senderTrusted: verdict.trusted,
      sender,
      requestedSha: cmd.sha,
      head: await store.head(FULL, 7),
      commentCreatedAt: createdAt,
    });
    if (d.ok) assert.equal(await store.approve(FULL, 7, d.sha, sender, "comment"), true);
    results.push(d);
  }
  return results;
}

test("an untrusted author's head is not authorized until a trusted member approves it", async () => {
  await store.setHead(FULL, 7, A, "mallory", Date.now() - 1000);
  const before = await authorize(A);
  assert.equal(before.authorized, false);
  assert.match(before.reason, /must approve/);
  const [d] = await comment("alice", "Looks fine.\n/ok-to-test");
  assert.deepEqual(d, { ok: true, sha: A });
  const after = await authorize(A);
  assert.deepEqual([after.authorized, after.by], [true, "alice"]);
});

test("a trusted author pushing their own head is authorized without approval", async () => {
  await store.setHead(FULL, 7, A, "alice");
  assert.deepEqual((await authorize(A, "alice")).authorized, true);
});

test("a trusted author's PR pushed to by an untrusted account needs approval", async () => {
  await store.setHead(FULL, 7, A, "mallory");
  const r = await authorize(A, "alice");
  assert.equal(r.authorized, false);
  assert.match(r.reason, /mallory pushed/);
});

test("/ok-to-test by an untrusted commenter is ignored", async () => {
  await store.setHead(FULL, 7, A, "mallory", Date.now() - 1000);
  const [d] = await comment("mallory", "/ok-to-test");
  assert.equal(d?.ok, false);
  assert.equal(d && !d.ok && d.reply, false, "no reply that would let anyone probe trust");
  assert.equal((await authorize(A)).authorized, false);
  assert.equal((await store.history(FULL, 7)).length, 0);
});

test("an approval is voided by a new push, and does not cover the new head", async () => {
  await store.setHead(FULL, 7, A, "mallory", Date.now() - 1000);
  await comment("alice", "/ok-to-test");
  assert.equal((await authorize(A)).authorized, true);
  const push = await store.setHead(FULL, 7, B, "mallory");
  assert.deepEqual(push, { changed: true, previous: A, voided: 1 });
  assert.equal((await authorize(B)).authorized, false);
  assert.equal((await authorize(A)).authorized, false, "A is no longer the head");
  const [h] = await store.history(FULL, 7);
  assert.match(h?.voidReason ?? "", /new commit bbbbbbbbbbbb/);
  // Force-pushing back to A does not revive the voided approval.
  await store.setHead(FULL, 7, A, "mallory");
  assert.equal((await authorize(A)).authorized, false);
  // The audit log holds the approval and its voiding, by whom, and for which commit.
  const entries = await tdb.store.audit.list();
  assert.deepEqual(
    entries.map((e) => [e.action, e.actor]),
    [
      ["approve", "alice"],
      ["approval-void", "mallory"],
    ],
  );
  assert.match(entries[0]!.detail ?? "", new RegExp(`${FULL}#7 at ${A} \\(by /ok-to-test\\)`));
  assert.match(entries[1]!.detail ?? "", /new commit bbbbbbbbbbbb was pushed/);
});

test("/ok-to-test <old sha> is rejected with the reason; the full head SHA is accepted", async () => {
  await store.setHead(FULL, 7, A, "mallory");
  await store.setHead(FULL, 7, B, "mallory");
  const [old] = await comment("alice", `/ok-to-test ${A}`);
  assert.equal(old?.ok, false);
  assert.match(old && !old.ok ? old.reason : "", /not the head/);
  assert.equal((await authorize(B)).authorized, false);
  const [good] = await comment("alice", `/ok-to-test ${B.toUpperCase()}`);
  assert.deepEqual(good, { ok: true, sha: B });
  assert.equal((await authorize(B)).authorized, true);
});

test("a short SHA prefix is refused even when it matches the head", async () => {
  await store.setHead(FULL, 7, B, "mallory");
  const [d] = await comment("alice", `/ok-to-test ${B.slice(0, 7)}`);
  assert.equal(d?.ok, false);
  assert.match(d && !d.ok ? d.reason : "", /full 40-character head SHA/);
});

test("a bare /ok-to-test written before the current head arrived is refused", async () => {
  const written = Date.now() - 5000;
  await store.setHead(FULL, 7, B, "mallory", Date.now());
  const [d] = await comment("alice", "/ok-to-test", written);
  assert.equal(d?.ok, false);
  assert.match(
    d && !d.ok ? d.reason : "",
    new RegExp(`cannot tell that ${B} was the head.*comment \`/ok-to-test ${B}\``),
  );
});

test("a comment command inside a code block or a quote is not an approval", async () => {
  await store.setHead(FULL, 7, A, "mallory", Date.now() - 1000);
  const body = [
    "To approve, a maintainer writes:",
    "```",
    "/ok-to-test",
    "```",
    "> /ok-to-test",
    "or `/ok-to-test` inline.",
  ].join("\n");
  assert.deepEqual(await comment("alice", body), []);
  assert.equal((await authorize(A)).authorized, false);
});

test("a label added by an untrusted sender does not count", async () => {
  await store.setHead(FULL, 7, A, "mallory");
  const verdict = await trust.check({ login: "mallory" }, REPO, rules);
  const d = approveByLabel({
    senderTrusted: verdict.trusted,
    sender: "mallory",
    labeledSha: A,
    head: await store.head(FULL, 7),
  });
  assert.equal(d.ok, false);
  assert.equal((await authorize(A)).authorized, false);
});

test("the ok-to-test label binds the head at labeling time, and only while it is the head", async () => {
  await store.setHead(FULL, 7, A, "mallory");
  const byAlice = (labeledSha: string) =>
    approveByLabel({ senderTrusted: true, sender: "alice", labeledSha, head: undefined });
  assert.equal(byAlice(A).ok, false, "unknown head");
  const ok = approveByLabel({
    senderTrusted: true,
    sender: "alice",
    labeledSha: A,
    head: await store.head(FULL, 7),
  });
  assert.deepEqual(ok, { ok: true, sha: A });
  await store.setHead(FULL, 7, B, "mallory");
  const stale = approveByLabel({
    senderTrusted: true,
    sender: "alice",
    labeledSha: A,
    head: await store.head(FULL, 7),
  });
  assert.equal(stale.ok, false);
  // The store refuses an approval of a SHA that is no longer the head, whatever the caller says.
  assert.equal(await store.approve(FULL, 7, A, "alice", "label"), false);
});

test("closing voids every standing approval", async () => {
  await store.setHead(FULL, 7, A, "mallory");
  assert.equal(await store.approve(FULL, 7, A, "alice", "comment"), true);
  assert.equal(await store.voidAll(FULL, 7, "the pull request was closed"), 1);
  assert.equal(await store.approvalFor(FULL, 7, A), undefined);
  const voided = await tdb.store.audit.list({ action: "approval-void" });
  assert.equal(voided.length, 1);
  assert.match(voided[0]!.detail ?? "", /the pull request was closed/);
});

test("approvals and heads survive reopening the database", async () => {
  await store.setHead(FULL, 7, A, "mallory");
  await store.approve(FULL, 7, A, "alice", "comment");
  await tdb.close();
  tdb = await openTestDb(tdb.dir);
  store = tdb.store.approvals;
  assert.equal((await store.approvalFor(FULL, 7, A))?.approvedBy, "alice");
  assert.equal((await store.head(FULL, 7))?.sha, A);
});

// The trusted-author path (docs/security.md, "Who pushed a commit"): only with evidence of a
// trusted push of exactly this commit, to a repository trusted people control.

test("a trusted author's own push on a base-repository branch is authorized", async () => {
  await store.setHead(FULL, 7, A, "alice");
  assert.deepEqual(await authorize(A, "alice"), {
    authorized: true,
    by: "alice",
    kind: "trusted-author",
    reason: "alice is a member of acme",
  });
});

test("a head whose push nobody proved waits for an approval, even for a trusted author", async () => {
  await store.setHead(FULL, 7, A, null);
  const r = await authorize(A, "alice");
  assert.equal(r.authorized, false);
  assert.match(r.reason, /no evidence of who pushed aaaaaaaaaaaa/);
  assert.match(r.reason, /a trusted member must approve aaaaaaaaaaaa/);
  assert.equal(await store.approve(FULL, 7, A, "bob", "comment"), true);
  assert.deepEqual((await authorize(A, "alice")).by, "bob");
});

test("evidence delivered later fills in an unknown pusher, but never replaces a known one", async () => {
  await store.setHead(FULL, 7, A, null);
  assert.equal((await authorize(A, "alice")).authorized, false);
  // The push's own event, delivered after a reopen or ready_for_review on the same head.
  assert.deepEqual(await store.setHead(FULL, 7, A, "alice"), {
    changed: false,
    previous: A,
    voided: 0,
  });
  assert.equal((await authorize(A, "alice")).authorized, true);
  await store.setHead(FULL, 7, A, "mallory");
  assert.equal((await store.head(FULL, 7))?.pushedBy, "alice");
});

test("an untrusted pusher's commit waits, and a trusted event on the same head cannot vouch for it", async () => {
  await store.setHead(FULL, 7, A, "mallory");
  assert.match(
    (await authorize(A, "alice")).reason,
    /mallory pushed aaaaaaaaaaaa and is not trusted/,
  );
  await store.setHead(FULL, 7, A, "alice");
  assert.equal((await authorize(A, "alice")).authorized, false);
});

test("a fork owned by someone untrusted, by an organisation, or deleted, never takes the trusted-author path", async () => {
  await store.setHead(FULL, 7, A, "alice");
  const cases: [HeadRepo | null, RegExp][] = [
    [fork("mallory"), /mallory\/app, a fork whose owner mallory is not trusted/],
    [fork("some-org", "Organization"), /some-org\/app, a fork owned by an organisation/],
    [null, /repository is unknown or was deleted/],
  ];
  for (const [headRepo, why] of cases) {
    const r = await authorize(A, "alice", headRepo);
    assert.equal(r.authorized, false, JSON.stringify(headRepo));
    assert.match(r.reason, why);
  }
  // An approval of the exact SHA still authorizes it.
  await store.approve(FULL, 7, A, "bob", "comment");
  assert.equal((await authorize(A, "alice", fork("mallory"))).by, "bob");
});

test("a fork owned by a trusted user takes the trusted-author path", async () => {
  await store.setHead(FULL, 7, A, "alice");
  assert.equal((await authorize(A, "alice", fork("alice"))).authorized, true);
  assert.equal(
    (await authorize(A, "alice", fork("ALICE"))).authorized,
    true,
    "logins compare without case",
  );
});
