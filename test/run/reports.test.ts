// JUnit reports through `airlock run`: what they say is what the user sees. A report that cannot
// be read makes the job an error with the parser's words; a suite's skipped total counts even
// when the reporter leaves pending tests out; report paths stay inside the workspace.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { show } from "../support/cli.js";
import { Project } from "../support/project.js";

const PIPELINE = `version: 1
jobs:
  malformed:
    run: |
      mkdir -p reports
      printf '<testsuite name="unit"><testcase name="a">\\n<failure>\\n</testsuite>\\n' > reports/unit.xml
    reports: [reports/*.xml]
  pending:
    run: |
      mkdir -p reports
      cat > reports/mocha.xml <<'XML'
      <testsuites name="Mocha Tests" tests="4" failures="0" skipped="2">
        <testsuite name="app" tests="4" failures="0" skipped="2">
          <testcase name="one"/><testcase name="two"/>
        </testsuite>
      </testsuites>
      XML
    reports: [reports/*.xml]
  missing:
    run: echo "wrote no report"
    reports: [out/*.xml]
  stale:
    run: echo "wrote no report either"
    reports: [old/*.xml]
`;

const STALE =
  '<testsuite name="old"><testcase name="was"><failure message="old failure"/></testcase></testsuite>';

interface RunJson {
  run: string;
  status: string;
  jobs: {
    id: string;
    result: string;
    error: string | null;
    notes: string[];
    tests: { passed: number; failed: number; skipped: number };
  }[];
}

describe("airlock run: reports", () => {
  let p: Project;
  let out: RunJson;
  before(async () => {
    // A report committed from an earlier run: it is in every checkout, but no job wrote it.
    p = new Project({ files: { ".airlock.yml": PIPELINE, "old/junit.xml": STALE } });
    const r = await p.cli(["run", "--json"]);
    assert.equal(r.code, 1, show(r));
    out = JSON.parse(r.stdout) as RunJson;
  });
  after(() => p?.cleanup());

  test("a malformed report makes a passing job an error, with the parser's message", () => {
    const j = out.jobs.find((x) => x.id === "malformed")!;
    assert.equal(j.result, "error");
    assert.match(
      j.error ?? "",
      /^report reports\/unit\.xml: not well-formed XML at line \d+, column \d+: /,
    );
    assert.deepEqual(j.tests, { passed: 0, failed: 0, skipped: 0 });
    assert.equal(out.status, "error");
  });

  test("a suite's skipped total counts the pending tests it does not list", () => {
    const j = out.jobs.find((x) => x.id === "pending")!;
    assert.equal(j.result, "passed");
    assert.deepEqual(j.tests, { passed: 2, failed: 0, skipped: 2 });
  });

  test("a configured report that never appears is a warning on the job", () => {
    const j = out.jobs.find((x) => x.id === "missing")!;
    assert.equal(j.result, "passed");
    assert.deepEqual(j.notes, ["warning: no report matched out/*.xml"]);
  });

  test("a report that was there before the job started never counts", async () => {
    const j = out.jobs.find((x) => x.id === "stale")!;
    assert.equal(j.result, "passed");
    assert.deepEqual(j.tests, { passed: 0, failed: 0, skipped: 0 });
    assert.deepEqual(j.notes, ["warning: no report matched old/*.xml"]);
    const logs = await p.logs(out.run);
    assert.match(
      logs.stale!,
      /airlock: report skipped: old\/junit\.xml: there before the job started and not rewritten by it, so not counted/,
    );
  });

  test("the terminal summary says it too", async () => {
    const r = await p.cli(["run", "--plain"]);
    assert.match(r.stdout, /^malformed +error .*report reports\/unit\.xml: not well-formed XML/m);
    assert.match(r.stdout, /^pending +passed +\S+ +2 passed, 0 failed, 2 skipped/m);
    assert.match(r.stdout, /^missing +passed +\S+ +warning: no report matched out\/\*\.xml$/m);
  });

  test("a report path outside the workspace is a config error at its line", async () => {
    const q = new Project({
      files: { ".airlock.yml": "version: 1\njobs:\n  a:\n    run: x\n    reports: [../x.xml]\n" },
    });
    try {
      const r = await q.cli(["run", "--plain"]);
      assert.equal(r.code, 2, show(r));
      assert.match(
        r.stderr,
        /\.airlock\.yml:5:15: jobs\.a\.reports\[0\]: report paths must stay inside the workspace: "\.\.\/x\.xml" climbs out/,
      );
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    } finally {
      q.cleanup();
    }
  });
});
