// `airlock run` and a job that a limit ends: the reason, from the cgroup's counters, in the
// terminal table, in --json and at the end of the log; a job asking for more than it may.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { show } from "../support/cli.js";
import { Project } from "../support/project.js";

const CONFIG = `version: 1
jobs:
  hog:
    run: x=$(head -c 300000000 /dev/zero | tr '\\0' a); echo "allocated \${#x}"
    limits: { memory: 64MiB }
  forks:
    run: sh -c 'i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); done'
    limits: { processes: 32 }
  greedy:
    run: x=$(head -c 300000000 /dev/zero | tr '\\0' a); echo "allocated \${#x}"
    limits: { memory: 8GiB }
`;

describe("airlock run: a limit ends a job", () => {
  let project: Project;
  before(() => {
    project = new Project({ files: { ".airlock.yml": CONFIG } });
  });
  after(() => project?.cleanup());

  test("the reason is in --json, at the end of the log, and in the table", async () => {
    const r = await project.cli(["run", "--json"]);
    assert.equal(r.code, 1, show(r));
    const out = JSON.parse(r.stdout) as {
      run: string;
      jobs: { id: string; result: string; notes: string[] }[];
    };
    const by = Object.fromEntries(out.jobs.map((j) => [j.id, j]));
    assert.equal(by.hog!.result, "failed");
    assert.equal(by.hog!.notes[0], "killed: out of memory (limit 64 MiB)");
    assert.equal(by.forks!.result, "failed");
    assert.equal(by.forks!.notes[0], "could not start a process: process limit 32 reached");
    const logs = await project.logs(out.run);
    assert.match(logs.hog!, /(^|\n)airlock: killed: out of memory \(limit 64 MiB\)\n/);
    assert.match(
      logs.forks!,
      /(^|\n)airlock: could not start a process: process limit 32 reached\n/,
    );

    const plain = await project.cli(["run", "--plain", "--job", "hog"]);
    assert.equal(plain.code, 1, show(plain));
    assert.match(plain.stdout, /^hog\s+failed\s+\S+\s+killed: out of memory \(limit 64 MiB\)/m);
  });

  test("with -c, the serve config's maximum holds whatever .airlock.yml asks for", async () => {
    const serve = path.join(project.root, "serve.yml");
    writeFileSync(serve, "limits:\n  max: { memory: 64MiB }\n");
    const r = await project.cli(["run", "--json", "--job", "greedy", "-c", serve]);
    assert.equal(r.code, 1, show(r));
    const out = JSON.parse(r.stdout) as { run: string; jobs: { id: string; notes: string[] }[] };
    // (The pipe's other process may be counted as a leftover too.)
    assert.equal(out.jobs[0]!.notes[0], "killed: out of memory (limit 64 MiB)");
    const log = (await project.logs(out.run)).greedy!;
    assert.match(
      log,
      /^airlock: limits\.memory 8 GiB is above this server's maximum: the job gets 64 MiB\n/,
    );
  });
});
