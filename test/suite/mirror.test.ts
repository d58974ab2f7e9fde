import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  deleteMirror,
  lsRemoteExact,
  MirrorError,
  mirrorBranchName,
  pushMirror,
} from "../../src/suite/index.js";
import { commitOn, fileUrl, type GitHttpServer, git, makeBareRepo, serveGitHttp } from "./repos.js";

const root = mkdtempSync(path.join(os.tmpdir(), "airlock-mirror-"));
const TOKEN = "push-token-81c2d";
let server: GitHttpServer;
let head: string;
const fork = path.join(root, "fork.git");

before(async () => {
  makeBareRepo(path.join(root, "main.git"), ["main"]);
  makeBareRepo(path.join(root, "private", "internal.git"), ["main"]);
  // The fork's PR head has history the target has never seen.
  makeBareRepo(fork, ["topic"]);
  commitOn(fork, "topic", "second\n");
  head = commitOn(fork, "topic", "third\n");
  server = await serveGitHttp(root, TOKEN);
});
after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

const branchOf = async (remote: string, branch: string, auth?: { url: string; token: string }[]) =>
  (await lsRemoteExact(remote, [`refs/heads/${branch}`], auth ? { auth } : {})).get(
    `refs/heads/${branch}`,
  );

describe("mirrorBranchName", () => {
  it("fills {pr} and validates the result", () => {
    assert.equal(mirrorBranchName("airlock/pr-{pr}", 12), "airlock/pr-12");
    assert.equal(mirrorBranchName("ci/{pr}/head", 7), "ci/7/head");
    assert.throws(() => mirrorBranchName("main", 12), /must contain \{pr\}/);
    assert.throws(() => mirrorBranchName("x..{pr}", 1), /not a valid git branch name/);
    assert.throws(() => mirrorBranchName("-{pr}", 1), /not a valid git branch name/);
    for (const pr of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => mirrorBranchName("airlock/pr-{pr}", pr), MirrorError);
    }
  });
});

describe("pushMirror / deleteMirror over file://", () => {
  const remote = () => fileUrl(path.join(root, "main.git"));

  it("pushes the exact head SHA, follows a force-push, and deletes on close", async () => {
    const branch = mirrorBranchName("airlock/pr-{pr}", 5);
    await pushMirror({ source: fileUrl(fork), sha: head, remote: remote(), branch });
    assert.equal(await branchOf(remote(), branch), head);
    assert.equal(git(path.join(root, "main.git"), ["cat-file", "-t", `${head}~2`]), "commit");

    // The contributor rewrites the PR: the mirror follows (the approval rule still applies).
    const rewritten = commitOn(fork, "other", "rewritten\n");
    await pushMirror({ source: fork, sha: rewritten, remote: remote(), branch });
    assert.equal(await branchOf(remote(), branch), rewritten);
    // Other branches are untouched.
    assert.ok(await branchOf(remote(), "main"));

    assert.equal(await deleteMirror({ remote: remote(), branch }), true);
    assert.equal(await branchOf(remote(), branch), undefined);
    assert.equal(
      await deleteMirror({ remote: remote(), branch }),
      false,
      "closing twice is harmless",
    );
  });

  it("treats shell syntax in a template as data", async () => {
    const canary = path.join(root, "mirror-canary");
    const branch = mirrorBranchName(`m/$(touch\${IFS}${canary})-{pr}`, 9);
    await pushMirror({ source: fork, sha: head, remote: remote(), branch });
    assert.equal(await branchOf(remote(), branch), head);
    assert.equal(existsSync(canary), false);
    assert.equal(await deleteMirror({ remote: remote(), branch }), true);
  });

  it("fails with one clear line for a missing commit or a bad branch", async () => {
    await assert.rejects(
      pushMirror({ source: fork, sha: "1".repeat(40), remote: remote(), branch: "airlock/pr-1" }),
      (e: Error) =>
        e instanceof MirrorError &&
        /cannot fetch 1{40}/.test(e.message) &&
        !e.message.includes("\n"),
    );
    await assert.rejects(
      pushMirror({ source: fork, sha: "HEAD", remote: remote(), branch: "airlock/pr-1" }),
      /not a full commit SHA/,
    );
    await assert.rejects(
      pushMirror({ source: fork, sha: head, remote: remote(), branch: "a..b" }),
      /not a valid git branch name/,
    );
    await assert.rejects(
      deleteMirror({ remote: remote(), branch: "--all" }),
      /not a valid git branch name/,
    );
  });
});

describe("pushMirror / deleteMirror over smart HTTP", () => {
  const remote = () => `${server.url}/private/internal.git`;

  it("pushes with credentials from the environment and deletes", async () => {
    const auth = [{ url: remote(), token: TOKEN }];
    const branch = mirrorBranchName("airlock/pr-{pr}", 31);
    await pushMirror({ source: fork, sha: head, remote: remote(), branch, auth });
    assert.equal(await branchOf(remote(), branch, auth), head);
    assert.equal(await deleteMirror({ remote: remote(), branch, auth }), true);
    assert.equal(await branchOf(remote(), branch, auth), undefined);
  });

  it("is refused without credentials, without echoing anything secret", async () => {
    await assert.rejects(
      pushMirror({ source: fork, sha: head, remote: remote(), branch: "airlock/pr-2" }),
      (e: Error) => e instanceof MirrorError && /cannot push airlock\/pr-2/.test(e.message),
    );
    await assert.rejects(
      pushMirror({
        source: fork,
        sha: head,
        remote: remote(),
        branch: "airlock/pr-2",
        auth: [{ url: remote(), token: "wrong-token" }],
      }),
      (e: Error) => e instanceof MirrorError && !e.message.includes("wrong-token"),
    );
  });
});
