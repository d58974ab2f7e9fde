// `airlock run` end to end, through the real CLI, in a real git repository, with real
// bubblewrap sandboxes and the embedded secret store: results, output, selection, logs, --dirty.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { show } from "../support/cli.js";
import { Project, runIdOf } from "../support/project.js";

const PIPELINE = `version: 1
secrets:
  cloud: {}
selection:
  aliases: { scw: scaleway }
jobs:
  build:
    run: |
      echo "building version $(cat VERSION)"
      mkdir -p reports
      cat > reports/unit.xml <<'XML'
      <testsuite name="unit">
        <testcase name="adds"/><testcase name="subtracts"/>
        <testcase name="divides"><failure message="expected 2, got 3"/></testcase>
        <testcase name="later"><skipped/></testcase>
      </testsuite>
      XML
    reports: [reports/*.xml]
  lint:
    run: echo lint ok
  functional:
    needs: [build]
    matrix:
      provider: [aws, scaleway]
      kind: [infra, managed]
    name: \${provider}-\${kind}
    tags: ["\${provider}", "\${kind}"]
    secrets: [cloud]
    run: echo "functional $provider $kind with a token of \${#CLOUD_TOKEN} characters"
`;

const FUNCTIONAL = [
  "functional-aws-infra",
  "functional-aws-managed",
  "functional-scaleway-infra",
  "functional-scaleway-managed",
];

interface RunJson {
  run: string;
  status: string;
  sha: string;
  ref: string | null;
  notes: Record<string, unknown>;
  jobs: {
    id: string;
    result: string;
    reason: string;
    durationMs: number | null;
    secrets: Record<string, Record<string, number>>;
    tests: { passed: number; failed: number; skipped: number };
    error: string | null;
  }[];
}

