// `airlock run` with `executor.gitlab`, end to end through the CLI against the GitLab test double:
// restricted jobs become one pipeline (public jobs still run in the local sandbox), its jobs'
// results become the run's, the dispatch token verifies with `airlock verify-dispatch`, an empty
// selection never triggers, Ctrl-C cancels the pipeline, and the GitLab tokens stay secret.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { fileUrl, makeBareRepo } from "../../suite/repos.js";
import { collect, show } from "../../support/cli.js";
import { PATIENCE_MS } from "../../support/patience.js";
import { filesUnder, git, Project } from "../../support/project.js";
import { GitLabDouble } from "./double.js";

const TRIGGER = "glptt-run-5f4e3d2c1b0a9988";
const API = "glpat-run-Aa1Bb2Cc3Dd4Ee5";
const CLOUD = "cl0ud-n0t-f0r-local-use";

let gl: GitLabDouble;
let p: Project;
let sha: string;
const suiteRoot = mkdtempSync(path.join(os.tmpdir(), "airlock-gitlab-suite-"));
const suiteShas = makeBareRepo(path.join(suiteRoot, "suite.git"), ["main", "feature/x"]);

function pipeline(url: string, suite: string): string {
  return `version: 1
secrets:
  cloud: {}
  gitlab: {}
suite:
  url: ${suite}
  match_branch: true
executor:
  gitlab:
    url: ${url}
    project: team/functional-tests
    ref: main
    secrets: gitlab
jobs:
  unit:
    run: |
      echo "unit ran locally"
      echo "gitlab-token=\${GITLAB_API_TOKEN:-unset} trigger=\${GITLAB_TRIGGER_TOKEN:-unset}"
  functional:
    needs: [unit]
    matrix:
      provider: [aws, scw]
    name: \${provider}
    tags: ["\${provider}"]
    secrets: [cloud]
    run: echo "this never runs on this machine"
`;
}

interface RunJson {
  run: string;
  status: string;
  notes: Record<string, unknown>;
  jobs: { id: string; result: string; error: string | null; secrets: Record<string, unknown> }[];
}

before(async () => {
  gl = await new GitLabDouble(TRIGGER, API).start();
  p = new Project({
    files: { ".airlock.yml": pipeline(gl.url, fileUrl(path.join(suiteRoot, "suite.git"))) },
  });
  git(p.repo, "checkout", "-q", "-b", "feature/x");
  sha = p.commit({ VERSION: "2\n" }, "bump");
  await p.setSecrets("gitlab", [
    { key: "GITLAB_TRIGGER_TOKEN", value: TRIGGER },
    { key: "GITLAB_API_TOKEN", value: API },
  ]);
  await p.setSecret("cloud", "CLOUD_TOKEN", CLOUD);
});
after(async () => {
  await gl?.close();
  p?.cleanup();
  rmSync(suiteRoot, { recursive: true, force: true });
});
beforeEach(() => {
  gl.script = [{ status: "success", jobs: [] }];
});

/** No form of a GitLab token anywhere the run left something. */
async function assertTokensHidden(out: { stdout: string; stderr: string }) {
  for (const token of [TRIGGER, API]) {
    assert.ok(!out.stdout.includes(token) && !out.stderr.includes(token), "token in the output");
    for (const file of filesUnder(p.root)) {
      assert.ok(!readFileSync(file).includes(token), `GitLab token in ${file}`);
    }
  }
}

