// `airlock run` on a real terminal: the live table is redrawn in place, and Ctrl-C (once, or
// twice to force) leaves a table whose every job has its final state: no stale "▶ running" row.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";
import { Project } from "../support/project.js";
import { screen } from "../support/screen.js";
import { spawnInTerminal } from "../support/terminal.js";

const PIPELINE = `version: 1
jobs:
  quick:
    run: echo quick
  long:
    run: |
      echo started
      sleep 60
  waiting:
    needs: [long]
    run: echo never
`;
const JOBS = ["quick", "long", "waiting"];

/** The rows of the job table on the final screen, by job id. */
function table(rows: string[]): Map<string, string[]> {
  const by = new Map<string, string[]>();
  for (const r of rows) {
    const m = /^ (\S) (\S+) /.exec(r);
    if (m && JOBS.includes(m[2]!)) by.set(m[2]!, [...(by.get(m[2]!) ?? []), r]);
  }
  return by;
}

describe("airlock run on a terminal", () => {
  const projects: Project[] = [];
  after(() => {
    for (const p of projects) p.cleanup();
  });

  for (const presses of [1, 2]) {
    test(`Ctrl-C ${presses === 1 ? "once" : "twice"}: every row ends in its final state`, async () => {
      const p = new Project({ files: { ".airlock.yml": PIPELINE } });
      projects.push(p);
      const t = spawnInTerminal(["run", "--concurrency", "2"], { cwd: p.repo, env: p.env() });
      try {
        await t.waitFor(/▶ long /);
        await t.waitFor(/✔ quick /);
        t.interrupt();
        if (presses === 2) {
          await t.waitFor(/cancelling/);
          t.interrupt();
        }
        assert.equal(await t.exited, 130, t.output());
      } finally {
        t.child.kill("SIGKILL");
      }
      const rows = screen(t.output());
      const shown = table(rows);
      for (const id of JOBS) {
        assert.equal(shown.get(id)?.length, 1, `one row for ${id}:\n${rows.join("\n")}`);
      }
      assert.ok(!rows.some((r) => r.includes("▶")), `a stale running row:\n${rows.join("\n")}`);
      assert.match(shown.get("quick")![0]!, /✔ quick +passed/);
      assert.match(shown.get("long")![0]!, /⊘ long +cancelled/);
      assert.equal(
        rows.filter((r) => r.includes("airlock: cancelling")).length,
        1,
        rows.join("\n"),
      );
      // The store agrees: nothing left running.
      const runs = p.query<{ id: string; status: string }>(
        "select id, status from runs order by created_at",
      );
      assert.equal(runs.length, 1);
      const run = runs.at(-1)!;
      assert.equal(run.status, "cancelled");
      const states = p.jobs(run.id).map((j) => j.state);
      assert.ok(!states.includes("running") && !states.includes("pending"), states.join(", "));
      assert.deepEqual(p.leftoverWorkspaces(), []);
    });
  }
});
