// Ctrl-C during `airlock run`: the CLI exits 130, the run is recorded as cancelled, no process
// of the job survives, and every workspace is removed.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type CliResult, collect, show } from "../support/cli.js";
import { Project } from "../support/project.js";

const MARK = `airlock-cancel-${randomBytes(6).toString("hex")}`;

const PIPELINE = `version: 1
jobs:
  long:
    env: { MARK: ${MARK} }
    run: |
      sh -c 'sleep 60' "$MARK-child" &
      echo started
      sleep 60
  waiting:
    needs: [long]
    run: echo never
`;

/** Host pids whose command line holds the marker (the sandbox's PID namespace is visible here). */
function marked(): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(`${MARK}-child`)) {
        pids.push(Number(pid));
      }
    } catch {}
  }
  return pids;
}

describe("airlock run: Ctrl-C", () => {
  let project: Project;
  let result: CliResult;
  let runningBefore: number[] = [];
  let workspacesWhileRunning: string[] = [];

  before(async () => {
    project = new Project({ files: { ".airlock.yml": PIPELINE } });
    const child = project.spawn(["run", "--plain", "--output", "--concurrency", "1"]);
    const done = collect(child, 30_000);
    let out = "";
    child.stdout!.on("data", (s: string) => {
      out += s;
    });
    const t0 = Date.now();
    while (!out.includes("long | started")) {
      if (Date.now() - t0 > 20_000) throw new Error(`the job did not start:\n${out}`);
      await sleep(50);
    }
    runningBefore = marked();
    workspacesWhileRunning = project.leftoverWorkspaces();
    child.kill("SIGINT");
    result = await done;
  });
  after(() => project?.cleanup());

  test("the CLI says it is cancelling and exits 130", () => {
    assert.equal(result.code, 130, show(result));
    assert.match(result.stderr, /cancelling/);
  });

  test("the run and its jobs are recorded as cancelled", () => {
    const run = project.query<{ id: string; status: string }>("select id, status from runs");
    assert.equal(run.length, 1);
    assert.equal(run[0]!.status, "cancelled");
    const jobs = Object.fromEntries(project.jobs(run[0]!.id).map((j) => [j.job_id, j]));
    assert.equal(jobs.long!.state, "cancelled");
    assert.ok(["cancelled", "skipped"].includes(jobs.waiting!.state), jobs.waiting!.state);
  });

  test("no process of the job is left", async () => {
    assert.ok(runningBefore.length > 0, "the marked process was not seen while the job ran");
    let left = marked();
    // Let the kernel finish reaping the namespace, briefly.
    for (let i = 0; i < 20 && left.length > 0; i++) {
      await sleep(100);
      left = marked();
    }
    assert.deepEqual(left, [], `processes left: ${left.join(", ")}`);
  });

  test("the workspaces are removed", () => {
    assert.equal(
      workspacesWhileRunning.length,
      1,
      "the run's workspace root was not where expected",
    );
    assert.deepEqual(project.leftoverWorkspaces(), []);
  });
});