describe("airlock run with executor.gitlab", () => {
  test("restricted jobs run as a GitLab pipeline, public ones locally; results come back", async () => {
    gl.script = [
      {
        status: "failed",
        jobs: [
          { name: "verify-dispatch", stage: "verify", status: "success", duration: 1 },
          { name: "functional-aws", status: "success", duration: 12.5 },
          { name: "functional-scw", status: "failed", duration: 3 },
        ],
      },
    ];
    const before = gl.triggers.length;
    const r = await p.cli(["run", "--json"]);
    assert.equal(r.code, 1, show(r));
    const out = JSON.parse(r.stdout) as RunJson;
    assert.equal(out.status, "failed");
    assert.deepEqual(out.notes.executors, {
      local: ["unit"],
      gitlab: ["functional-aws", "functional-scw"],
    });
    const result = Object.fromEntries(out.jobs.map((j) => [j.id, j.result]));
    assert.deepEqual(result, {
      unit: "passed",
      "functional-aws": "passed",
      "functional-scw": "failed",
    });
    // Nothing was granted here: the private side holds the restricted jobs' secrets.
    for (const j of out.jobs) assert.deepEqual(j.secrets, {});

    // One pipeline for both restricted jobs, with the documented variables.
    assert.equal(gl.triggers.length, before + 1);
    const t = gl.triggers.at(-1)!;
    // The run's branch matched a suite branch: the private pipeline runs on it.
    assert.equal(t.ref, "feature/x");
    assert.equal(t.project, "team/functional-tests");
    assert.equal(t.variables.AIRLOCK_SUITE_REF, "feature/x");
    assert.equal(t.variables.AIRLOCK_SUITE_SHA, suiteShas["feature/x"]);
    assert.deepEqual(out.notes.suite, {
      url: fileUrl(path.join(suiteRoot, "suite.git")),
      ref: "feature/x",
      sha: suiteShas["feature/x"],
      matched: true,
    });
    assert.equal(t.variables.AIRLOCK_TESTS, "functional-aws,functional-scw");
    assert.deepEqual(JSON.parse(t.variables.AIRLOCK_TESTS_JSON!), [
      "functional-aws",
      "functional-scw",
    ]);
    assert.equal(t.variables.AIRLOCK_SOURCE_SHA, sha);
    assert.equal(t.variables.AIRLOCK_SOURCE_BRANCH, "feature/x");
    assert.equal(t.variables.AIRLOCK_RUN_ID, out.run);
    assert.deepEqual(gl.violations, []);

    // The public job ran here, and got no GitLab token.
    const logs = await p.logs(out.run);
    assert.match(logs.unit!, /unit ran locally/);
    assert.match(logs.unit!, /gitlab-token=unset trigger=unset/);
    assert.match(logs["functional-aws"]!, /pipeline \d+ failed/);
    assert.doesNotMatch(logs["functional-aws"]!, /this never runs/);

    // The private pipeline's first job verifies the dispatch with the published key.
    const key = await p.cli(["dispatch-key"]);
    assert.equal(key.code, 0, show(key));
    const keyFile = path.join(p.root, "dispatch.pem");
    writeFileSync(keyFile, key.stdout);
    const verified = await p.cli(["verify-dispatch", "--public-key", keyFile], {
      env: p.env({ ...t.variables, CI_COMMIT_REF_NAME: t.ref }),
    });
    assert.equal(verified.code, 0, show(verified));
    assert.equal(verified.stdout.trim(), "functional-aws,functional-scw");
    // Re-targeted at another commit: refused.
    const moved = await p.cli(["verify-dispatch", "--public-key", keyFile], {
      env: p.env({ ...t.variables, AIRLOCK_SOURCE_SHA: "f".repeat(40) }),
    });
    assert.notEqual(moved.code, 0, show(moved));

    await assertTokensHidden(r);
  });

  test("an all-green pipeline makes a passing run", async () => {
    gl.script = [
      {
        status: "success",
        jobs: [
          { name: "functional-aws", status: "success" },
          { name: "functional-scw", status: "success" },
        ],
      },
    ];
    const r = await p.cli(["run", "--json", "--labels", "test-aws"]);
    assert.equal(r.code, 0, show(r));
    const out = JSON.parse(r.stdout) as RunJson;
    assert.deepEqual(
      out.jobs.map((j) => [j.id, j.result]),
      [
        ["unit", "passed"],
        ["functional-aws", "passed"],
      ],
    );
    assert.equal(gl.triggers.at(-1)!.variables.AIRLOCK_TESTS, "functional-aws");
  });

  test("an empty selection never triggers a pipeline", async () => {
    const before = gl.triggers.length;
    const bad = await p.cli(["run", "--json", "--labels", "test-gcp"]);
    assert.notEqual(bad.code, 0, show(bad));
    assert.match(bad.stderr, /test-gcp/);
    const publicOnly = await p.cli(["run", "--json", "--job", "unit"]);
    assert.equal(publicOnly.code, 0, show(publicOnly));
    assert.equal(gl.triggers.length, before);
  });

  test("Ctrl-C cancels the pipeline", async () => {
    gl.script = [{ status: "running", jobs: [{ name: "functional-aws", status: "running" }] }];
    const before = gl.triggers.length;
    const child = p.spawn(["run", "--plain"]);
    const done = collect(child);
    const until = Date.now() + PATIENCE_MS;
    while (gl.triggers.length === before && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(gl.triggers.length, before + 1, "the pipeline was triggered");
    const id = gl.triggers.at(-1)!.pipelineId;
    // Let the executor see the pipeline running before the interrupt.
    while (gl.pipeline(id)!.gets === 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGINT");
    const r = await done;
    assert.equal(r.code, 130, show(r));
    assert.ok(gl.cancels.includes(id), "the pipeline was cancelled");
    const run = p.query<{ id: string; status: string }>(
      "select id, status from runs order by created_at desc limit 1",
    )[0]!;
    assert.equal(run.status, "cancelled");
    const states = p.jobs(run.id).map((j) => [j.job_id, j.state]);
    assert.deepEqual(states, [
      ["unit", "passed"],
      ["functional-aws", "cancelled"],
      ["functional-scw", "cancelled"],
    ]);
    await assertTokensHidden(r);
  });
});
