import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { WorkspaceError, Workspaces } from "../../../src/executors/local/workspace.js";
import { git, makeRepo, tempDir } from "./helpers.js";

const t = tempDir();
let repo: string;
let first: string;
let second: string;

before(() => {
  ({ repo, sha: first } = makeRepo(t.dir, {
    "a.txt": "one\n",
    "bin/run.sh": "#!/bin/sh\necho run\n",
    "deep/er/x.txt": "x\n",
  }));
  chmodSync(path.join(repo, "bin/run.sh"), 0o755);
  symlinkSync("a.txt", path.join(repo, "link"));
  git(repo, "add", "-A");
  git(repo, "commit", "-q", "-m", "two");
  second = git(repo, "rev-parse", "HEAD");
});
after(() => t.cleanup());

describe("Workspaces", () => {
  it("checks out the exact commit with modes and links, leaving the repository untouched", async () => {
    writeFileSync(path.join(repo, "a.txt"), "dirty\n");
    const ws = new Workspaces({ tempDir: t.dir });
    try {
      const w1 = await ws.create({ kind: "commit", repoDir: repo, sha: first }, "j1");
      const w2 = await ws.create({ kind: "commit", repoDir: repo, sha: second }, "j2");
      assert.equal(readFileSync(path.join(w1.src, "a.txt"), "utf8"), "one\n");
      assert.ok(!existsSync(path.join(w1.src, "link")), "the first commit has no link");
      assert.equal(readlinkSync(path.join(w2.src, "link")), "a.txt");
      assert.ok(statSync(path.join(w2.src, "bin/run.sh")).mode & 0o100, "executable bit kept");
      assert.equal(readFileSync(path.join(w2.src, "deep/er/x.txt"), "utf8"), "x\n");
      assert.ok(!existsSync(path.join(w2.src, ".git")));
      assert.equal(statSync(w1.src).mode & 0o777, 0o700);
      // The repository's own index and working tree are as they were.
      assert.equal(readFileSync(path.join(repo, "a.txt"), "utf8"), "dirty\n");
      assert.equal(git(repo, "diff", "--cached", "--name-only"), "");
      assert.equal(git(repo, "diff", "--name-only"), "a.txt");
      // A job changing its copy changes nothing for the next job of the same commit.
      writeFileSync(path.join(w1.src, "a.txt"), "changed by job\n");
      const w3 = await ws.create({ kind: "commit", repoDir: repo, sha: first }, "j3");
      assert.equal(readFileSync(path.join(w3.src, "a.txt"), "utf8"), "one\n");
      for (const w of [w1, w2, w3]) {
        await w.remove();
        assert.ok(!existsSync(w.src));
      }
    } finally {
      git(repo, "checkout", "--", "a.txt");
      await ws.close();
    }
  });

  it("rejects what is not a full SHA, and a commit that is not there, with a clear message", async () => {
    const ws = new Workspaces({ tempDir: t.dir });
    try {
      await assert.rejects(
        ws.create({ kind: "commit", repoDir: repo, sha: "HEAD; rm -rf /" }, "j"),
        (e: Error) => e instanceof WorkspaceError && /not a full commit SHA/.test(e.message),
      );
      await assert.rejects(
        ws.create({ kind: "commit", repoDir: repo, sha: "0".repeat(40) }, "j"),
        /commit 0{40} is not in the git repository/,
      );
      assert.deepEqual(readdirSync(path.join(await ws.root(), "jobs")), []);
    } finally {
      await ws.close();
    }
  });

  it("copies a dirty tree without .git, the excluded paths or special files", async () => {
    const data = path.join(repo, ".airlock");
    mkdirSync(data, { recursive: true });
    writeFileSync(path.join(data, "db"), "private");
    execFileSync("mkfifo", [path.join(repo, "fifo")]);
    const ws = new Workspaces({ tempDir: t.dir, exclude: [data] });
    try {
      const w = await ws.create({ kind: "dirty", dir: repo }, "d", { home: true });
      assert.deepEqual(readdirSync(w.src).sort(), ["a.txt", "bin", "deep", "link"]);
      assert.ok(lstatSync(path.join(w.src, "link")).isSymbolicLink());
      execFileSync("rm", [path.join(repo, "fifo")]);
      assert.ok(w.home && statSync(w.home).isDirectory());
      await w.remove();
      assert.ok(!existsSync(w.src) && !existsSync(w.home!));
    } finally {
      await ws.close();
    }
  });

  it("refuses a per-run root inside an excluded path", () => {
    assert.throws(
      () => new Workspaces({ tempDir: path.join(t.dir, "x"), exclude: [t.dir] }),
      /must not see/,
    );
  });

  it("removes workspaces a job made read-only, and the whole root on close", async () => {
    const ws = new Workspaces({ tempDir: t.dir });
    const w = await ws.create({ kind: "commit", repoDir: repo, sha: second }, "ro");
    chmodSync(path.join(w.src, "deep/er"), 0o500);
    chmodSync(path.join(w.src, "deep"), 0o500);
    await w.remove();
    assert.ok(!existsSync(w.src));
    const root = await ws.root();
    await ws.close();
    assert.ok(!existsSync(root));
  });
});

describe("workspace roots left by a killed run", () => {
  it("are removed at the next start; live owners' roots and unknown directories stay", async () => {
    const dir = path.join(t.dir, "sweep");
    mkdirSync(dir);
    // A process that has exited: its pid and start time no longer name a live process.
    const dead = execFileSync("sh", ["-c", 'echo "$$ $(cut -d" " -f22 /proc/$$/stat)"'], {
      encoding: "utf8",
    }).trim();
    const stat = readFileSync("/proc/self/stat", "utf8");
    const self = `${process.pid} ${stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]}`;
    const root = (name: string, owner?: string) => {
      mkdirSync(path.join(dir, name, "jobs", "j-1"), { recursive: true });
      writeFileSync(path.join(dir, name, "jobs", "j-1", "f"), "x");
      if (owner) writeFileSync(path.join(dir, name, "owner"), `${owner}\n`);
    };
    root("airlock-killed", dead);
    // Our own pid with another start time: the pid was reused, the owner is gone.
    root("airlock-reused", `${process.pid} 1`);
    root("airlock-live", self);
    root("airlock-unknown");
    const ws = new Workspaces({ tempDir: dir });
    try {
      const made = await ws.root();
      assert.deepEqual(
        readdirSync(dir).sort(),
        ["airlock-live", "airlock-unknown", path.basename(made)].sort(),
      );
      assert.equal(readFileSync(path.join(made, "owner"), "utf8"), `${self}\n`);
    } finally {
      await ws.close();
    }
    // Homes a killed run kept in memory go at the next start too, before any is kept there.
    const memory = path.join(t.dir, "sweep-memory");
    mkdirSync(path.join(memory, "airlock-killed", "jobs", "j-1.home"), { recursive: true });
    writeFileSync(path.join(memory, "airlock-killed", "owner"), `${dead}\n`);
    const next = new Workspaces({ tempDir: dir, memoryDir: memory });
    try {
      await next.root();
      assert.deepEqual(readdirSync(memory), []);
    } finally {
      await next.close();
    }
  });
});
