// Caches through `airlock run` on your own checkout (a trusted run): the first run saves, the
// next restores the exact key and saves nothing; a changed lock file falls back on a restore
// key and saves under its new key; a job that fails saves nothing.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { show } from "../support/cli.js";
import { Project } from "../support/project.js";

const PIPELINE = `version: 1
jobs:
  deps:
    run: |
      ls node_modules ~/.npm 2>/dev/null || echo "cold"
      mkdir -p node_modules ~/.npm
      echo "$(cat deps.lock)" > node_modules/from-$(cat deps.lock)
      echo cached > ~/.npm/index
      test ! -e fail
    cache:
      key: deps-{{ hash "deps.lock" }}
      restore_keys: [deps-]
      paths: [node_modules, ~/.npm]
`;

describe("airlock run: cache", () => {
  let p: Project;
  before(() => {
    p = new Project({ files: { ".airlock.yml": PIPELINE, "deps.lock": "one\n" } });
  });
  after(() => p?.cleanup());

  const logOf = async () => {
    const r = await p.cli(["run"]);
    const log = await p.cli(["logs"]);
    return { r, log: `${log.stdout}${log.stderr}` };
  };

  test("saved by the first run, restored by the next, refreshed through a restore key", async () => {
    const first = await logOf();
    assert.equal(first.r.code, 0, show(first.r));
    assert.match(first.log, /^cold$/m);
    assert.match(first.log, /airlock: cache: no entry for deps-[0-9a-f]{20}/);
    assert.match(first.log, /airlock: cache: saved deps-/);

    const second = await logOf();
    assert.equal(second.r.code, 0, show(second.r));
    assert.doesNotMatch(second.log, /^cold$/m);
    assert.match(second.log, /^from-one$/m);
    assert.match(second.log, /^index$/m);
    assert.match(second.log, /restored deps-\S+ \(exact key, saved by trusted/);
    assert.match(second.log, /was restored exactly: not saved again/);

    p.commit({ "deps.lock": "two\n" });
    const third = await logOf();
    assert.match(third.log, /\(restore key, saved by trusted/);
    assert.match(third.log, /^from-one$/m);
    assert.match(third.log, /airlock: cache: saved deps-/);

    // A failing job saves nothing (as GitHub Actions and GitLab by default).
    p.commit({ "deps.lock": "three\n", fail: "" });
    const failed = await logOf();
    assert.equal(failed.r.code, 1, show(failed.r));
    assert.doesNotMatch(failed.log, /cache: saved/);
  });
});
