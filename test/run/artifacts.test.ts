// Artifacts through `airlock run`: a job keeps its `artifacts:`, the job that needs it finds them
// in its workspace (an executable stays executable), and nothing it did not ask for comes along.
import assert from "node:assert/strict";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { show } from "../support/cli.js";
import { Project } from "../support/project.js";

const PIPELINE = `version: 1
jobs:
  build:
    run: |
      mkdir -p dist/bin coverage
      printf '#!/bin/sh\\necho hello from dist\\n' > dist/bin/hello && chmod +x dist/bin/hello
      echo '{"lines": 97}' > coverage/summary.json
      echo stray > not-kept.txt
    artifacts: [dist/**, coverage/]
  test:
    needs: [build]
    run: ./dist/bin/hello && cat coverage/summary.json && test ! -e not-kept.txt
`;

describe("airlock run: artifacts", () => {
  let p: Project;
  before(() => {
    p = new Project({ files: { ".airlock.yml": PIPELINE } });
  });
  after(() => p?.cleanup());

  test("kept by the job that declares them, received by the job that needs it", async () => {
    const r = await p.cli(["run"]);
    assert.equal(r.code, 0, show(r));
    const log = await p.cli(["logs"]);
    assert.match(log.stdout, /airlock: artifacts: kept 2 files \(\d+ bytes\)/);
    assert.match(log.stdout, /airlock: artifacts: received 2 files \(\d+ bytes\) from build/);
    assert.match(log.stdout, /^hello from dist$/m);
    assert.match(log.stdout, /^\{"lines": 97\}$/m);
    // Under the data directory, which no job can see.
    const [run] = readdirSync(path.join(p.dataDir, "artifacts")).filter((d) => !d.startsWith("."));
    const files = path.join(p.dataDir, "artifacts", run!, "build", "files");
    assert.ok(statSync(path.join(files, "dist/bin/hello")).isFile());
    assert.ok(!existsSync(path.join(files, "not-kept.txt")));
  });
});
