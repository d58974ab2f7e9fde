// Cache poisoning and escapes, attacked through the real local executor (bubblewrap) and a real
// store on disk: what a pull request saves stays its own, restricted jobs never restore what
// untrusted code wrote, nothing saved or restored leaves the workspace or the home, and the
// store keeps to its budget.
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { CacheSpec } from "../../src/cache/job-cache.js";
import { type CacheTrust, cacheScope } from "../../src/cache/scope.js";
import { CacheStore } from "../../src/cache/store.js";
import { CacheSchema } from "../../src/config/cache-schema.js";
import { LocalExecutor } from "../../src/executors/local/executor.js";
import { git, job, makeRepo, request, tempDir } from "../executors/local/helpers.js";

const REPO = "acme/app";
const TRUSTED: CacheTrust = { repo: REPO, trusted: true, pr: null };
const pr = (n: number): CacheTrust => ({ repo: REPO, trusted: false, pr: n });
const SPEC: CacheSpec = {
  key: 'deps-{{ hash "package-lock.json" }}',
  restoreKeys: ["deps-"],
  paths: ["node_modules", "~/.npm"],
};

describe("caches: trust scopes and escapes (real sandbox)", () => {
  const t = tempDir("airlock-cache-test-");
  let repo: string;
  let sha: string;
  let outside: string;

  before(() => {
    ({ repo, sha } = makeRepo(t.dir, { "package-lock.json": '{"lockfileVersion":3}\n' }));
    outside = path.join(t.dir, "outside");
    mkdirSync(outside);
    writeFileSync(path.join(outside, "id_rsa"), "HOST PRIVATE KEY\n");
  });
  after(() => t.cleanup());

  /** Runs `script` as a job with `trust` against `store`; returns its output. */
  async function run(
    store: CacheStore,
    trust: CacheTrust,
    script: string,
    over: { secrets?: string[]; spec?: CacheSpec; sha?: string } = {},
  ): Promise<string> {
    const ex = new LocalExecutor({ cache: store, tempDir: t.dir, dataDir: store.dir });
    const secrets = over.secrets ?? [];
    const c = request(
      { kind: "commit", repoDir: repo, sha: over.sha ?? sha },
      job(script, { secrets, cache: over.spec ?? SPEC }),
      { cacheScope: cacheScope(trust, secrets) },
    );
    try {
      const r = await ex.run(c.req);
      assert.equal(r.status, "passed", `${c.text()}\n${r.error ?? ""}`);
      return c.text();
    } finally {
      await ex.close();
    }
  }

  const POISON =
    "mkdir -p node_modules ~/.npm && echo poisoned > node_modules/x && echo p > ~/.npm/y";
  const PROBE =
    "cat node_modules/x 2>/dev/null || echo 'no node_modules/x'; cat ~/.npm/y 2>/dev/null || echo 'no ~/.npm/y'";

  test("a pull request's save is its own: another PR, the default branch and its restricted jobs never restore it", async () => {
    const store = new CacheStore(path.join(t.dir, "store-scopes"));
    const saved = await run(store, pr(1), POISON);
    assert.match(saved, /cache: no entry for deps-[0-9a-f]{20}/);
    assert.match(saved, /cache: saved deps-/);
    // The same PR gets it back (the scope works at all)…
    const same = await run(store, pr(1), PROBE);
    assert.match(same, /cache: restored deps-\S+ \(exact key, saved by pr-1/);
    assert.match(same, /^poisoned$/m);
    // …nobody else does, not even with the very same key.
    for (const [who, out] of [
      ["PR 2", await run(store, pr(2), PROBE)],
      ["the default branch", await run(store, TRUSTED, PROBE)],
      ["PR 1's restricted job", await run(store, pr(1), PROBE, { secrets: ["deploy"] })],
      ["a trusted restricted job", await run(store, TRUSTED, PROBE, { secrets: ["deploy"] })],
    ] as const) {
      assert.match(out, /cache: no entry for deps-/, who);
      assert.doesNotMatch(out, /poisoned/, who);
      assert.match(out, /no node_modules\/x/, who);
    }
  });

  test("trusted entries are read by pull requests, never overwritten by them; secret-bearing entries stay with the jobs holding the same sets", async () => {
    const store = new CacheStore(path.join(t.dir, "store-trusted"));
    await run(store, TRUSTED, "mkdir -p node_modules && echo trusted > node_modules/x");
    await run(store, TRUSTED, "mkdir -p ~/.npm && echo token-left-behind > ~/.npm/y", {
      secrets: ["deploy"],
      spec: { ...SPEC, key: "secret-deps" },
    });
    // A PR restores the trusted entry exactly, so saves nothing; with another key it saves to itself.
    const read = await run(store, pr(7), PROBE);
    assert.match(read, /saved by trusted,/);
    assert.match(read, /^trusted$/m);
    assert.match(read, /restored exactly: not saved again/);
    await run(store, pr(7), "mkdir -p node_modules && echo evil > node_modules/x", {
      spec: { ...SPEC, key: "other-key", restoreKeys: [] },
    });
    assert.deepEqual(
      (await store.entries(`${REPO}/trusted`)).map((e) => e.key),
      [read.match(/restored (deps-[0-9a-f]+)/)![1]],
    );
    // What a restricted job saved is not for public jobs, nor for jobs with other secrets.
    const secretSpec = { ...SPEC, key: "secret-deps", restoreKeys: [] };
    for (const [who, secrets] of [
      ["public", []],
      ["other set", ["staging"]],
    ] as const) {
      const out = await run(store, TRUSTED, PROBE, { secrets: [...secrets], spec: secretSpec });
      assert.doesNotMatch(out, /token-left-behind/, who);
    }
    const same = await run(store, TRUSTED, PROBE, { secrets: ["deploy"], spec: secretSpec });
    assert.match(same, /token-left-behind/);
    // A PR's restricted job saves nothing at all.
    const prSecret = await run(store, pr(7), POISON, {
      secrets: ["deploy"],
      spec: { ...SPEC, key: "k2" },
    });
    assert.match(prSecret, /not saved: a restricted job of an untrusted run saves no cache/);
  });

  test("links leading out of the workspace are neither saved nor followed", async () => {
    const store = new CacheStore(path.join(t.dir, "store-links"));
    const saved = await run(
      store,
      TRUSTED,
      [
        "mkdir -p node_modules/pkg",
        "echo ok > node_modules/pkg/index.js",
        `ln -s ${outside} node_modules/host`,
        "ln -s ../../../.. node_modules/up",
        "ln -s pkg/index.js node_modules/inside",
        // A cached path reached through a link the job made to a host directory.
        `ln -s ${outside} ~/.npm`,
      ].join("\n"),
    );
    assert.match(saved, /not saved: node_modules\/host is a symlink leading out/);
    assert.match(saved, /not saved: node_modules\/up is a symlink leading out/);
    assert.match(saved, /not saved: \.npm is a symlink leading out/);
    const probe = await run(
      store,
      TRUSTED,
      "ls -A node_modules; cat node_modules/inside; ls ~/.npm 2>&1 || true",
    );
    assert.match(probe, /^ok$/m);
    assert.doesNotMatch(probe, /^(host|up)$/m);
    assert.doesNotMatch(probe, /id_rsa/);
  });

  test("a cached path under a symlinked directory is refused (no host file is read into the cache)", async () => {
    const store = new CacheStore(path.join(t.dir, "store-parent-link"));
    const spec = { key: "through", restoreKeys: [], paths: ["deps/id_rsa"] };
    const out = await run(store, TRUSTED, `ln -s ${outside} deps`, { spec });
    assert.match(out, /cache: deps\/id_rsa not saved: it is reached through a symlink/);
    const out2 = await run(store, TRUSTED, `mkdir -p d; ln -s ${outside} d/link`, {
      spec: { key: "through2", restoreKeys: [], paths: ["d/link/id_rsa"] },
    });
    assert.match(out2, /not saved: it is reached through a symlink/);
    assert.deepEqual(await store.entries(`${REPO}/trusted`), []);
  });

  test("a restore never writes through a symlink the commit put in the checkout", async () => {
    const store = new CacheStore(path.join(t.dir, "store-restore-link"));
    await run(store, TRUSTED, "mkdir -p node_modules && echo planted > node_modules/planted");
    // A later commit (a PR) makes node_modules a link to a host directory.
    const target = path.join(t.dir, "victim");
    mkdirSync(target);
    symlinkSync(target, path.join(repo, "node_modules"));
    git(repo, "add", "node_modules");
    git(repo, "commit", "-q", "-m", "link");
    const linked = git(repo, "rev-parse", "HEAD");
    try {
      // The link is replaced by the restored directory, never written through.
      const out = await run(store, pr(3), "test ! -L node_modules && cat node_modules/planted", {
        sha: linked,
      });
      assert.match(out, /cache: restored deps-/);
      assert.match(out, /^planted$/m);
      assert.deepEqual(readdirSync(target), []);
    } finally {
      git(repo, "rm", "-q", "node_modules");
      git(repo, "commit", "-q", "-m", "unlink");
    }
    // Or a file of the restored tree is a link to a host file: it is replaced, never written to.
    const victim = path.join(target, "file");
    writeFileSync(victim, "untouched\n");
    mkdirSync(path.join(repo, "node_modules"));
    symlinkSync(victim, path.join(repo, "node_modules", "planted"));
    git(repo, "add", "node_modules");
    git(repo, "commit", "-q", "-m", "file link");
    const fileLinked = git(repo, "rev-parse", "HEAD");
    try {
      const out = await run(
        store,
        pr(3),
        "test ! -L node_modules/planted && cat node_modules/planted",
        {
          sha: fileLinked,
        },
      );
      assert.match(out, /^planted$/m);
      assert.equal(readFileSync(victim, "utf8"), "untouched\n");
    } finally {
      git(repo, "rm", "-q", "-r", "node_modules");
      git(repo, "commit", "-q", "-m", "unlink");
    }
  });

  test("an entry over the whole budget is refused; the least recently used go first", async () => {
    const store = new CacheStore(path.join(t.dir, "store-budget"), 100_000);
    const spec = (key: string): CacheSpec => ({ key, restoreKeys: [], paths: ["node_modules"] });
    const blob = (kb: number) =>
      `mkdir -p node_modules && head -c ${kb}000 /dev/urandom > node_modules/blob`;
    const big = await run(store, TRUSTED, blob(200), { spec: spec("big") });
    assert.match(big, /cache: not saved: the cache is .* more than the whole cache budget/);
    await run(store, TRUSTED, blob(40), { spec: spec("a") });
    await run(store, TRUSTED, blob(40), { spec: spec("b") });
    // Using a makes b the least recently used; c then pushes b out.
    assert.match(await run(store, TRUSTED, "true", { spec: spec("a") }), /restored a/);
    await run(store, TRUSTED, blob(40), { spec: spec("c") });
    const keys = (await store.entries(`${REPO}/trusted`)).map((e) => e.key).sort();
    assert.deepEqual(keys, ["a", "c"]);
    assert.ok(
      !existsSync(path.join(store.dir, "tmp")) ||
        readdirSync(path.join(store.dir, "tmp")).length === 0,
    );
  });
});

describe("cache: configuration", () => {
  test("paths and keys that would leave the workspace or the home are refused, saying how to fix them", () => {
    const bad = [
      { paths: ["../x"], why: /climbs out/ },
      { paths: ["/etc"], why: /is absolute/ },
      { paths: ["~"], why: /name a directory in it/ },
      { paths: ["~/../.ssh"], why: /climbs out/ },
      { paths: ["~root/.ssh"], why: /starts with ~/ },
      { key: 'k-{{ hash "../../etc/passwd" }}', why: /must name a file of the workspace/ },
      { key: 'k-{{ hash "/etc/passwd" }}', why: /must name a file of the workspace/ },
      { key: "k/../../x", why: /only letters, digits/ },
      { key: "k-{{ env.HOME }}", why: /the only template is/ },
    ];
    for (const b of bad) {
      const r = CacheSchema.safeParse({ key: b.key ?? "k", paths: b.paths ?? ["node_modules"] });
      assert.equal(r.success, false, JSON.stringify(b));
      assert.match(r.error!.issues.map((i) => i.message).join("; "), b.why, JSON.stringify(b));
    }
    assert.ok(
      CacheSchema.safeParse({
        key: 'npm-{{ hash "a.json" "b/c.lock" }}',
        paths: ["~/.npm", "node_modules"],
      }).success,
    );
  });
});
