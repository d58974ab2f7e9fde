// The registered `airlock mirror` command, spawned like a user runs it, against bare repositories
// over file:// and over smart HTTP with push credentials from the secret store.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { lsRemoteExact } from "../../src/suite/index.js";
import { show } from "../support/cli.js";
import { filesUnder, Project } from "../support/project.js";
import { fileUrl, type GitHttpServer, makeBareRepo, serveGitHttp } from "./repos.js";

const PUSH_TOKEN = "push-t0ken-Rk3Wq8Zn";

const pipeline = (mirror: string) => `version: 1
secrets:
  push-git: {}
mirror:
${mirror}
jobs:
  unit:
    run: echo ok
`;

let holder: Project;
let http: GitHttpServer;
let served: string;

before(async () => {
  holder = new Project({ files: { README: "holder\n" } });
  served = path.join(holder.root, "served");
  makeBareRepo(path.join(served, "internal.git"), ["main"]);
  makeBareRepo(path.join(served, "private", "internal.git"), ["main"]);
  http = await serveGitHttp(served, PUSH_TOKEN);
});
after(async () => {
  await http?.close();
  holder?.cleanup();
});

describe("airlock mirror", () => {
  test("file://: mirrors the checked-out commit or --sha to airlock/pr-N, and deletes it", async () => {
    const remote = fileUrl(path.join(served, "internal.git"));
    const p = new Project({ files: { ".airlock.yml": pipeline(`  remote: ${remote}`) } });
    try {
      const first = p.commit({ a: "1\n" });
      const head = p.commit({ a: "2\n" });
      const ref = "refs/heads/airlock/pr-7";
      const r = await p.cli(["mirror", "--pr", "7"]);
      assert.equal(r.code, 0, show(r));
      assert.equal(r.stdout, `mirrored ${head} to airlock/pr-7\n`);
      assert.equal((await lsRemoteExact(remote, [ref])).get(ref), head);

      // A rewritten PR: the branch follows exactly the commit given.
      const back = await p.cli(["mirror", "--pr", "7", "--sha", first]);
      assert.equal(back.code, 0, show(back));
      assert.equal((await lsRemoteExact(remote, [ref])).get(ref), first);

      const del = await p.cli(["mirror", "--pr", "7", "--delete"]);
      assert.equal(del.code, 0, show(del));
      assert.equal(del.stdout, "deleted airlock/pr-7\n");
      assert.equal((await lsRemoteExact(remote, [ref])).size, 0);

      const bad = await p.cli(["mirror", "--pr", "7;rm -rf /"]);
      assert.equal(bad.code, 2, show(bad));
      assert.equal(bad.stderr, 'airlock: --pr "7;rm -rf /" is not a pull request number\n');
    } finally {
      p.cleanup();
    }
  });

  test("smart HTTP: pushes with the credentials set, which appear nowhere else", async () => {
    const remote = `${http.url}/private/internal.git`;
    const p = new Project({
      files: {
        ".airlock.yml": pipeline(
          `  remote: ${remote}\n  branch: "internal/{pr}/head"\n  credentials: push-git`,
        ),
      },
    });
    try {
      const head = p.commit({ b: "1\n" });
      await p.setSecret("push-git", "GIT_TOKEN", PUSH_TOKEN);
      const r = await p.cli(["mirror", "--pr", "12"]);
      assert.equal(r.code, 0, show(r));
      assert.equal(r.stdout, `mirrored ${head} to internal/12/head\n`);
      const auth = [{ url: remote, token: PUSH_TOKEN }];
      const ref = "refs/heads/internal/12/head";
      assert.equal((await lsRemoteExact(remote, [ref], { auth })).get(ref), head);
      const basic = Buffer.from(`oauth2:${PUSH_TOKEN}`).toString("base64");
      for (const form of [PUSH_TOKEN, basic]) {
        assert.ok(!r.stdout.includes(form) && !r.stderr.includes(form));
        for (const file of filesUnder(p.root)) {
          assert.ok(!readFileSync(file).includes(form), `token in ${file}`);
        }
      }
    } finally {
      p.cleanup();
    }
  });
});
