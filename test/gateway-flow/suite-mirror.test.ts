// The companion suite and PR mirroring through the gateway: signed deliveries to the real server,
// the GitHub double, real git. A gateway run checks out the suite branch named like the PR's head
// branch (read-only, restricted jobs only) and records it; `/mirror` from a trusted member pushes
// the exact head to `airlock/pr-N`, from anyone else it does nothing; closing the PR deletes it.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { lsRemoteExact } from "../../src/suite/index.js";
import { fileUrl, makeBareRepo } from "../suite/repos.js";
import { commentPayload, prPayload, TRUSTED, UNTRUSTED, World } from "./harness.js";

const root = mkdtempSync(path.join(os.tmpdir(), "airlock-flow-suite-"));
const suiteDir = path.join(root, "suite.git");
const shas = makeBareRepo(suiteDir, ["main", "feature/x", "feature/x-2"]);
const evilDir = path.join(root, "evil.git");
makeBareRepo(evilDir, ["main", "feature/x"]);

const PIPELINE = (suiteUrl: string) => `version: 1
secrets:
  cloud:
    backend: embedded
trust:
  orgs: [acme]
suite:
  url: ${suiteUrl}
  match_branch: true
mirror:
  remote: suite
jobs:
  unit:
    run: |
      echo "public-env=\${AIRLOCK_SUITE_REF:-none}"
      if [ -e /suite ]; then echo public-sees-suite; else echo public-no-suite; fi
  functional:
    needs: [unit]
    secrets: [cloud]
    run: |
      echo "ref=$AIRLOCK_SUITE_REF sha=$AIRLOCK_SUITE_SHA"
      echo "content=$(cat /suite/README)"
      if touch /suite/new-file 2>/dev/null; then echo CREATE-SUCCEEDED; else echo create-refused; fi
`;

let w: World;
before(async () => {
  w = await World.create(PIPELINE(fileUrl(suiteDir)));
});
after(async () => {
  await w?.close();
  rmSync(root, { recursive: true, force: true });
});

async function runNotes(runId: string): Promise<Record<string, unknown>> {
  const row = (await w.server.db.runs.get(runId))!;
  return JSON.parse(row.notes) as Record<string, unknown>;
}

async function runOf(sha: string) {
  const fn = (await w.jobsOf(sha)).find((j) => j.job_id === "functional");
  assert.ok(fn, "the restricted job ran");
  return {
    runId: fn.run_id,
    functional: await w.logs(fn.run_id, "functional"),
    unit: await w.logs(fn.run_id, "unit"),
  };
}

test("a gateway run uses the suite branch named like the PR's head branch", async () => {
  // The PR's own .airlock.yml points the suite elsewhere: only the base's definition counts.
  const pr = w.openPr({
    author: TRUSTED,
    headRef: "feature/x",
    files: { ".airlock.yml": PIPELINE(fileUrl(evilDir)) },
  });
  await w.send("pull_request", prPayload("opened", pr, { baseSha: w.baseSha }));
  const other = w.openPr({ author: TRUSTED, headRef: "feature" });
  await w.send("pull_request", prPayload("opened", other, { baseSha: w.baseSha }));
  // Not a valid branch name (the API's text is data too): no matching is tried.
  const odd = w.openPr({ author: TRUSTED, headRef: "feature/x..//--upload-pack=x" });
  await w.send("pull_request", prPayload("opened", odd, { baseSha: w.baseSha }));
  await w.settle();
  w.gh.assertNoViolations();

  assert.equal(w.checks(pr.headSha)["airlock/functional"], "success");
  const run = await runOf(pr.headSha);
  assert.deepEqual((await runNotes(run.runId)).suite, {
    url: fileUrl(suiteDir),
    ref: "feature/x",
    sha: shas["feature/x"],
    matched: true,
  });
  assert.match(run.functional, new RegExp(`ref=feature/x sha=${shas["feature/x"]}`));
  assert.match(run.functional, /content=suite for feature\/x$/m);
  assert.match(run.functional, /create-refused/);
  assert.doesNotMatch(run.functional, /SUCCEEDED/);
  assert.match(run.unit, /public-env=none/);
  assert.match(run.unit, /public-no-suite/);

  // "feature" is a prefix of suite branches, not one of them: the default ref.
  assert.equal(w.checks(other.headSha)["airlock/functional"], "success");
  const def = await runOf(other.headSha);
  assert.deepEqual((await runNotes(def.runId)).suite, {
    url: fileUrl(suiteDir),
    ref: "main",
    sha: shas.main,
    matched: false,
  });
  assert.match(def.functional, /content=suite for main$/m);
  assert.equal(w.checks(odd.headSha)["airlock/functional"], "success");
  assert.equal(
    ((await runNotes((await runOf(odd.headSha)).runId)).suite as { ref: string }).ref,
    "main",
  );
});

