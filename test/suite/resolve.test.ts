import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { checkoutSuite, resolveSuite, SuiteError } from "../../src/suite/index.js";
import { commitOn, fileUrl, type GitHttpServer, git, makeBareRepo, serveGitHttp } from "./repos.js";

const root = mkdtempSync(path.join(os.tmpdir(), "airlock-suite-"));
const canary = path.join(root, "canary");
const TOKEN = "tok-3f9a1c-very-secret";

/** Branch names that look alike, carry shell syntax or are not ASCII. */
const BRANCHES = [
  "main",
  "feature",
  "feature-2",
  "feat",
  "team/feature",
  "x/refs/heads/feature",
  "y/refs/heads/lonely",
  "é/ünïcødé-🚀",
  `$(touch\${IFS}${canary})`,
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax as test data
  "a;touch${IFS}canary2",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax as test data
  "back`touch${IFS}canary3`",
  "quote'\"|&<>",
];

let shas: Record<string, string>;
let privShas: Record<string, string>;
let server: GitHttpServer;

before(async () => {
  shas = makeBareRepo(path.join(root, "suite.git"), BRANCHES);
  privShas = makeBareRepo(path.join(root, "private", "suite.git"), ["main", "feature"]);
  const dir = path.join(root, "suite.git");
  git(dir, ["tag", "v1", shas.feat!]);
  git(dir, ["tag", "-a", "-m", "two", "v2", shas["feature-2"]!]);
  server = await serveGitHttp(root, TOKEN);
});
after(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

const transports: [string, () => string][] = [
  ["file://", () => fileUrl(path.join(root, "suite.git"))],
  ["smart HTTP", () => `${server.url}/suite.git`],
];

for (const [transport, url] of transports) {
  describe(`resolveSuite over ${transport}`, () => {
    const suite = () => ({ url: url(), ref: "main", match_branch: true });

    it("uses the branch of exactly the same name", async () => {
      for (const b of BRANCHES) {
        const r = await resolveSuite(suite(), b);
        assert.deepEqual(
          { ref: r.ref, sha: r.sha, matched: r.matched },
          { ref: b, sha: shas[b], matched: true },
          `branch ${b}`,
        );
      }
    });

    it("never matches a prefix, an extension or a tail", async () => {
      for (const b of [
        "lonely",
        "fea",
        "feature-3",
        "feature-",
        "team",
        "feature/x",
        "refs/heads/feature",
        "heads/feature",
        "FEATURE",
      ]) {
        const r = await resolveSuite(suite(), b);
        assert.deepEqual(
          { ref: r.ref, sha: r.sha, matched: r.matched },
          { ref: "main", sha: shas.main, matched: false },
          b,
        );
      }
    });

    it("treats shell syntax in branch names as data", async () => {
      await resolveSuite(suite(), `$(touch\${IFS}${canary})`);
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax as test data
      await resolveSuite(suite(), "a;touch${IFS}canary2");
      // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax as test data
      await resolveSuite(suite(), "back`touch${IFS}canary3`");
      assert.equal(existsSync(canary), false);
      assert.equal(existsSync("canary2") || existsSync(path.join(root, "canary2")), false);
      assert.equal(existsSync("canary3") || existsSync(path.join(root, "canary3")), false);
    });

    it("rejects names git would reject, before running git", async () => {
      for (const b of [
        "feature..x",
        "-upload-pack=touch x",
        "a b",
        "x\ny",
        "HEAD",
        "a:b",
        "x~1",
        "x^",
        "a*",
        "x.lock",
        ".hidden",
        "a//b",
        "a/",
        "@{-1}",
        "ctl\x01",
        "\\x",
        "@",
      ]) {
        await assert.rejects(
          resolveSuite(suite(), b),
          (e: Error) => {
            assert.ok(e instanceof SuiteError);
            assert.match(e.message, /is not a valid git branch name/);
            assert.doesNotMatch(e.message, /\n/);
            return true;
          },
          JSON.stringify(b),
        );
      }
    });

    it("uses the default ref when matching is off or there is no branch", async () => {
      const off = await resolveSuite({ ...suite(), match_branch: false }, "feature");
      assert.deepEqual([off.ref, off.sha, off.matched], ["main", shas.main, false]);
      const none = await resolveSuite(suite(), null);
      assert.equal(none.sha, shas.main);
    });

    it("resolves a default ref that is a tag (annotated or not) or a SHA", async () => {
      const r1 = await resolveSuite({ ...suite(), ref: "v1", match_branch: false }, null);
      assert.equal(r1.sha, shas.feat);
      const r2 = await resolveSuite({ ...suite(), ref: "v2", match_branch: false }, null);
      assert.equal(r2.sha, shas["feature-2"], "annotated tags resolve to their commit");
      const r3 = await resolveSuite({ ...suite(), ref: shas.feat!, match_branch: false }, "nope");
      assert.equal(r3.sha, shas.feat);
      await assert.rejects(
        resolveSuite({ ...suite(), ref: "release", match_branch: false }, null),
        /suite ref "release" is neither a branch nor a tag/,
      );
    });
  });
}

describe("a private suite over smart HTTP", () => {
  const url = () => `${server.url}/private/suite.git`;

  it("fails clearly without credentials", async () => {
    await assert.rejects(
      resolveSuite({ url: url(), ref: "main", match_branch: true }, "feature"),
      (e: Error) => {
        assert.ok(e instanceof SuiteError);
        assert.match(
          e.message,
          /cannot list refs of http:\/\/127\.0\.0\.1:\d+\/private\/suite\.git/,
        );
        return true;
      },
    );
  });

  it("passes credentials through git's environment only: not argv, not the checkout", async () => {
    // A git wrapper records every argv git is started with.
    const log = path.join(root, "argv.log");
    const wrapper = path.join(root, "git-wrapper");
    writeFileSync(wrapper, `#!/bin/sh\nprintf '%s\\n' "$@" >> '${log}'\nexec git "$@"\n`);
    chmodSync(wrapper, 0o755);
    const auth = [{ url: url(), token: TOKEN }];
    const before = server.authorizations.length;
    const r = await resolveSuite({ url: url(), ref: "main", match_branch: true }, "feature", {
      auth,
      git: wrapper,
    });
    assert.deepEqual([r.sha, r.matched], [privShas.feature, true]);
    const dir = path.join(root, "checkout-private");
    await checkoutSuite(url(), r.sha, dir, { auth, git: wrapper, ref: r.ref });
    assert.equal(readFileSync(path.join(dir, "README"), "utf8"), "suite for feature\n");

    const basic = Buffer.from(`oauth2:${TOKEN}`).toString("base64");
    assert.ok(
      server.authorizations.slice(before).includes(`Basic ${basic}`),
      "the server saw the credentials",
    );
    const argv = readFileSync(log, "utf8");
    assert.ok(argv.includes("ls-remote"), "the wrapper ran");
    assert.ok(!argv.includes(TOKEN) && !argv.includes(basic), "no credential in argv");
    for (const f of walk(dir)) {
      const content = readFileSync(f);
      assert.ok(!content.includes(TOKEN) && !content.includes(basic), `no credential in ${f}`);
    }
  });
});

describe("checkoutSuite", () => {
  it("checks out exactly the resolved commit, even after the branch moved", async () => {
    const bare = path.join(root, "moving.git");
    const first = makeBareRepo(bare, ["main"]).main!;
    commitOn(bare, "main", "newer\n");
    for (const [name, url] of [
      ["file", fileUrl(bare)],
      ["http", `${server.url}/moving.git`],
    ] as const) {
      const dir = path.join(root, `co-${name}`);
      const co = await checkoutSuite(url, first, dir, { ref: "main" });
      assert.equal(co.sha, first);
      assert.equal(readFileSync(path.join(dir, "README"), "utf8"), "suite for main\n");
    }
  });

  it("refuses a short SHA, a non-empty directory and an unknown commit", async () => {
    const url = fileUrl(path.join(root, "suite.git"));
    await assert.rejects(checkoutSuite(url, "abc123", path.join(root, "x1")), /not a full SHA/);
    const busy = path.join(root, "busy");
    await checkoutSuite(url, shas.main!, busy);
    await assert.rejects(checkoutSuite(url, shas.main!, busy), /is not empty/);
    await assert.rejects(
      checkoutSuite(url, "0".repeat(40), path.join(root, "x2")),
      /cannot fetch suite commit 0{40}/,
    );
  });
});

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}
