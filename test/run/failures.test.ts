// `airlock run` when things go wrong: failing, skipped and timed-out jobs, --fail-fast, bad
// configuration, no repository, --no-sandbox, and no bubblewrap.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { type CliResult, show, WITHOUT_BWRAP } from "../support/cli.js";
import { Project } from "../support/project.js";

const FAILING = `version: 1
jobs:
  ok:
    run: echo ok
  broken:
    run: |
      echo about to fail
      exit 3
  after-broken:
    needs: [broken]
    run: echo never
  slow:
    timeout: 1s
    run: |
      echo sleeping
      sleep 30
  killed:
    run: |
      echo "about to be killed"
      kill -KILL $$
`;

interface RunJson {
  run: string;
  status: string;
  jobs: {
    id: string;
    result: string;
    reason: string;
    exitCode: number | null;
    endReason: string;
    lastLine: string | null;
    durationMs: number | null;
  }[];
}

const noStack = (r: CliResult) => assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");

describe("airlock run: failures", () => {
  let project: Project;
  before(() => {
    project = new Project({ files: { ".airlock.yml": FAILING } });
  });
  after(() => project?.cleanup());

  test("a failed job fails the run (exit 1); its dependents are skipped with the reason; a timeout is timed_out", async () => {
    const r = await project.cli(["run", "--json", "--concurrency", "2"]);
    assert.equal(r.code, 1, show(r));
    const out = JSON.parse(r.stdout) as RunJson;
    assert.equal(out.status, "failed");
    const by = Object.fromEntries(out.jobs.map((j) => [j.id, j]));
    assert.equal(by.ok!.result, "passed");
    assert.equal(by.broken!.result, "failed");
    assert.equal(by["after-broken"]!.result, "skipped");
    assert.match(by["after-broken"]!.reason, /broken/);
    assert.equal(by["after-broken"]!.durationMs, null);
    // Why each ended, and what it said last.
    assert.equal(by.broken!.exitCode, 3);
    assert.equal(by.broken!.endReason, "exit code 3");
    assert.equal(by.broken!.lastLine, "about to fail");
    assert.equal(by.ok!.endReason, "");
    assert.equal(by.ok!.lastLine, null);
    assert.equal(by.slow!.endReason, "timed out after 1s");
    assert.equal(by.slow!.lastLine, "sleeping");
    assert.equal(by.killed!.result, "failed");
    assert.equal(by.killed!.endReason, "killed by SIGKILL (exit code 137)");
    assert.equal(by.killed!.lastLine, "about to be killed");
    assert.equal(by.slow!.result, "timed_out");
    assert.ok(
      by.slow!.durationMs! >= 1000 && by.slow!.durationMs! < 15_000,
      `${by.slow!.durationMs}`,
    );
    const rows = Object.fromEntries(project.jobs(out.run).map((j) => [j.job_id, j]));
    assert.equal(rows.broken!.exit_code, 3);
    assert.equal(project.runStatus(out.run), "failed");
    const logs = await project.logs(out.run);
    assert.match(logs.slow!, /sleeping\n/);
    assert.match(logs.slow!, /timed out after 1s/);
    assert.equal(logs["after-broken"], undefined, "a skipped job never started");
    assert.deepEqual(project.leftoverWorkspaces(), []);
  });

  test("the plain summary shows each result and the skip reason", async () => {
    const r = await project.cli(["run", "--plain", "--job", "after-broken"]);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stdout, /^broken +failed +\S+/m);
    assert.match(r.stdout, /^after-broken +skipped +- +.*broken/m);
    // The reason, and the job's last line under its row.
    assert.match(r.stdout, /^broken +failed +\S+ +exit code 3\n {2}└ about to fail$/m);
    assert.match(r.stdout, /^run \S+ failed /m);
  });

  test("--fail-fast stops the run at the first failure", async () => {
    const r = await project.cli([
      "run",
      "--json",
      "--fail-fast",
      "--concurrency",
      "1",
      "--job",
      "broken",
      "--job",
      "slow",
    ]);
    assert.equal(r.code, 1, show(r));
    const out = JSON.parse(r.stdout) as RunJson;
    const by = Object.fromEntries(out.jobs.map((j) => [j.id, j]));
    assert.equal(by.broken!.result, "failed");
    // slow was never started (or was stopped), so it did not reach its timeout.
    assert.ok(["cancelled", "skipped"].includes(by.slow!.result), by.slow!.result);
    assert.notEqual(by.slow!.reason, "");
    assert.notEqual(by.slow!.endReason, "timed out after 1s");
    const logs = await project.logs(out.run);
    assert.doesNotMatch(logs.slow ?? "", /timed out/);
  });
});

