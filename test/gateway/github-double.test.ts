// The GitHub double itself: real Octokit clients pass its checks, and anything outside GitHub's
// REST description is recorded as a violation.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { after, before, test } from "node:test";
import { createAppAuth } from "@octokit/auth-app";
import { Octokit } from "@octokit/rest";
import { type GitHubDouble, startGitHubDouble } from "../doubles/github.js";

const HEAD = "a".repeat(40);
const BASE = "b".repeat(40);
let gh: GitHubDouble;

before(async () => {
  gh = await startGitHubDouble();
  gh.addInstallation({ id: 7, account: "acme", repos: ["acme/app"] });
  gh.addOrgMember("acme", "alice");
  gh.addTeamMember("acme", "core", "carol", "maintainer");
  gh.setPermission("acme/app", "bob", "maintain");
  gh.setFile("acme/app", BASE, ".airlock.yml", "version: 1\njobs: {}\n");
  gh.addPull("acme/app", {
    number: 3,
    headSha: HEAD,
    baseSha: BASE,
    author: "mallory",
    headRepo: "mallory/app",
  });
});
after(() => gh.close());

function installationClient(): Octokit {
  return new Octokit({
    baseUrl: gh.url,
    authStrategy: createAppAuth,
    auth: { appId: gh.appId, privateKey: gh.privateKey!, installationId: 7 },
  });
}

test("an App client gets an installation token and uses the implemented endpoints", async () => {
  const o = installationClient();
  const member = await o.rest.orgs.checkMembershipForUser({ org: "acme", username: "alice" });
  assert.equal(member.status, 204);
  await assert.rejects(o.rest.orgs.checkMembershipForUser({ org: "acme", username: "mallory" }), {
    status: 404,
  });
  const team = await o.rest.teams.getMembershipForUserInOrg({
    org: "acme",
    team_slug: "core",
    username: "carol",
  });
  assert.equal(team.data.role, "maintainer");
  const perm = await o.rest.repos.getCollaboratorPermissionLevel({
    owner: "acme",
    repo: "app",
    username: "bob",
  });
  assert.equal(perm.data.permission, "write");
  assert.equal(perm.data.role_name, "maintain");

  const file = await o.rest.repos.getContent({
    owner: "acme",
    repo: "app",
    path: ".airlock.yml",
    ref: BASE,
  });
  assert.ok(!Array.isArray(file.data) && file.data.type === "file");
  assert.equal(Buffer.from(file.data.content, "base64").toString(), "version: 1\njobs: {}\n");
  const pr = await o.rest.pulls.get({ owner: "acme", repo: "app", pull_number: 3 });
  assert.equal(pr.data.head.sha, HEAD);
  assert.equal(pr.data.head.repo?.full_name, "mallory/app");

  const created = await o.rest.checks.create({
    owner: "acme",
    repo: "app",
    name: "airlock/approval",
    head_sha: HEAD,
    status: "in_progress",
  });
  await o.rest.checks.update({
    owner: "acme",
    repo: "app",
    check_run_id: created.data.id,
    conclusion: "action_required",
    output: { title: "Waiting for approval", summary: "A trusted member can comment /ok-to-test" },
  });
  const listed = await o.rest.checks.listForRef({ owner: "acme", repo: "app", ref: HEAD });
  assert.equal(listed.data.total_count, 1);
  assert.deepEqual(gh.checkRunConclusions("acme/app", HEAD), {
    "airlock/approval": "action_required",
  });
  assert.equal(gh.checkRuns("acme/app", HEAD)[0]!.history.length, 2);

  await o.rest.repos.createCommitStatus({
    owner: "acme",
    repo: "app",
    sha: HEAD,
    state: "pending",
    context: "airlock",
  });
  assert.equal(gh.statuses("acme/app", HEAD)[0]!.state, "pending");
  const c = await o.rest.issues.createComment({
    owner: "acme",
    repo: "app",
    issue_number: 3,
    body: "hi",
  });
  await o.rest.issues.updateComment({
    owner: "acme",
    repo: "app",
    comment_id: c.data.id,
    body: "hello",
  });
  assert.deepEqual(
    gh.comments("acme/app", 3).map((x) => x.history),
    [["hi", "hello"]],
  );

  gh.assertNoViolations();
});

