// Every relevant payload GitHub published as an example goes through the real server and parser.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { parseEvent } from "../../src/gateway/parse-event.js";
import { deliver, example, examplesOf, type TestGateway, testGateway } from "./helpers.js";

const NAMES = [
  "pull_request",
  "issue_comment",
  "label",
  "check_run",
  "installation",
  "installation_repositories",
  "ping",
  "organization",
  "membership",
  "member",
  "team",
];

let gw: TestGateway;
before(async () => {
  gw = await testGateway();
});
after(() => gw.stop());

/** A real issue_comment example turned into a comment on a pull request, as GitHub sends it. */
function prComment(body: string): Record<string, unknown> {
  const copy = example("issue_comment", "created");
  copy.issue.pull_request = {
    url: "https://api.github.com/repos/Codertocat/Hello-World/pulls/1",
    html_url: "https://github.com/Codertocat/Hello-World/pull/1",
    diff_url: "https://github.com/Codertocat/Hello-World/pull/1.diff",
    patch_url: "https://github.com/Codertocat/Hello-World/pull/1.patch",
  };
  copy.comment.body = body;
  copy.installation = { id: 1 };
  return copy;
}

test("every example of a handled event is accepted over HTTP and parsed", async () => {
  let sent = 0;
  let accepted = 0;
  for (const name of NAMES) {
    for (const payload of examplesOf(name)) {
      const parsed = parseEvent(name, payload);
      assert.notEqual(
        parsed.status,
        "rejected",
        `${name}.${(payload as { action?: string }).action}: ${parsed.status === "rejected" ? parsed.reason : ""}`,
      );
      const res = await deliver(gw.url, { event: name, payload });
      sent++;
      assert.ok(res.status >= 200 && res.status < 300, `${name}: HTTP ${res.status} ${res.body}`);
      assert.equal(res.status, parsed.status === "handled" ? 202 : 204, `${name} ${res.body}`);
      if (res.status === 202) accepted++;
    }
  }
  await gw.loop.idle();
  assert.ok(sent > 60, `sent ${sent} examples`);
  assert.equal(gw.handled.length, accepted, "every accepted delivery was handled once");
  assert.equal((await gw.events.list("failed")).length, 0);
  assert.equal((await gw.events.list("rejected")).length, 0);
  const kinds = new Set(gw.handled.map((h) => h.event.kind));
  for (const k of [
    "pull_request",
    "check_run_rerequested",
    "installation",
    "installation_repositories",
    "ping",
    "membership",
  ]) {
    assert.ok(kinds.has(k as never), `handled a ${k}`);
  }
});

test("membership changes (organization, membership, member, team) are parsed with who changed", () => {
  const seen = new Set<string>();
  for (const name of ["organization", "membership", "member", "team"]) {
    for (const payload of examplesOf(name)) {
      const parsed = parseEvent(name, payload);
      assert.equal(parsed.status, "handled", `${name}.${payload.action}`);
      if (parsed.status !== "handled" || parsed.event.kind !== "membership") continue;
      assert.equal(parsed.event.name, name);
      assert.equal(parsed.event.action, payload.action);
      if (parsed.event.login) seen.add(`${name}:${parsed.event.login}`);
    }
  }
  // Each event names the account whose membership changed, where the payload says.
  for (const name of ["organization", "membership", "member"]) {
    assert.ok(
      [...seen].some((s) => s.startsWith(`${name}:`)),
      `${name} names an account`,
    );
  }
});

test("pull_request actions the gateway acts on are parsed with their commit SHAs", () => {
  const sync = example("pull_request", "synchronize");
  const r = parseEvent("pull_request", sync);
  assert.equal(r.status, "handled");
  if (r.status !== "handled" || r.event.kind !== "pull_request") return;
  assert.equal(r.event.pr.headSha, sync.pull_request.head.sha);
  assert.equal(r.event.pr.baseSha, sync.pull_request.base.sha);
  assert.equal(r.event.pr.fromFork, false);
  const assigned = example("pull_request", "assigned");
  assert.equal(parseEvent("pull_request", assigned).status, "ignored");
});

test("a fork pull request derived from a real example is marked as from a fork", () => {
  const opened = example("pull_request", "opened");
  opened.pull_request.head.repo.id = 999_001;
  opened.pull_request.head.repo.full_name = "mallory/Hello-World";
  opened.pull_request.head.repo.owner.login = "mallory";
  const r = parseEvent("pull_request", opened);
  assert.ok(r.status === "handled" && r.event.kind === "pull_request");
  assert.equal(r.event.pr.fromFork, true);
  assert.equal(r.event.pr.headRepo?.fullName, "mallory/Hello-World");
});

test("a comment on a pull request is handled; on a plain issue it is ignored", async () => {
  const res = await deliver(gw.url, { event: "issue_comment", payload: prComment("/ok-to-test") });
  assert.equal(res.status, 202);
  await gw.loop.idle();
  const h = gw.handled.find((x) => x.deliveryId === res.id);
  assert.ok(h && h.event.kind === "pr_comment");
  assert.equal(h.event.comment.body, "/ok-to-test");
  assert.equal(h.event.prNumber, 1);
  assert.equal(h.event.installationId, 1);

  const plain = example("issue_comment", "created");
  assert.equal((await deliver(gw.url, { event: "issue_comment", payload: plain })).status, 204);
});

test("pull_request edited is handled only when the base branch changed", () => {
  const opened = example("pull_request", "opened");
  const edited = { ...opened, action: "edited", changes: { title: { from: "x" } } };
  assert.equal(parseEvent("pull_request", edited).status, "ignored");
  const rebased = {
    ...edited,
    changes: { base: { ref: { from: "develop" }, sha: { from: "a" } } },
  };
  const r = parseEvent("pull_request", rebased);
  assert.ok(r.status === "handled" && r.event.kind === "pull_request");
  assert.equal(r.event.previousBaseRef, "develop");
});

test("a handled event missing a needed field is stored as rejected with the reason", async () => {
  const opened = example("pull_request", "opened");
  delete opened.pull_request.head.sha;
  const res = await deliver(gw.url, { event: "pull_request", payload: opened });
  assert.equal(res.status, 422);
  assert.match(res.body, /pull_request\.head\.sha/);
  const stored = await gw.events.get(res.id);
  assert.equal(stored?.state, "rejected");
  assert.match(stored?.error ?? "", /pull_request\.head\.sha/);
  await gw.loop.idle();
  assert.ok(!gw.handled.some((h) => h.deliveryId === res.id), "never handed to the handler");
});