describe("airlock run: refusals with one clear message", () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test("a configuration error names file:line:col and the fix, without a stack trace", async () => {
    const p = new Project({
      files: {
        ".airlock.yml":
          "version: 1\njobs:\n  build:\n    run: make\n  deploy:\n    needs: [biuld]\n    run: make deploy\n",
      },
    });
    try {
      const r = await p.cli(["run"]);
      assert.equal(r.code, 2, show(r));
      assert.match(r.stderr, /\.airlock\.yml:6:\d+/);
      assert.match(r.stderr, /jobs\.deploy\.needs\[0\]/);
      assert.match(r.stderr, /did you mean "build"/);
      noStack(r);
      assert.ok(!existsSync(path.join(p.dataDir, "logs")), "nothing ran");
    } finally {
      p.cleanup();
    }
  });

  test("a hostile .airlock.yml, committed or not, is refused with its position and no stack", async () => {
    const deep = `version: 1\njobs:\n  a:\n    run: x\n    env:\n      X: ${"{k: ".repeat(2000)}v${"}".repeat(2000)}\n`;
    const huge = `version: 1\njobs:\n  a:\n    run: x\n${`# ${"z".repeat(98)}\n`.repeat(11_000)}`;
    const p = new Project({ files: { ".airlock.yml": deep } });
    try {
      const committed = await p.cli(["run"]);
      assert.equal(committed.code, 2, show(committed));
      assert.match(
        committed.stderr,
        /\.airlock\.yml:5:\d+: configuration rejected: nested deeper than 64 levels/,
      );
      noStack(committed);
      p.write({ ".airlock.yml": huge });
      const dirty = await p.cli(["run", "--dirty"]);
      assert.equal(dirty.code, 2, show(dirty));
      assert.match(
        dirty.stderr,
        /configuration rejected: the file is 111\d{4} bytes, over the limit of 1048576/,
      );
      p.commit({ ".airlock.yml": huge });
      const big = await p.cli(["run"]);
      assert.equal(big.code, 2, show(big));
      assert.match(
        big.stderr,
        /\.airlock\.yml: configuration rejected: the file is 111\d{4} bytes/,
      );
      for (const r of [committed, dirty, big]) {
        noStack(r);
        assert.doesNotMatch(r.stderr, /unexpected error/i);
      }
      assert.ok(!existsSync(path.join(p.dataDir, "logs")), "nothing ran");
    } finally {
      p.cleanup();
    }
  });

  test("outside a git repository: a clear message", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "airlock-e2e-nogit-"));
    dirs.push(dir);
    const p = new Project({ files: { ".airlock.yml": FAILING } });
    try {
      const r = await p.cli(["run", "-C", dir], { cwd: dir });
      assert.equal(r.code, 2, show(r));
      assert.match(r.stderr, /is not inside a git repository/);
      noStack(r);
    } finally {
      p.cleanup();
    }
  });
});

const MIXED = `version: 1
secrets:
  cloud: {}
jobs:
  public:
    run: echo "public ran"
  restricted:
    secrets: [cloud]
    run: echo "restricted ran"
`;

describe("airlock run: --no-sandbox and a missing bubblewrap", () => {
  let project: Project;
  before(async () => {
    project = new Project({ files: { ".airlock.yml": MIXED } });
    await project.setSecret("cloud", "TOKEN", "tok_0123456789");
  });
  after(() => project?.cleanup());

  test("--no-sandbox warns loudly, runs public jobs, and refuses restricted ones", async () => {
    const r = await project.cli(["run", "--json", "--no-sandbox"]);
    assert.match(r.stderr, /--no-sandbox: public jobs run as you, with your files, your network/);
    const out = JSON.parse(r.stdout) as RunJson & { jobs: { error: string | null }[] };
    const by = Object.fromEntries(out.jobs.map((j) => [j.id, j]));
    assert.equal(by.public!.result, "passed");
    // The warning and `--help` promise that restricted jobs refuse under --no-sandbox.
    assert.notEqual(by.restricted!.result, "passed", "a restricted job ran under --no-sandbox");
    assert.equal(r.code, 1, show(r));
  });

  /** The CLI in a mount namespace where /usr/bin/bwrap is not executable (as if not installed). */
  const withoutBwrap = (args: string[]) =>
    project.cli(args, {
      env: project.env(),
      cwd: project.repo,
      wrap: WITHOUT_BWRAP,
    });

  test("without bubblewrap, a run with restricted jobs refuses and says how to install it", async () => {
    const r = await withoutBwrap(["run", "--plain"]);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /apt-get install -y bubblewrap/);
    assert.doesNotMatch(r.stdout, /restricted ran|public ran/);
    noStack(r);
    const nsb = await withoutBwrap(["run", "--plain", "--no-sandbox"]);
    assert.equal(nsb.code, 2, show(nsb));
    assert.match(nsb.stderr, /restricted jobs need the bubblewrap sandbox/);
    assert.match(nsb.stderr, /apt-get install -y bubblewrap/);
  });

  test("without bubblewrap, public jobs still run with --no-sandbox", async () => {
    const r = await withoutBwrap(["run", "--plain", "--output", "--no-sandbox", "--job", "public"]);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /public \| public ran/);
  });
});
