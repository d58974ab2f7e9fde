// `airlock run` with a companion suite, end to end through the CLI: branch matching against real
// bare repositories (file:// and smart HTTP), the read-only /suite mount and AIRLOCK_SUITE_* of
// restricted jobs only, and a private suite whose token never leaves git's environment.
import assert from "node:assert/strict";
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { show } from "../support/cli.js";
import { filesUnder, git, Project, runIdOf } from "../support/project.js";
import { fileUrl, type GitHttpServer, makeBareRepo, serveGitHttp } from "./repos.js";

const CLOUD = "cl0ud-v4lue-for-the-job";
const SUITE_TOKEN = "suite-t0ken-7Hq2Lm9Xv";

/** Suite branches: exact names, prefixes of one another, a unicode one. */
const BRANCHES = ["main", "feature/x", "feature/x-2", "feat", "x", "fonctionnalité/été"];

function pipeline(suite: string): string {
  return `version: 1
secrets:
  cloud: {}
  suite-git: {}
${suite}
jobs:
  unit:
    run: |
      echo "public-env=\${AIRLOCK_SUITE_REF:-none}/\${AIRLOCK_SUITE_SHA:-none}"
      if [ -e /suite ]; then echo "public-sees-suite"; else echo "public-no-suite"; fi
  functional:
    needs: [unit]
    secrets: [cloud]
    run: |
      echo "ref=$AIRLOCK_SUITE_REF sha=$AIRLOCK_SUITE_SHA matched=$AIRLOCK_SUITE_MATCHED dir=$AIRLOCK_SUITE_DIR"
      echo "content=$(cat /suite/README)"
      if echo overwrite > /suite/README 2>/dev/null; then echo "WRITE-SUCCEEDED"; else echo "write-refused"; fi
      if touch /suite/new-file 2>/dev/null; then echo "CREATE-SUCCEEDED"; else echo "create-refused"; fi
      env
`;
}

interface RunJson {
  run: string;
  status: string;
  notes: { suite?: { url: string; ref: string; sha: string; matched: boolean } };
}

let root: Project;
let shas: Record<string, string>;
let http: GitHttpServer;
let served: string;

before(async () => {
  // The suite repositories live in their own project root (removed with it).
  root = new Project({ files: { README: "holder\n" } });
  served = path.join(root.root, "served");
  shas = makeBareRepo(path.join(served, "suite.git"), BRANCHES);
  cpSync(path.join(served, "suite.git"), path.join(served, "private", "suite.git"), {
    recursive: true,
  });
  http = await serveGitHttp(served, SUITE_TOKEN);
});
after(async () => {
  await http?.close();
  root?.cleanup();
});

async function project(suiteYaml: string, branch: string): Promise<Project> {
  const p = new Project({ files: { ".airlock.yml": pipeline(suiteYaml) } });
  git(p.repo, "checkout", "-q", "-b", branch);
  await p.setSecret("cloud", "CLOUD_TOKEN", CLOUD);
  return p;
}

function assertRestrictedSaw(log: string, branch: string) {
  assert.match(log, new RegExp(`ref=${branch} sha=${shas[branch]} matched=true dir=/suite`));
  assert.match(log, new RegExp(`content=suite for ${branch}$`, "m"));
  assert.match(log, /write-refused/);
  assert.match(log, /create-refused/);
  assert.doesNotMatch(log, /SUCCEEDED/);
}

