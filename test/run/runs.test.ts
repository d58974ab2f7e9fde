// `airlock runs`: past runs from the real store, newest first, with filters and --json.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { show } from "../support/cli.js";
import { Project, runIdOf } from "../support/project.js";

const PIPELINE = `version: 1
jobs:
  lint:
    run: echo lint ok
  unit:
    run: exit 3
`;

interface RunListing {
  id: string;
  status: string;
  sha: string;
  ref: string | null;
  createdAt: string;
  durationMs: number | null;
  jobs: Record<string, number>;
}

describe("airlock runs", () => {
  let p: Project;
  let passed: string;
  let failed: string;
  before(async () => {
    p = new Project({ files: { ".airlock.yml": PIPELINE } });
    const empty = await p.cli(["runs"]);
    assert.equal(empty.code, 0, show(empty));
    assert.match(empty.stdout, /^no runs yet in .*: start one with airlock run\n$/);
    const a = await p.cli(["run", "--plain", "--job", "lint"]);
    assert.equal(a.code, 0, show(a));
    passed = runIdOf(a.stdout);
    const b = await p.cli(["run", "--plain"]);
    assert.equal(b.code, 1, show(b));
    failed = runIdOf(b.stdout);
  });
  after(() => p?.cleanup());

  test("lists runs newest first, with their jobs counted by state", async () => {
    const r = await p.cli(["runs"]);
    assert.equal(r.code, 0, show(r));
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^RUN +STATUS +COMMIT +REF +JOBS +CREATED \(UTC\) +DURATION$/);
    assert.equal(lines.length, 3, r.stdout);
    assert.match(
      lines[1]!,
      new RegExp(`^${failed} +failed +[0-9a-f]{12} +main +1 passed, 1 failed `),
    );
    assert.match(lines[2]!, new RegExp(`^${passed} +passed +[0-9a-f]{12} +main +1 passed `));
  });

  test("filters by status and by job, and limits", async () => {
    const f = await p.cli(["runs", "--status", "failed"]);
    assert.equal(f.code, 0, show(f));
    assert.ok(f.stdout.includes(failed) && !f.stdout.includes(passed), f.stdout);
    const j = await p.cli(["runs", "--job", "unit"]);
    assert.ok(j.stdout.includes(failed) && !j.stdout.includes(passed), j.stdout);
    const none = await p.cli(["runs", "--job", "nope"]);
    assert.match(none.stdout, /^no runs in .* match these filters\n$/);
    const one = await p.cli(["runs", "-n", "1"]);
    assert.ok(one.stdout.includes(failed) && !one.stdout.includes(passed), one.stdout);
    assert.match(one.stderr, /older runs match too: raise --limit/);
  });

  test("--json gives the same runs, machine-readable", async () => {
    const r = await p.cli(["runs", "--json"]);
    assert.equal(r.code, 0, show(r));
    const list = JSON.parse(r.stdout) as RunListing[];
    assert.deepEqual(
      list.map((x) => [x.id, x.status, x.jobs]),
      [
        [failed, "failed", { passed: 1, failed: 1 }],
        [passed, "passed", { passed: 1 }],
      ],
    );
    assert.equal(list[0]!.ref, "main");
    assert.match(list[0]!.sha, /^[0-9a-f]{40}$/);
    assert.ok(!Number.isNaN(Date.parse(list[0]!.createdAt)));
    assert.equal(typeof list[0]!.durationMs, "number");
  });

  test("a bad filter is one line naming the choices", async () => {
    const r = await p.cli(["runs", "--status", "green"]);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, /--status takes one of queued, running, passed, failed/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    const n = await p.cli(["runs", "--pr", "x1"]);
    assert.equal(n.code, 2, show(n));
    assert.match(n.stderr, /--pr takes a pull request number, not "x1"/);
  });
});
