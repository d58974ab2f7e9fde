// `airlock serve` on its embedded defaults (no GitHub App): one command prints a sign-in link that
// opens the console for the runs `airlock run` made in the same project; the dispatch key is
// published; a bad serve config is one line and exit 2.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import {
  loadOrCreateDispatchKey,
  parsePublicKey,
  signDispatch,
  verifyDispatch,
} from "../../src/dispatch/index.js";
import { runCli, show } from "../support/cli.js";
import { Project, runIdOf } from "../support/project.js";
import { Browser, csrfOf, type Served, startServe } from "./helpers.js";

const TOKEN = "tok-Vq83nZr1x0Plm";
const PIPELINE = `version: 1
secrets:
  cloud: {}
public_summary:
  enabled: true
jobs:
  unit:
    run: |
      echo "unit says hello"
      printf '<testsuite name="u"><testcase name="adds"/></testsuite>' > unit.xml
    reports: [unit.xml]
  functional:
    needs: [unit]
    secrets: [cloud]
    run: echo "functional holds $CLOUD_TOKEN"
`;

let p: Project;
let env: NodeJS.ProcessEnv;
let runId: string;
let served: Served;

before(async () => {
  p = new Project({ files: { ".airlock.yml": PIPELINE } });
  // No AIRLOCK_HOME: `airlock run` and `airlock serve -C` both use <project>/.airlock.
  env = p.env();
  delete env.AIRLOCK_HOME;
  const set = await runCli(["secrets", "set", "cloud", "CLOUD_TOKEN"], {
    cwd: p.repo,
    env,
    stdin: TOKEN,
  });
  assert.equal(set.code, 0, show(set));
  const run = await runCli(["run", "--plain"], { cwd: p.repo, env });
  assert.equal(run.code, 0, show(run));
  runId = runIdOf(run.stdout);
  served = await startServe(["-C", p.repo], { cwd: p.root, env, expectLink: true });
});

after(async () => {
  await served?.stop();
  p?.cleanup();
});

test("the printed link signs in once; the console shows the local run, its page and its log", async () => {
  assert.match(served.output(), /no GitHub App is configured: serving the console/);
  assert.ok(served.link!.startsWith(`${served.url}/login/once?t=`));
  const anon = new Browser(served.url);
  const denied = await anon.fetch("/runs");
  assert.equal(denied.status, 303);
  assert.match(denied.headers.get("location") ?? "", /^\/login\?next=/);

  const b = new Browser(served.url);
  const signIn = await b.fetch(served.link!.slice(served.url.length));
  assert.equal(signIn.status, 303);
  assert.equal(signIn.headers.get("location"), "/runs");
  const list = await b.get("/runs");
  assert.equal(list.status, 200);
  assert.match(await list.text(), new RegExp(runId));

  const page = await b.get(`/runs/${runId}`);
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, /functional/);
  assert.match(html, /unit/);

  const log = await b.get(`/runs/${runId}/jobs/unit/log.txt`);
  assert.equal(log.status, 200);
  assert.match(await log.text(), /unit says hello/);
  const secretLog = await (await b.get(`/runs/${runId}/jobs/functional/log.txt`)).text();
  assert.match(secretLog, /functional holds \[redacted/);
  assert.doesNotMatch(secretLog, new RegExp(TOKEN));

  // The link was spent: a second use signs nobody in.
  const again = await new Browser(served.url).fetch(served.link!.slice(served.url.length));
  assert.equal(again.status, 401);

  // Approving or re-running applies to pull requests: a local run says so plainly.
  const approve = await b.post(`/runs/${runId}/approve`, {
    _csrf: csrfOf(html),
    sha: /[0-9a-f]{40}/.exec(html)![0],
  });
  assert.equal(approve.status, 409);
  assert.match(await approve.text(), /made by airlock run on a local checkout/);
});

test("the public summary follows the run's .airlock.yml and shows no log line", async () => {
  const res = await fetch(`${served.url}/public/runs/${runId}`);
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /adds/);
  assert.doesNotMatch(html, /unit says hello|functional holds/);
  assert.doesNotMatch(html, new RegExp(TOKEN));
});

test("webhooks are refused with a reason; the dispatch key verifies a dispatch signed with the data dir's key", async () => {
  const hook = await fetch(`${served.url}/webhooks/github`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  assert.equal(hook.status, 503);
  assert.match(((await hook.json()) as { error: string }).error, /no GitHub App is configured/);

  const res = await fetch(`${served.url}/.well-known/airlock-dispatch-key`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/x-pem-file");
  const pem = await res.text();
  assert.match(pem, /^-----BEGIN PUBLIC KEY-----/);
  const key = loadOrCreateDispatchKey(path.join(p.repo, ".airlock"));
  const claims = {
    runId: "r1",
    repo: "acme/app",
    sha: "a".repeat(40),
    tests: ["functional"],
    approver: "alice",
    expiresAt: Date.now() + 60_000,
  };
  const token = signDispatch(claims, key.privateKey);
  const verified = verifyDispatch(token, parsePublicKey(pem), { now: Date.now() });
  assert.equal(verified.runId, "r1");
});

test("SIGTERM stops it cleanly", async () => {
  assert.equal(await served.stop(), 0);
});

test("a bad serve config is one line on stderr and exit 2", async () => {
  const dir = path.join(p.root, "cfg");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "serve.yml"), "public_url: ftp://nowhere\n");
  const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
    [["serve"], { ...env, AIRLOCK_GITHUB_APP_ID: "abc" }, /App id must be a positive integer/],
    [["serve", "-c", "serve.yml"], env, /public URL .* is not an http\(s\) URL/],
    [["serve", "--listen", "nowhere"], env, /--listen: listen must be HOST:PORT/],
  ];
  for (const [args, e, re] of cases) {
    const r = await runCli(args, { cwd: dir, env: e });
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split("\n").length, 1, show(r));
  }
});
