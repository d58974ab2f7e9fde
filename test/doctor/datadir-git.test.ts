// The default data directory (<project>/.airlock) lives inside the project's repository: Airlock
// makes it with a .gitignore of `*`, and `airlock doctor` FAILs when git would commit the master
// key or the database, or already has.
import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { show } from "../support/cli.js";
import { git, Project } from "../support/project.js";
import { doctor, finding, PUBLIC_ONLY } from "./helpers.js";

describe("the data directory inside the repository", () => {
  let p: Project;
  let env: NodeJS.ProcessEnv;
  let dataDir: string;
  before(async () => {
    p = new Project({ files: { ".airlock.yml": PUBLIC_ONLY }, envMasterKey: false });
    dataDir = path.join(p.repo, ".airlock");
    // No AIRLOCK_HOME: the default, <project>/.airlock.
    env = { ...p.env() };
    delete env.AIRLOCK_HOME;
    const r = await p.cli(["secrets", "set", "cloud", "TOKEN"], { env, stdin: "value-1" });
    assert.equal(r.code, 0, show(r));
  });
  after(() => p?.cleanup());

  test("is made with a .gitignore of `*`, so `git add -A` commits nothing of it", async () => {
    assert.match(readFileSync(path.join(dataDir, ".gitignore"), "utf8"), /^\*$/m);
    readFileSync(path.join(dataDir, "master.key")); // the key is there...
    git(p.repo, "add", "-A");
    assert.equal(git(p.repo, "status", "--porcelain"), ""); // ...and git does not see it
    const r = await p.cli(["doctor"], { env });
    finding(r, "ok", "data directory", /git ignores \.airlock\//);
  });

  test("doctor FAILs when git does not ignore it, naming the fix", async () => {
    rmSync(path.join(dataDir, ".gitignore"));
    try {
      const r = await p.cli(["doctor"], { env });
      assert.equal(r.code, 1, show(r));
      finding(r, "fail", "data directory", /git add -A` would commit the master key/);
      finding(
        r,
        "fail",
        "data directory",
        /printf '\*\\n' > .*\.airlock\/\.gitignore|AIRLOCK_HOME/,
      );
    } finally {
      const r = await p.cli(["secrets", "list"], { env }); // any command makes it again
      assert.equal(r.code, 0, show(r));
      assert.match(readFileSync(path.join(dataDir, ".gitignore"), "utf8"), /^\*$/m);
    }
  });

  test("doctor FAILs when the master key or the database is committed", async () => {
    git(p.repo, "add", "-f", ".airlock/master.key", ".airlock/airlock.db");
    git(p.repo, "commit", "-q", "-m", "oops");
    const r = await doctor(p, [], env);
    assert.equal(r.code, 1, show(r));
    const f = finding(r, "fail", "data directory", /committed to the repository/);
    assert.match(f.message, /\.airlock\/airlock\.db, \.airlock\/master\.key are committed/);
    assert.match(f.message, /git -C \S+ rm --cached \.airlock\/airlock\.db \.airlock\/master\.key/);
    assert.match(f.message, /rotate the master key and every secret/);
  });
});