describe("airlock run: a passing pipeline", () => {
  let project: Project;
  let sha: string;

  before(async () => {
    project = new Project({ files: { ".airlock.yml": PIPELINE, VERSION: "1.0.0\n" } });
    sha = project.commit({ VERSION: "1.0.1\n" }, "bump");
    await project.setSecret("cloud", "CLOUD_TOKEN", "ct_0123456789abcdef");
  });
  after(() => project?.cleanup());

  test("--json: every job passes, exit 0, and the result has the documented shape", async () => {
    const r = await project.cli(["run", "--json", "--concurrency", "2"]);
    assert.equal(r.code, 0, show(r));
    const out = JSON.parse(r.stdout) as RunJson;
    assert.match(out.run, /^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$/);
    assert.equal(out.status, "passed");
    assert.equal(out.sha, sha);
    assert.equal(out.ref, "main");
    assert.deepEqual(out.jobs.map((j) => j.id).sort(), ["build", ...FUNCTIONAL, "lint"].sort());
    for (const j of out.jobs) {
      assert.equal(j.result, "passed", `${j.id}: ${j.error}`);
      assert.equal(typeof j.durationMs, "number");
      assert.ok(j.durationMs! >= 0);
      assert.equal(j.reason, "all jobs");
    }
    const build = out.jobs.find((j) => j.id === "build")!;
    // JUnit counts: a failing test in a report does not fail a job that exited 0.
    assert.deepEqual(build.tests, { passed: 2, failed: 1, skipped: 1 });
    assert.deepEqual(build.secrets, {});
    const fn = out.jobs.find((j) => j.id === "functional-aws-infra")!;
    assert.deepEqual(fn.secrets, { cloud: { CLOUD_TOKEN: 1 } });
    // The run is recorded as it was reported.
    assert.equal(project.runStatus(out.run), "passed");
    const logs = await project.logs(out.run);
    assert.match(logs.build!, /building version 1\.0\.1/);
    assert.match(
      logs["functional-scaleway-managed"]!,
      /functional scaleway managed with a token of 19 characters/,
    );
    assert.deepEqual(project.leftoverWorkspaces(), []);
  });

  test("--labels selects restricted jobs by tag and alias; public jobs run too", async () => {
    const r = await project.cli(["run", "--plain", "--labels", "test-aws-infra,test-scw-all"]);
    assert.equal(r.code, 0, show(r));
    const runId = runIdOf(r.stdout);
    const jobs = project.jobs(runId);
    const ran = Object.fromEntries(jobs.map((j) => [j.job_id, j.reason]));
    assert.deepEqual(Object.keys(ran).sort(), [
      "build",
      "functional-aws-infra",
      "functional-scaleway-infra",
      "functional-scaleway-managed",
      "lint",
    ]);
    assert.match(ran["functional-aws-infra"]!, /test-aws-infra/);
    assert.match(ran["functional-scaleway-managed"]!, /test-scw-all/);
    assert.match(ran.build!, /public job/);
    // The plain view: one line per event, then the summary table and the run line.
    assert.match(r.stdout, /^\d\d:\d\d:\d\d start {3}build$/m);
    assert.match(r.stdout, /^\d\d:\d\d:\d\d passed {2}build in \S+$/m);
    assert.match(r.stdout, /^JOB +RESULT +DURATION +TESTS +NOTE$/m);
    assert.match(r.stdout, /^build +passed +\S+ +2 passed, 1 failed, 1 skipped$/m);
    assert.match(r.stdout, /^functional-aws-infra +passed +\S+$/m);
    assert.doesNotMatch(r.stdout, /functional-aws-managed/);
    assert.match(
      r.stdout,
      new RegExp(`^run ${runId} passed \\(${sha.slice(0, 12)} on main\\)`, "m"),
    );
    // No job output without --output.
    assert.doesNotMatch(r.stdout, /building version/);
  });

  test("test-all selects every restricted job", async () => {
    const r = await project.cli(["run", "--json", "--labels", "test-all", "--job", "functional"]);
    assert.equal(r.code, 0, show(r));
    const out = JSON.parse(r.stdout) as RunJson;
    assert.deepEqual(out.jobs.map((j) => j.id).sort(), ["build", ...FUNCTIONAL].sort());
  });

  test("an unknown test label is an error naming it, and nothing runs", async () => {
    const before = project.query<{ n: number }>("select count(*) as n from runs")[0]!.n;
    const r = await project.cli(["run", "--labels", "test-aws-infra,test-gcp-infra"]);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /test-gcp-infra/);
    assert.match(r.stderr, /"gcp" is not a tag/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    assert.equal(r.stdout, "");
    assert.equal(project.query<{ n: number }>("select count(*) as n from runs")[0]!.n, before);
  });

  test("--job runs that job and what it needs, nothing else", async () => {
    const r = await project.cli(["run", "--json", "--job", "functional-aws-infra", "--output"]);
    assert.equal(r.code, 0, show(r));
    const out = JSON.parse(r.stdout) as RunJson;
    assert.deepEqual(out.jobs.map((j) => j.id).sort(), ["build", "functional-aws-infra"]);
    assert.match(out.jobs.find((j) => j.id === "build")!.reason, /needed by functional-aws-infra/);
    // With --json, the event lines and (with --output) job output go to stderr.
    assert.match(r.stderr, /^functional-aws-infra \| functional aws infra with a token/m);
  });

  test("airlock logs: the last run, one job of a run, and an unknown run", async () => {
    const r = await project.cli(["run", "--plain", "--job", "lint"]);
    const runId = runIdOf(r.stdout);
    const last = await project.cli(["logs"]);
    assert.equal(last.code, 0, show(last));
    assert.equal(last.stdout, "==> lint (passed) <==\nlint ok\n\n");
    // An older run, one job.
    const first = project.query<{ id: string }>(
      "select id from runs order by created_at limit 1",
    )[0]!;
    const one = await project.cli(["logs", first.id, "build"]);
    assert.equal(one.code, 0, show(one));
    assert.match(one.stdout, /^building version 1\.0\.1\n/);
    assert.doesNotMatch(one.stdout, /==>/);
    const unknown = await project.cli(["logs", "no-such-run"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no run "no-such-run"/);
    const noJob = await project.cli(["logs", runId, "nope"]);
    assert.equal(noJob.code, 2);
    assert.match(noJob.stderr, /has no job "nope"; its jobs: lint/);
  });

  test("without --dirty uncommitted changes are ignored; with it they run", async () => {
    project.write({ VERSION: "2.0.0-dirty\n" });
    try {
      const clean = await project.cli(["run", "--plain", "--output", "--job", "build"]);
      assert.equal(clean.code, 0, show(clean));
      assert.match(clean.stdout, /build \| building version 1\.0\.1$/m);
      assert.doesNotMatch(clean.stderr, /--dirty/);
      const dirty = await project.cli(["run", "--json", "--output", "--dirty", "--job", "build"]);
      assert.equal(dirty.code, 0, show(dirty));
      assert.match(dirty.stderr, /build \| building version 2\.0\.0-dirty$/m);
      assert.match(dirty.stderr, /--dirty: running uncommitted changes/);
      assert.equal((JSON.parse(dirty.stdout) as RunJson).notes.dirty, true);
    } finally {
      project.write({ VERSION: "1.0.1\n" });
    }
  });
});