test("/mirror from a trusted member pushes the exact head; closing the PR deletes it", async () => {
  const mirrored = "refs/heads/airlock/pr-";
  const pr = w.openPr({ author: UNTRUSTED });
  await w.send("pull_request", prPayload("opened", pr, { baseSha: w.baseSha }));
  await w.settle();

  // An untrusted commenter is ignored.
  await w.send("issue_comment", commentPayload(pr.number, "/mirror", UNTRUSTED));
  await w.settle();
  const ref = `${mirrored}${pr.number}`;
  assert.equal((await lsRemoteExact(fileUrl(suiteDir), [ref])).size, 0);

  await w.send("issue_comment", commentPayload(pr.number, "/mirror", TRUSTED));
  await w.settle();
  assert.equal((await lsRemoteExact(fileUrl(suiteDir), [ref])).get(ref), pr.headSha);
  const said = w.gh.comments("acme/app", pr.number).map((c) => c.body);
  assert.ok(
    said.some((b) => b.includes(`Mirrored ${pr.headSha} to \`airlock/pr-${pr.number}\``)),
    said.join("\n"),
  );
  // Mirroring authorizes nothing: the restricted job still waits for an approval.
  assert.equal(
    (await w.jobsOf(pr.headSha)).some((j) => j.job_id === "functional"),
    false,
  );

  await w.send(
    "pull_request",
    prPayload("closed", pr, { baseSha: w.baseSha, state: "closed", sender: TRUSTED }),
  );
  await w.settle();
  assert.equal((await lsRemoteExact(fileUrl(suiteDir), [ref])).size, 0);
  // The suite's own branches are untouched.
  const heads = execFileSync("git", ["-C", suiteDir, "for-each-ref", "--format=%(refname)"], {
    encoding: "utf8",
  });
  assert.deepEqual(heads.trim().split("\n").sort(), [
    "refs/heads/feature/x",
    "refs/heads/feature/x-2",
    "refs/heads/main",
  ]);
  w.gh.assertNoViolations();
});

test("a suite that cannot be fetched fails the restricted jobs, and the run still ends", async () => {
  const broken = await World.create(PIPELINE(fileUrl(path.join(root, "missing.git"))));
  try {
    const pr = broken.openPr({ author: TRUSTED, headRef: "feature/x" });
    await broken.send("pull_request", prPayload("opened", pr, { baseSha: broken.baseSha }));
    await broken.settle();
    const checks = broken.checks(pr.headSha);
    assert.equal(checks["airlock/unit"], "success");
    assert.equal(checks["airlock/functional"], "failure");
    const fn = (await broken.jobsOf(pr.headSha)).find((j) => j.job_id === "functional")!;
    assert.equal(fn.state, "error");
    assert.deepEqual(JSON.parse(fn.grants), {}, "nothing was granted");
    assert.match(fn.error ?? "", /^cannot prepare the suite repository: cannot list refs of file:/);
    const log = await broken.logs(fn.run_id, "functional");
    assert.match(log, /airlock: cannot prepare the suite repository/);
    broken.gh.assertNoViolations();
  } finally {
    await broken.close();
  }
});
