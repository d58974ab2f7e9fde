// `airlock serve` with a GitHub App configured, as the real CLI process: a signed pull_request
// delivery from an untrusted author produces check runs on the GitHub double (public job run,
// approval waiting); a trusted member approves the exact SHA from the console, and the
// restricted jobs run and report; an untrusted member gets 403. No secret leaves in any check.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { openStore } from "../../src/store/index.js";
import { deliver as deliverSigned } from "../gateway/helpers.js";
import {
  BASE_PIPELINE,
  CLOUD_TOKEN,
  PUBLIC_URL,
  prPayload,
  REPO,
  TRUSTED,
  UNTRUSTED,
  WEBHOOK_SECRET,
  World,
} from "../gateway-flow/harness.js";
import { PATIENCE_MS } from "../support/patience.js";
import { Browser, csrfOf, type Served, startServe } from "./helpers.js";

const PIPELINE = `${BASE_PIPELINE}public_summary:\n  enabled: true\n`;

const FINAL = new Set(["success", "failure", "neutral", "cancelled", "action_required"]);

let w: World;
let served: Served;

before(async () => {
  w = await World.create(PIPELINE, { server: false });
  served = await startServe([], {
    cwd: w.root,
    expectLink: false,
    env: {
      PATH: process.env.PATH,
      HOME: w.root,
      LANG: "C.UTF-8",
      AIRLOCK_HOME: w.dataDir,
      AIRLOCK_GITHUB_APP_ID: String(w.gh.appId),
      AIRLOCK_GITHUB_PRIVATE_KEY: w.gh.privateKey!,
      AIRLOCK_WEBHOOK_SECRET: WEBHOOK_SECRET,
      AIRLOCK_GITHUB_API_URL: w.gh.url,
      AIRLOCK_GITHUB_CLONE_URL: w.repo.cloneBase,
      AIRLOCK_PUBLIC_URL: PUBLIC_URL,
    },
  });
});

after(async () => {
  await served?.stop();
  await w?.close();
});

async function deliver(event: string, payload: unknown): Promise<number> {
  return (await deliverSigned(served.url, { event, payload, secret: WEBHOOK_SECRET })).status;
}

/** Waits until the double's check runs on `sha` satisfy `done`. */
async function checksUntil(
  sha: string,
  done: (c: Record<string, string>) => boolean,
  what: string,
): Promise<Record<string, string>> {
  const until = Date.now() + PATIENCE_MS;
  let c: Record<string, string> = {};
  while (Date.now() < until) {
    c = w.checks(sha);
    if (done(c)) return c;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: checks are ${JSON.stringify(c)}\n${served.output().slice(-3000)}`);
}

/** A console session for a GitHub login, as the OAuth callback would start it. */
async function sessionFor(login: string): Promise<Browser> {
  const db = await openStore({ dataDir: w.dataDir });
  try {
    const id = await db.sessions.createSession({
      login,
      via: "github",
      ttlMs: 600_000,
    });
    const b = new Browser(served.url);
    b.setCookie("airlock_session", id);
    return b;
  } finally {
    await db.close();
  }
}

test("a signed PR delivery runs public jobs and asks for approval; the console approves the SHA", async () => {
  const pr = w.openPr({ author: UNTRUSTED });
  const status = await deliver("pull_request", prPayload("opened", pr, { baseSha: w.baseSha }));
  assert.equal(status, 202);
  const first = await checksUntil(
    pr.headSha,
    (c) => c["airlock/unit"] === "success" && c["airlock/approval"] === "action_required",
    "public job and approval check",
  );
  assert.equal(first["airlock/functional-aws"], undefined, "nothing restricted ran unapproved");
  const approvalCheck = w.check(pr.headSha, "airlock/approval")!;
  assert.ok(approvalCheck.details_url?.startsWith(PUBLIC_URL), approvalCheck.details_url ?? "");

  // An untrusted GitHub member is refused everywhere in the console.
  const mallory = await sessionFor(UNTRUSTED);
  assert.equal((await mallory.fetch("/runs")).status, 403);

  const alice = await sessionFor(TRUSTED);
  const list = await alice.fetch("/api/runs");
  assert.equal(list.status, 200);
  const runs = ((await list.json()) as { runs: { id: string; sha: string }[] }).runs;
  const run = runs.find((r) => r.sha === pr.headSha);
  assert.ok(run, JSON.stringify(runs));
  const page = await alice.fetch(`/runs/${run.id}`);
  assert.equal(page.status, 200);
  const html = await page.text();

  // The form is accepted only from the console's own origin (here its public URL).
  const approve = await alice.fetch(`/runs/${run.id}/approve`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: new URL(PUBLIC_URL).origin,
    },
    body: new URLSearchParams({ _csrf: csrfOf(html), sha: pr.headSha }).toString(),
  });
  const answer = await approve.text();
  assert.equal(approve.status, 200, answer);
  assert.match(answer, /Approved [0-9a-f]{12}/);

  const done = await checksUntil(
    pr.headSha,
    (c) =>
      c["airlock/approval"] === "success" &&
      ["airlock/functional-aws", "airlock/functional-scw", "airlock/all-tests"].every((n) =>
        FINAL.has(c[n] ?? ""),
      ),
    "restricted jobs after the console approval",
  );
  // The restricted jobs ran with the secret: their reports (a test that prints it) are on the
  // check, the value redacted.
  assert.equal(done["airlock/functional-aws"], "success");
  const out = JSON.stringify(w.check(pr.headSha, "airlock/functional-aws")!.output);
  assert.match(out, /leak/);
  assert.match(out, /saw \[redacted/);
  const approval = w.check(pr.headSha, "airlock/approval")!;
  assert.match(JSON.stringify(approval.output), new RegExp(TRUSTED));

  // Nothing sent to GitHub carries the secret; every request matched GitHub's description.
  assert.doesNotMatch(JSON.stringify(w.gh.checkRuns(REPO)), new RegExp(CLOUD_TOKEN));
  w.gh.assertNoViolations();

  // The public summary is on (the base definition opted in) and shows no log line.
  const pub = await fetch(`${served.url}/public/runs/${run.id}`);
  assert.equal(pub.status, 200);
  const pubHtml = await pub.text();
  assert.match(pubHtml, /unit/);
  assert.doesNotMatch(pubHtml, /unit ok|CLOUD_TOKEN=/);
});

test("an admin-token session cannot approve on a pull request: it is told to sign in with GitHub", async () => {
  const alice = await sessionFor(TRUSTED);
  const runs = (
    (await (await alice.fetch("/api/runs")).json()) as { runs: { id: string; sha: string }[] }
  ).runs;
  const run = runs[0]!;
  const db = await openStore({ dataDir: w.dataDir });
  let b: Browser;
  try {
    const id = await db.sessions.createSession({
      login: "token:ops",
      via: "token",
      ttlMs: 600_000,
    });
    b = new Browser(served.url);
    b.setCookie("airlock_session", id);
  } finally {
    await db.close();
  }
  const html = await (await b.fetch(`/runs/${run.id}`)).text();
  const res = await b.fetch(`/runs/${run.id}/run-all`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: new URL(PUBLIC_URL).origin,
    },
    body: new URLSearchParams({ _csrf: csrfOf(html) }).toString(),
  });
  assert.equal(res.status, 409);
  assert.match(await res.text(), /sign in with GitHub/);
});

test("SIGTERM stops the gateway cleanly", async () => {
  assert.equal(await served.stop(), 0);
});