test("a repository outside the installation answers 404", async () => {
  const o = installationClient();
  await assert.rejects(o.rest.pulls.get({ owner: "other", repo: "app", pull_number: 3 }), {
    status: 404,
  });
  gh.assertNoViolations();
});

test("a JWT signed with another key is refused", async () => {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const o = new Octokit({
    baseUrl: gh.url,
    authStrategy: createAppAuth,
    auth: {
      appId: gh.appId,
      privateKey: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
      installationId: 7,
    },
  });
  await assert.rejects(o.rest.pulls.get({ owner: "acme", repo: "app", pull_number: 3 }), {
    status: 401,
  });
});

test("faults: the next requests answer 500 or rate-limited with the headers GitHub sends", async () => {
  const o = installationClient();
  await o.rest.pulls.get({ owner: "acme", repo: "app", pull_number: 3 }); // token cached first
  gh.failNext(1, "rate-limit");
  gh.failNext(1, "secondary-rate-limit");
  gh.failNext(1, "server-error");
  const e1 = await o.rest.pulls.get({ owner: "acme", repo: "app", pull_number: 3 }).catch((e) => e);
  assert.equal(e1.status, 403);
  assert.equal(e1.response.headers["x-ratelimit-remaining"], "0");
  const e2 = await o.rest.pulls.get({ owner: "acme", repo: "app", pull_number: 3 }).catch((e) => e);
  assert.equal(e2.response.headers["retry-after"], "1");
  const e3 = await o.rest.pulls.get({ owner: "acme", repo: "app", pull_number: 3 }).catch((e) => e);
  assert.equal(e3.status, 500);
  assert.equal(
    (await o.rest.pulls.get({ owner: "acme", repo: "app", pull_number: 3 })).status,
    200,
  );
});

test("requests outside the description are recorded as violations", async () => {
  const o = installationClient();
  const before = gh.violations.length;
  // Untyped routes, so that requests the typings would refuse can be sent.
  const raw = (route: string, params: Record<string, unknown>) =>
    o.request(route, params).catch(() => undefined);
  // A body field with a value the description does not allow.
  await raw("POST /repos/{owner}/{repo}/check-runs", {
    owner: "acme",
    repo: "app",
    name: "x",
    head_sha: HEAD,
    status: "finished",
  });
  // A required body field missing.
  await raw("POST /repos/{owner}/{repo}/check-runs", { owner: "acme", repo: "app", name: "x" });
  // A path that is not in the description.
  await raw("GET /repos/{owner}/{repo}/no-such-thing", { owner: "acme", repo: "app" });
  // A method the path does not have.
  await raw("DELETE /repos/{owner}/{repo}/check-runs/{id}", { owner: "acme", repo: "app", id: 1 });
  // A non-integer where the description says integer.
  await raw("GET /repos/{owner}/{repo}/pulls/{n}", { owner: "acme", repo: "app", n: "three" });
  // An undescribed query parameter.
  await raw("GET /repos/{owner}/{repo}/pulls/{n}", {
    owner: "acme",
    repo: "app",
    n: 3,
    sneaky: "1",
  });

  const kinds = gh.violations.slice(before).map((v) => `${v.kind}: ${v.message}`);
  assert.equal(kinds.length, 6, kinds.join("\n"));
  assert.match(kinds[0]!, /^body: .*status/);
  assert.match(kinds[1]!, /^body: .*head_sha/);
  assert.match(kinds[2]!, /^unknown-operation/);
  assert.match(kinds[3]!, /^unknown-operation/);
  assert.match(kinds[4]!, /^parameter: path parameter pull_number/);
  assert.match(kinds[5]!, /^parameter: query parameter sneaky/);
  assert.throws(() => gh.assertNoViolations());
  gh.violations.length = before;
});
