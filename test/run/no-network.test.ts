// A job without network that fails on a network error ends with a plain hint, in its log and
// its result; a job with network, or one that fails for another reason, gets none.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { show } from "../support/cli.js";
import { Project } from "../support/project.js";

// bash's /dev/tcp: a real connection attempt, no tool needed in the sandbox.
const CONNECT = "exec 3<>/dev/tcp/192.0.2.1/443";
const CONFIG = `version: 1
jobs:
  fetch:
    run: ${JSON.stringify(CONNECT)}
  plain-failure:
    run: echo broken; exit 1
  online:
    network: true
    run: echo 'connect ECONNREFUSED 127.0.0.1:9'; exit 1
`;

describe("no network, said plainly", () => {
  let project: Project;
  before(() => {
    project = new Project({ files: { ".airlock.yml": CONFIG } });
  });
  after(() => project?.cleanup());

  test("the log and the result of the job name the fix", async () => {
    const r = await project.cli(["run", "--json"]);
    assert.equal(r.code, 1, show(r));
    const out = JSON.parse(r.stdout) as {
      run: string;
      jobs: { id: string; result: string; notes: string[] }[];
    };
    const by = Object.fromEntries(out.jobs.map((j) => [j.id, j]));
    const hint = "this job has no network: add `network: true` to jobs.fetch";
    assert.equal(by.fetch!.result, "failed");
    assert.deepEqual(by.fetch!.notes, [hint]);
    const logs = await project.logs(out.run);
    assert.match(logs.fetch!, /[Nn]etwork is unreachable/);
    assert.ok(logs.fetch!.endsWith(`\nairlock: ${hint}\n`), logs.fetch);
    assert.deepEqual(by["plain-failure"]!.notes, []);
    assert.deepEqual(by.online!.notes, []);
  });
});
