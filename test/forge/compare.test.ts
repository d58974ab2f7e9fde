// Comparing two commits through the Forge port: the changed files come from the commits themselves
// (here a real git repository behind the GitHub double), the request matches GitHub's REST
// description, and the answer the double gives matches its response schema.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { COMPARE_MAX_FILES } from "../../src/forge/github/client.js";
import { type GitHubDouble, responseProblems, startGitHubDouble } from "../doubles/github.js";
import { Repo } from "../gateway-flow/harness.js";
import { clientFor } from "../outbox/support.js";

const REPO = { owner: "acme", repo: "app" };
let gh: GitHubDouble;
let root: string;
let repo: Repo;
let base: string;

before(async () => {
  gh = await startGitHubDouble();
  gh.addInstallation({ id: 1, account: "acme", repos: ["acme/app"] });
  root = mkdtempSync(path.join(os.tmpdir(), "airlock-compare-"));
  repo = new Repo(root);
  gh.setGitDir("acme/app", repo.bare);
  base = repo.commit({ ".airlock.yml": "version: 1\n", "src/a.ts": "a\n", "old.txt": "o\n" });
  repo.setPullHead(1, base);
});
after(async () => {
  gh.assertNoViolations();
  await gh.close();
  rmSync(root, { recursive: true, force: true });
});

test("compare lists what the head changes since the merge base, renames with their old path", async () => {
  repo.commit({ "src/a.ts": "a2\n", "new file $(id).txt": "n\n", "old.txt": null }, base);
  const head = repo.commit({ "scripts/ci.sh": "echo\n" });
  repo.setPullHead(2, head);
  const { client } = clientFor(gh);
  const c = await client.compare(REPO, base, head);
  assert.equal(c.status, "ahead");
  assert.equal(c.aheadBy, 2);
  assert.equal(c.complete, true);
  assert.deepEqual(c.files.map((f) => [f.path, f.change]).sort(), [
    ["new file $(id).txt", "added"],
    ["old.txt", "removed"],
    ["scripts/ci.sh", "added"],
    ["src/a.ts", "modified"],
  ]);
  assert.equal(c.url, `https://github.com/acme/app/compare/${base}...${head}`);
  const req = gh.requests.find((r) => r.url.includes("/compare/"))!;
  assert.equal(req.status, 200);
  assert.equal(req.url, `/repos/acme/app/compare/${base}...${head}?per_page=1`);

  const moved = repo.commit({ "src/a.ts": null, "src/b.ts": "a\n" }, base);
  repo.setPullHead(3, moved);
  const r = await client.compare(REPO, base, moved);
  assert.deepEqual(r.files, [{ path: "src/b.ts", change: "renamed", previousPath: "src/a.ts" }]);
});

test("a rewritten history compares as diverged; unknown commits and branch names are refused", async () => {
  const first = repo.commit({ "x.txt": "1\n" }, base);
  const other = repo.commit({ "y.txt": "2\n" }, base);
  repo.setPullHead(4, first);
  repo.setPullHead(5, other);
  const { client } = clientFor(gh);
  const c = await client.compare(REPO, first, other);
  assert.equal(c.status, "diverged");
  assert.deepEqual(
    c.files.map((f) => f.path),
    ["y.txt"],
  );
  await assert.rejects(() => client.compare(REPO, base, "c".repeat(40)), { status: 404 });
  await assert.rejects(() => client.compare(REPO, "main", other), /full commit SHAs/);
});

test(`a comparison of ${COMPARE_MAX_FILES} files or more is marked incomplete`, async () => {
  const files: Record<string, string> = {};
  for (let i = 0; i <= COMPARE_MAX_FILES; i++) files[`many/f${i}.txt`] = `${i}\n`;
  const head = repo.commit(files, base);
  repo.setPullHead(6, head);
  const { client } = clientFor(gh);
  const c = await client.compare(REPO, base, head);
  assert.equal(c.files.length, COMPARE_MAX_FILES);
  assert.equal(c.complete, false);
});

test("the double's comparison matches GitHub's commit-comparison schema", async () => {
  const head = repo.commit({ "z.txt": "z\n" }, base);
  repo.setPullHead(7, head);
  const { auth } = clientFor(gh);
  const res = await fetch(`${gh.url}/repos/acme/app/compare/${base}...${head}`, {
    headers: { authorization: await auth.installation(1).authorization() },
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.deepEqual(responseProblems("GET /repos/{owner}/{repo}/compare/{basehead}", 200, body), []);
  // The check can fail: a body missing a required field is named.
  const broken = { ...(body as object), status: undefined, files: [{ filename: "x" }] };
  assert.notDeepEqual(
    responseProblems("GET /repos/{owner}/{repo}/compare/{basehead}", 200, broken),
    [],
  );
});
