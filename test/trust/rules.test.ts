import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { TrustSchema } from "../../src/config/schema.js";
import { isBot, TrustEvaluator } from "../../src/trust/rules.js";
import { type GitHubDouble, startGitHubDouble } from "../doubles/github.js";
import { clientFor } from "../outbox/support.js";

let gh: GitHubDouble;
const REPO = { owner: "acme", repo: "app" };
const rules = TrustSchema.parse({
  orgs: ["acme"],
  teams: ["acme/release"],
  permission: "write",
  bots: ["dependabot[bot]"],
  users: ["Friendly-Outsider"],
});

before(async () => {
  gh = await startGitHubDouble();
  gh.addInstallation({ id: 1, account: "acme", repos: ["acme/app"] });
  gh.addOrgMember("acme", "alice");
  gh.addTeamMember("acme", "release", "tina");
  gh.setPermission("acme/app", "wendy", "write");
  gh.setPermission("acme/app", "maya", "maintain");
  gh.setPermission("acme/app", "rita", "read");
  gh.setPermission("acme/app", "tri", "triage");
  gh.setPermission("acme/app", "evil[bot]", "write");
});
after(async () => {
  gh.assertNoViolations();
  await gh.close();
});

const evaluator = (opts: { now?: () => number; ttlMs?: number } = {}) =>
  new TrustEvaluator(clientFor(gh).client, opts);

test("an org member is trusted; a non-member without permission is not", async () => {
  const t = evaluator();
  const alice = await t.check({ login: "alice", type: "User" }, REPO, rules);
  assert.equal(alice.trusted, true);
  assert.match(alice.reason, /member of acme/);
  const mallory = await t.check({ login: "mallory", type: "User" }, REPO, rules);
  assert.equal(mallory.trusted, false);
  assert.match(mallory.reason, /not trusted.*permission none/);
});

test("team members are trusted", async () => {
  assert.equal((await evaluator().check({ login: "tina" }, REPO, rules)).trusted, true);
});

test("write permission or above is trusted; read and triage are not", async () => {
  const t = evaluator();
  assert.equal((await t.check({ login: "wendy" }, REPO, rules)).trusted, true);
  assert.equal((await t.check({ login: "maya" }, REPO, rules)).trusted, true);
  assert.equal((await t.check({ login: "rita" }, REPO, rules)).trusted, false);
  assert.equal((await t.check({ login: "tri" }, REPO, rules)).trusted, false);
  const strict = { ...rules, permission: "admin" as const };
  assert.equal((await t.check({ login: "maya" }, REPO, strict)).trusted, false);
});

test("a bot is never trusted as a person, listed or not, whatever its permission", async () => {
  const t = evaluator();
  // Listed: its pull requests get its scope (policy.ts), but it neither approves nor commands.
  const listed = await t.check({ login: "dependabot[bot]", type: "Bot" }, REPO, rules);
  assert.equal(listed.trusted, false);
  assert.match(listed.reason, /is a bot.*trust\.bots says what its pull requests may run/);
  const other = await t.check({ login: "evil[bot]", type: "Bot" }, REPO, rules);
  assert.equal(other.trusted, false);
  // A bot account typed "Bot" without the suffix is still a bot.
  assert.equal(isBot({ login: "renovate", type: "Bot" }), true);
  assert.equal((await t.check({ login: "renovate", type: "Bot" }, REPO, rules)).trusted, false);
});

test("team membership for a rule: the first listed team the person is in, asked once", async () => {
  const t = evaluator();
  assert.equal(await t.memberOf("tina", ["acme/security", "release"], REPO), "acme/release");
  assert.equal(await t.memberOf("alice", ["acme/release"], REPO), undefined);
  const start = gh.requests.length;
  assert.equal(await t.memberOf("tina", ["acme/release"], REPO), "acme/release");
  assert.equal(gh.requests.length, start, "the answer was cached");
});

test("listed users are trusted without a lookup, case-insensitively", async () => {
  const start = gh.requests.length;
  const v = await evaluator().check({ login: "friendly-outsider" }, REPO, rules);
  assert.equal(v.trusted, true);
  assert.equal(gh.requests.length, start);
});

test("answers are cached for the TTL, then looked up again", async () => {
  let now = 1_000_000;
  const t = evaluator({ ttlMs: 30_000, now: () => now });
  const lookups = () =>
    gh.requests.filter((r) => r.url.includes("/members/bob") || r.url.includes("/bob/")).length;
  const start = lookups();
  assert.equal((await t.check({ login: "bob" }, REPO, rules)).trusted, false);
  assert.equal((await t.check({ login: "bob" }, REPO, rules)).trusted, false);
  const first = lookups() - start;
  assert.ok(first >= 2, "org, team and permission were looked up once");
  // Bob joins the org; the cached answer stands until the TTL passes.
  gh.addOrgMember("acme", "bob");
  now += 29_000;
  assert.equal((await t.check({ login: "bob" }, REPO, rules)).trusted, false);
  assert.equal(lookups() - start, first);
  now += 2_000;
  assert.equal((await t.check({ login: "bob" }, REPO, rules)).trusted, true);
});

test("a failed lookup throws instead of deciding, and is not cached", async () => {
  const c = clientFor(gh).client;
  await c.permission(REPO, "warm-up"); // the token is bought before the fault
  const t = new TrustEvaluator(c);
  gh.failNext(3, "server-error"); // the read and its two retries
  await assert.rejects(() => t.check({ login: "carol" }, REPO, rules), /500/);
  assert.equal((await t.check({ login: "carol" }, REPO, rules)).trusted, false);
});

test("forget() drops every answer at once, and an answer looked up before it is not kept", async () => {
  gh.addOrgMember("acme", "leaver");
  const t = evaluator({ ttlMs: 3_600_000 });
  assert.equal((await t.check({ login: "leaver" }, REPO, rules)).trusted, true);
  gh.removeOrgMember("acme", "leaver");
  assert.equal((await t.check({ login: "leaver" }, REPO, rules)).trusted, true, "cached");
  t.forget();
  assert.equal((await t.check({ login: "leaver" }, REPO, rules)).trusted, false);

  // A lookup in flight when the membership event arrives: its (older) answer is not cached.
  gh.addOrgMember("acme", "racer");
  const inFlight = t.check({ login: "racer" }, REPO, rules);
  t.forget();
  assert.equal((await inFlight).trusted, true);
  gh.removeOrgMember("acme", "racer");
  assert.equal((await t.check({ login: "racer" }, REPO, rules)).trusted, false);
});
