import assert from "node:assert/strict";
import { verify } from "node:crypto";
import { after, before, test } from "node:test";
import { AppAuth, appJwt, loadAppKey } from "../../src/forge/github/app-auth.js";
import { GitHubClient } from "../../src/forge/github/client.js";
import { GitHubError, rateLimitOf } from "../../src/forge/github/errors.js";
import { GitHubHttp } from "../../src/forge/github/http.js";
import { type GitHubDouble, startGitHubDouble } from "../doubles/github.js";
import { clientFor, sha } from "../outbox/support.js";

let gh: GitHubDouble;
const REPO = { owner: "acme", repo: "app" };

before(async () => {
  gh = await startGitHubDouble();
  gh.addInstallation({ id: 1, account: "acme", repos: ["acme/app"] });
});
after(async () => {
  gh.assertNoViolations();
  await gh.close();
});

test("the app JWT is RS256, issued in the past, and valid under ten minutes", () => {
  const key = loadAppKey(gh.privateKey!);
  const now = Date.UTC(2024, 0, 1);
  const jwt = appJwt(gh.appId, key, now);
  const [h, p, s] = jwt.split(".");
  const header = JSON.parse(Buffer.from(h!, "base64url").toString());
  const claims = JSON.parse(Buffer.from(p!, "base64url").toString());
  assert.equal(header.alg, "RS256");
  assert.equal(claims.iss, String(gh.appId));
  assert.ok(claims.iat * 1000 < now);
  assert.ok(claims.exp * 1000 > now && claims.exp - claims.iat <= 600);
  assert.ok(verify("RSA-SHA256", Buffer.from(`${h}.${p}`), key, Buffer.from(s!, "base64url")));
});

test("a key that is not an RSA PEM is refused with a clear message", () => {
  assert.throws(() => loadAppKey("not a key"), /not a valid RSA PEM key/);
});

test("installation tokens are bought once and reused until shortly before expiry", async () => {
  let now = Date.now();
  const { client, auth } = clientFor(gh, 1, { now: () => now });
  const tokenCalls = () => gh.requests.filter((r) => r.url.includes("/access_tokens")).length;
  const before = tokenCalls();
  await Promise.all([client.pull(REPO, 1).catch(() => {}), client.pull(REPO, 1).catch(() => {})]);
  await client.permission(REPO, "someone");
  assert.equal(tokenCalls() - before, 1, "concurrent and later calls share one token");
  now += 56 * 60_000; // the double's tokens live an hour; the margin is 5 minutes
  await client.permission(REPO, "someone");
  assert.equal(tokenCalls() - before, 2, "a token near expiry is replaced");
  auth.invalidate(1);
  await client.permission(REPO, "someone");
  assert.equal(tokenCalls() - before, 3);
});

test("file contents are read at an exact SHA, never a branch name", async () => {
  const base = sha("b");
  gh.setFile("acme/app", base, ".airlock.yml", "version: 1\njobs: {}\n");
  const { client } = clientFor(gh);
  assert.equal(await client.fileAt(REPO, ".airlock.yml", base), "version: 1\njobs: {}\n");
  assert.equal(await client.fileAt(REPO, ".airlock.yml", sha("c")), undefined);
  await assert.rejects(() => client.fileAt(REPO, ".airlock.yml", "main"), /full commit SHA/);
  const req = gh.requests.find((r) => r.url.includes("/contents/"))!;
  assert.equal(req.url, `/repos/acme/app/contents/.airlock.yml?ref=${base}`);
});

