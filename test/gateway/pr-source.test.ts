// The PR code mirror: a head is fetched and pinned once, and a commit's files read once, so that
// every later event about the same head runs no git process (a file at a commit never changes).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { FileTooLargeError } from "../../src/forge/types.js";
import { PrSource } from "../../src/gateway/pr-source.js";
import { Repo } from "../gateway-flow/harness.js";

/** Runs `fn` with no git reachable on PATH. */
async function withoutGit<T>(fn: () => Promise<T>): Promise<T> {
  const path = process.env.PATH;
  process.env.PATH = "/nonexistent";
  try {
    return await fn();
  } finally {
    process.env.PATH = path;
  }
}

test("a pinned head and a commit's files are known without git afterwards", async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "airlock-prsource-"));
  try {
    const repo = new Repo(root);
    const sha = repo.commit({ ".airlock.yml": "version: 1\n", "big.txt": "x".repeat(100) });
    repo.setPullHead(7, sha);
    const source = new PrSource({ dataDir: path.join(root, "data"), cloneBaseUrl: repo.cloneBase });
    const req = { repo: "acme/app", pr: 7, sha, installationId: 1 };

    const fetched = await source.fetch(req);
    assert.equal(fetched.sha, sha);
    assert.equal(await source.fileAt("acme/app", sha, ".airlock.yml"), "version: 1\n");
    assert.equal(await source.fileAt("acme/app", sha, "missing.yml"), undefined);
    await assert.rejects(
      source.fileAt("acme/app", sha, "big.txt", { maxBytes: 10 }),
      FileTooLargeError,
    );

    await withoutGit(async () => {
      assert.deepEqual(await source.fetch(req), fetched);
      assert.equal(await source.fileAt("acme/app", sha, ".airlock.yml"), "version: 1\n");
      await assert.rejects(
        source.fileAt("acme/app", sha, "big.txt", { maxBytes: 10 }),
        FileTooLargeError,
      );
      // A file first refused for its size is read for a caller that takes it: that needs git
      // (unreachable, it reads as no file, as before).
      assert.equal(await source.fileAt("acme/app", sha, "big.txt"), undefined);
    });
    assert.equal(await source.fileAt("acme/app", sha, "big.txt"), "x".repeat(100));

    // Another head is fetched (git is needed for what is not known yet).
    const next = repo.commit({ "b.txt": "b\n" }, sha);
    repo.setPullHead(7, next);
    await withoutGit(async () => {
      await assert.rejects(source.fetch({ ...req, sha: next }));
    });
    assert.equal((await source.fetch({ ...req, sha: next })).sha, next);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