describe("airlock run with a companion suite", () => {
  test("file://: the suite's branch named exactly like the run's, read-only, restricted jobs only", async () => {
    const p = await project(
      `suite:\n  url: ${fileUrl(path.join(served, "suite.git"))}\n  match_branch: true`,
      "feature/x",
    );
    try {
      const r = await p.cli(["run", "--json"]);
      assert.equal(r.code, 0, show(r));
      const out = JSON.parse(r.stdout) as RunJson;
      assert.deepEqual(out.notes.suite, {
        url: fileUrl(path.join(served, "suite.git")),
        ref: "feature/x",
        sha: shas["feature/x"],
        matched: true,
      });
      assert.match(r.stderr, /suite at feature\/x \([0-9a-f]{12}\), the branch matching this one/);
      const logs = await p.logs(out.run);
      assertRestrictedSaw(logs.functional!, "feature/x");
      // The public job gets neither the mount nor the variables.
      assert.match(logs.unit!, /public-env=none\/none/);
      assert.match(logs.unit!, /public-no-suite/);
      // The suite checkout is removed with the run.
      assert.deepEqual(p.leftoverWorkspaces(), []);
      // The suite repository itself is untouched.
      assert.equal(
        git(path.join(served, "suite.git"), "rev-parse", "refs/heads/feature/x"),
        shas["feature/x"],
      );
    } finally {
      p.cleanup();
    }
  });

  test("smart HTTP: a unicode branch matches; the summary shows the suite ref", async () => {
    const branch = "fonctionnalité/été";
    const p = await project(`suite:\n  url: ${http.url}/suite.git\n  match_branch: true`, branch);
    try {
      const r = await p.cli(["run", "--plain"]);
      assert.equal(r.code, 0, show(r));
      assert.match(
        r.stdout,
        new RegExp(`^suite: ${branch} \\(${shas[branch]!.slice(0, 12)}\\)$`, "m"),
      );
      const logs = await p.logs(runIdOf(r.stdout));
      assertRestrictedSaw(logs.functional!, branch);
    } finally {
      p.cleanup();
    }
  });

  test("a branch the suite lacks (a prefix of one it has) gets the default ref", async () => {
    const p = await project(
      `suite:\n  url: ${http.url}/suite.git\n  ref: feat\n  match_branch: true`,
      "feature",
    );
    try {
      const r = await p.cli(["run", "--json"]);
      assert.equal(r.code, 0, show(r));
      const out = JSON.parse(r.stdout) as RunJson;
      assert.equal(out.notes.suite?.ref, "feat");
      assert.equal(out.notes.suite?.sha, shas.feat);
      assert.equal(out.notes.suite?.matched, false);
      assert.match(r.stderr, /suite at feat .*the default ref/);
      const log = (await p.logs(out.run)).functional!;
      assert.match(log, new RegExp(`ref=feat sha=${shas.feat} matched=false`));
      assert.match(log, /content=suite for feat$/m);
    } finally {
      p.cleanup();
    }
  });

  test("a private suite over HTTP: the token reaches git only, never argv, a job or a file", async () => {
    const p = await project(
      `suite:\n  url: ${http.url}/private/suite.git\n  match_branch: true\n  credentials: suite-git`,
      "feature/x-2",
    );
    // A git that records its argv, first on PATH.
    const bin = path.join(p.root, "bin");
    mkdirSync(bin);
    const argvLog = path.join(p.root, "git-argv.log");
    writeFileSync(
      path.join(bin, "git"),
      `#!/bin/sh\nprintf '%s\\n' "$*" >> '${argvLog}'\nexec /usr/bin/git "$@"\n`,
    );
    chmodSync(path.join(bin, "git"), 0o755);
    try {
      await p.setSecret("suite-git", "GIT_TOKEN", SUITE_TOKEN);
      const before = http.authorizations.length;
      const r = await p.cli(["run", "--json"], {
        env: p.env({ PATH: `${bin}:${process.env.PATH}` }),
      });
      assert.equal(r.code, 0, show(r));
      const out = JSON.parse(r.stdout) as RunJson;
      assert.equal(out.notes.suite?.ref, "feature/x-2");
      assert.equal(out.notes.suite?.sha, shas["feature/x-2"]);
      // The credentials travelled (the server needs them for private/) …
      const basic = Buffer.from(`oauth2:${SUITE_TOKEN}`).toString("base64");
      assert.ok(http.authorizations.slice(before).includes(`Basic ${basic}`));
      // … and nowhere else.
      const forms = [SUITE_TOKEN, basic];
      const argv = readFileSync(argvLog, "utf8");
      assert.match(argv, /ls-remote/);
      const logs = await p.logs(out.run);
      assertRestrictedSaw(logs.functional!, "feature/x-2");
      assert.doesNotMatch(logs.functional!, /GIT_CONFIG|suite-t0ken/);
      for (const form of forms) {
        assert.ok(!argv.includes(form), "token in git's argv");
        assert.ok(!r.stdout.includes(form) && !r.stderr.includes(form), "token in the output");
        for (const [job, log] of Object.entries(logs)) {
          assert.ok(!log.includes(form), `token in the log of ${job}`);
        }
        for (const file of filesUnder(p.root)) {
          if (file === argvLog) continue;
          assert.ok(!readFileSync(file).includes(form), `token in ${file}`);
        }
      }
      assert.deepEqual(p.leftoverWorkspaces(), []);
    } finally {
      p.cleanup();
    }
  });

  test("a private suite without credentials fails in one line, before any job", async () => {
    const p = await project(`suite:\n  url: ${http.url}/private/suite.git`, "main2");
    try {
      const r = await p.cli(["run", "--json"]);
      assert.notEqual(r.code, 0, show(r));
      assert.match(
        r.stderr,
        /cannot prepare the suite repository: cannot list refs of http:\/\/127\.0\.0\.1:\d+\/private\/suite\.git: the server asks for credentials: name a secret set holding GIT_TOKEN in `credentials`/,
      );
      assert.equal(r.stderr.trim().split("\n").length, 1, "one line");
      assert.equal(p.query("select id from runs").length, 0, "no run started");
      assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    } finally {
      p.cleanup();
    }
  });
});