test("untrusted names reach the API only as encoded path segments", async () => {
  const { client } = clientFor(gh);
  const evil = "x;$(id)`../../admin";
  const start = gh.requests.length;
  assert.equal(await client.isOrgMember("acme", evil), false);
  assert.equal(await client.isTeamMember("acme", "../core", evil), false);
  assert.equal(await client.permission(REPO, evil), "none");
  assert.equal(await client.fileAt(REPO, "dir with space/a#b?.yml", sha("d")), undefined);
  await assert.rejects(() => client.fileAt(REPO, "../../etc/passwd", sha("d")), /refusing/);
  const urls = gh.requests
    .slice(start)
    .map((r) => r.url)
    .filter((u) => !u.startsWith("/app/"));
  const enc = encodeURIComponent(evil);
  assert.deepEqual(urls, [
    `/orgs/acme/members/${enc}`,
    `/orgs/acme/teams/..%2Fcore/memberships/${enc}`,
    `/repos/acme/app/collaborators/${enc}/permission`,
    `/repos/acme/app/contents/dir%20with%20space/a%23b%3F.yml?ref=${sha("d")}`,
  ]);
  for (const u of urls) assert.ok(!u.includes("/../") && !u.includes("$("), u);
});

test("pull requests are read with their head and base", async () => {
  gh.addPull("acme/app", { number: 7, headSha: sha("1"), baseSha: sha("2"), author: "mallory" });
  const { client } = clientFor(gh);
  const pr = await client.pull(REPO, 7);
  assert.equal(pr.head.sha, sha("1"));
  assert.equal(pr.base.sha, sha("2"));
  assert.equal(pr.user?.login, "mallory");
});

test("a read retries a 500; a rate limit surfaces with its wait", async () => {
  const { client } = clientFor(gh);
  gh.setPermission("acme/app", "writer", "write");
  await client.permission(REPO, "writer"); // buys the token first
  gh.failNext(1, "server-error");
  assert.equal(await client.permission(REPO, "writer"), "write");
  gh.failNext(1, "rate-limit");
  const err = await client.permission(REPO, "writer").catch((e) => e);
  assert.ok(err instanceof GitHubError);
  assert.equal(err.rateLimited, true);
  assert.equal(err.status, 403);
  assert.ok(err.retryAfterMs !== undefined && err.retryAfterMs <= 1000);
});

test("the base URL may carry a path prefix, as on GitHub Enterprise Server", async () => {
  const seen: string[] = [];
  const fake = (async (url: string | URL) => {
    seen.push(String(url));
    return new Response(null, { status: 204 });
  }) as typeof fetch;
  const http = new GitHubHttp({ baseUrl: "https://ghe.example.com/api/v3/", fetch: fake });
  const client = new GitHubClient(http, { authorization: async () => "token t" });
  assert.equal(await client.isOrgMember("acme", "alice"), true);
  assert.deepEqual(seen, ["https://ghe.example.com/api/v3/orgs/acme/members/alice"]);
  assert.throws(() => new GitHubHttp({ baseUrl: "ftp://x" }), /must start with https/);
});

test("errors name the route, not the credential", async () => {
  const http = new GitHubHttp({ baseUrl: gh.url });
  const client = new GitHubClient(http, { authorization: async () => "token ghs_secretvalue" });
  const err = await client.pull(REPO, 7).catch((e) => e);
  assert.ok(err instanceof GitHubError);
  assert.equal(err.status, 401);
  assert.match(err.message, /GET \/repos\/\{owner\}\/\{repo\}\/pulls\/\{pull_number\}/);
  assert.doesNotMatch(err.message, /ghs_secretvalue/);
});

test("rate-limit signals are read from Retry-After and x-ratelimit-reset", () => {
  const now = 1_000_000;
  const h = (o: Record<string, string>) => new Headers(o);
  assert.deepEqual(rateLimitOf(429, h({ "retry-after": "3" }), "", now), {
    rateLimited: true,
    retryAfterMs: 3000,
  });
  assert.deepEqual(
    rateLimitOf(403, h({ "x-ratelimit-remaining": "0", "x-ratelimit-reset": "1010" }), "", now),
    { rateLimited: true, retryAfterMs: 10_000 },
  );
  assert.equal(
    rateLimitOf(403, h({}), "Resource not accessible by integration", now).rateLimited,
    false,
  );
  assert.equal(
    rateLimitOf(403, h({}), "You have exceeded a secondary rate limit", now).rateLimited,
    true,
  );
});

test("AppAuth refuses a bad key at construction", () => {
  assert.throws(() => new AppAuth(new GitHubHttp(), 1, "-----BEGIN NOPE-----"), /RSA PEM/);
});
