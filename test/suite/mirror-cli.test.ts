import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { type MirrorDeps, mirrorCommand } from "../../src/cli/commands/mirror.js";
import { UserError } from "../../src/cli/errors.js";
import { MirrorSchema, SuiteSchema } from "../../src/config/suite-schema.js";
import { lsRemoteExact } from "../../src/suite/index.js";
import { commitOn, fileUrl, makeBareRepo } from "./repos.js";

const root = mkdtempSync(path.join(os.tmpdir(), "airlock-mirror-cli-"));
after(() => rmSync(root, { recursive: true, force: true }));
const suiteDir = path.join(root, "suite.git");
makeBareRepo(suiteDir, ["main"]);
const fork = path.join(root, "fork.git");
makeBareRepo(fork, ["topic"]);
const head = commitOn(fork, "topic", "pr head\n");

const deps: MirrorDeps = {
  loadConfig: async () => ({
    suite: SuiteSchema.parse({ url: fileUrl(suiteDir) }),
    mirror: MirrorSchema.parse({ remote: "suite" }),
  }),
  pullRequest: async (_dir, pr) => {
    assert.equal(pr, 14);
    return { sha: head, cloneUrl: fileUrl(fork) };
  },
};

describe("airlock mirror", () => {
  it("mirrors the PR head to airlock/pr-N of the suite and deletes it", async () => {
    assert.equal(
      await mirrorCommand({ dir: ".", pr: "14" }, deps),
      `mirrored ${head} to airlock/pr-14\n`,
    );
    const refs = await lsRemoteExact(fileUrl(suiteDir), ["refs/heads/airlock/pr-14"]);
    assert.equal(refs.get("refs/heads/airlock/pr-14"), head);
    assert.equal(
      await mirrorCommand({ dir: ".", pr: "14", delete: true }, deps),
      "deleted airlock/pr-14\n",
    );
    assert.equal(
      await mirrorCommand({ dir: ".", pr: "14", delete: true }, deps),
      "airlock/pr-14 did not exist\n",
    );
  });

  it("explains bad input in one line", async () => {
    const fails = async (p: Promise<unknown>, re: RegExp) =>
      assert.rejects(
        p,
        (e: Error) => e instanceof UserError && re.test(e.message) && !e.message.includes("\n"),
      );
    await fails(mirrorCommand({ dir: ".", pr: "1;rm" }, deps), /not a pull request number/);
    await fails(mirrorCommand({ dir: ".", pr: "0" }, deps), /not a pull request number/);
    await fails(
      mirrorCommand({ dir: ".", pr: "3" }, { loadConfig: async () => ({}) }),
      /no `mirror:` section/,
    );
    await fails(mirrorCommand({ dir: ".", pr: "14", sha: "abc" }, deps), /not a full commit SHA/);
    await fails(
      mirrorCommand({ dir: ".", pr: "14", sha: "2".repeat(40), source: fileUrl(fork) }, deps),
      /cannot fetch 2{40}/,
    );
  });
});

describe("suite and mirror schema", () => {
  it("accepts the documented shapes and fills defaults", () => {
    const s = SuiteSchema.parse({
      url: "https://gitlab.example.com/team/tests.git",
      match_branch: true,
      credentials: "suite-git",
    });
    assert.deepEqual(s, {
      url: "https://gitlab.example.com/team/tests.git",
      ref: "main",
      match_branch: true,
      path: "/suite",
      credentials: "suite-git",
    });
    for (const url of [
      "git@gitlab.example.com:team/tests.git",
      "ssh://git@host/x.git",
      "file:///srv/git/x.git",
    ]) {
      assert.ok(SuiteSchema.safeParse({ url }).success, url);
    }
    assert.equal(MirrorSchema.parse({ remote: "suite" }).branch, "airlock/pr-{pr}");
  });

  it("refuses dangerous or confusing values with a message", () => {
    const msg = (r: { success: boolean; error?: { issues: { message: string }[] } }) =>
      r.error?.issues[0]?.message ?? "";
    assert.match(msg(SuiteSchema.safeParse({ url: "ext::sh -c touch% /tmp/x" })), /git URL/);
    assert.match(
      msg(SuiteSchema.safeParse({ url: "--upload-pack=touch" })),
      /cannot start with '-'/,
    );
    assert.match(msg(SuiteSchema.safeParse({ url: "https://u:secret@host/x.git" })), /secret set/);
    assert.match(
      msg(SuiteSchema.safeParse({ url: "https://host/x.git", path: "relative" })),
      /absolute/,
    );
    assert.match(
      msg(SuiteSchema.safeParse({ url: "https://host/x.git", path: "/suite/../etc" })),
      /\.\./,
    );
    assert.match(msg(MirrorSchema.safeParse({ remote: "suite", branch: "main" })), /\{pr\}/);
  });
});
