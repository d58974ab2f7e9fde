// Which pipeline `airlock run` runs, and what it copies: the repository root's .airlock.yml from
// a subfolder; the committed one, with a warning, when the working tree's differs; --dirty
// without what git ignores unless --include-ignored.
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { show } from "../support/cli.js";
import { Project, runIdOf } from "../support/project.js";

const PIPELINE = (word: string) => `version: 1
jobs:
  look:
    run: |
      echo "pipeline says ${word}"
      if [ -e node_modules/dep/index.js ]; then echo "node_modules: copied"; else echo "node_modules: absent"; fi
      if [ -e notes.txt ]; then echo "untracked: copied"; fi
`;

describe("airlock run: the project and its files", () => {
  let p: Project;
  let env: NodeJS.ProcessEnv;
  before(() => {
    p = new Project({
      files: {
        ".airlock.yml": PIPELINE("committed"),
        ".gitignore": "node_modules/\n",
        "packages/web/src/app.js": "1\n",
      },
    });
    // The default data directory, <project>/.airlock.
    env = p.env();
    delete env.AIRLOCK_HOME;
  });
  after(() => p?.cleanup());

  test("from a subfolder it runs the root's .airlock.yml, and keeps its data at the root", async () => {
    const sub = path.join(p.repo, "packages", "web", "src");
    const r = await p.cli(["run", "--plain", "--output"], { cwd: sub, env });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stderr, /airlock: running the pipeline of \.\.\/\.\.\/\.\.\/\.airlock\.yml\n/);
    assert.match(r.stdout, /look \| pipeline says committed/);
    assert.ok(existsSync(path.join(p.repo, ".airlock", "airlock.db")));
    assert.ok(!existsSync(path.join(sub, ".airlock")), "no data directory in the subfolder");
    const runs = await p.cli(["runs"], { cwd: sub, env });
    assert.ok(runs.stdout.includes(runIdOf(r.stdout)), show(runs));
  });

  test("an uncommitted change to .airlock.yml: the committed one runs, and it says so", async () => {
    p.write({ ".airlock.yml": PIPELINE("uncommitted") });
    try {
      const r = await p.cli(["run", "--plain", "--output"], { env });
      assert.equal(r.code, 0, show(r));
      assert.match(
        r.stderr,
        /airlock: \.airlock\.yml has uncommitted changes: running the one in commit [0-9a-f]{12} \(commit your changes, or run with --dirty to use the working tree\)/,
      );
      assert.match(r.stdout, /look \| pipeline says committed/);
      const d = await p.cli(["run", "--plain", "--output", "--dirty"], { env });
      assert.match(d.stdout, /look \| pipeline says uncommitted/);
      assert.doesNotMatch(d.stderr, /uncommitted changes: running the one in commit/);
    } finally {
      p.write({ ".airlock.yml": PIPELINE("committed") });
    }
    const clean = await p.cli(["run", "--plain"], { env });
    assert.doesNotMatch(clean.stderr, /uncommitted/);
  });

  test("--dirty copies untracked files but not what git ignores, unless --include-ignored", async () => {
    mkdirSync(path.join(p.repo, "node_modules", "dep"), { recursive: true });
    p.write({ "node_modules/dep/index.js": "module.exports = 1;\n", "notes.txt": "draft\n" });
    const d = await p.cli(["run", "--plain", "--output", "--dirty"], { env });
    assert.equal(d.code, 0, show(d));
    assert.match(d.stdout, /look \| node_modules: absent/);
    assert.match(d.stdout, /look \| untracked: copied/);
    const all = await p.cli(["run", "--plain", "--output", "--dirty", "--include-ignored"], {
      env,
    });
    assert.equal(all.code, 0, show(all));
    assert.match(all.stdout, /look \| node_modules: copied/);
    const wrong = await p.cli(["run", "--plain", "--include-ignored"], { env });
    assert.equal(wrong.code, 2, show(wrong));
    assert.match(wrong.stderr, /--include-ignored goes with --dirty/);
  });
});
