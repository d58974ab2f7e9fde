// A cached home kept in memory (a tmpfs) when its entry fits: restored there, bounded by
// limits.home as the sandbox's own home is, and gone with the workspace; on disk otherwise.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statfsSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import type { CacheSpec } from "../../src/cache/job-cache.js";
import { cacheScope } from "../../src/cache/scope.js";
import { CacheStore } from "../../src/cache/store.js";
import type { LocalExecutorOptions } from "../../src/executors/local/executor.js";
import { LocalExecutor } from "../../src/executors/local/executor.js";
import type { JobResult } from "../../src/executors/types.js";
import { job, makeRepo, request, tempDir } from "../executors/local/helpers.js";

const MiB = 1024 ** 2;
const TRUSTED = { repo: "acme/app", trusted: true, pr: null };
const SPEC: CacheSpec = { key: 'home-{{ hash "lock" }}', restoreKeys: [], paths: ["~/.npm"] };
/** Fills ~/.npm with 2 MiB the first time; says where the home lives and what it holds. */
const SCRIPT = [
  "test -f ~/.npm/blob || { mkdir -p ~/.npm && head -c 2097152 /dev/urandom > ~/.npm/blob; }",
  'echo "home fs: $(stat -f -c %T ~)"',
  'echo "blob: $(stat -c %s ~/.npm/blob)"',
].join("\n");
/** Our own workspace roots in /dev/shm: their owner file names this process. */
const ownShmRoots = () =>
  readdirSync("/dev/shm").filter((n) => {
    if (!n.startsWith("airlock-")) return false;
    const owner = path.join("/dev/shm", n, "owner");
    return existsSync(owner) && readFileSync(owner, "utf8").startsWith(`${process.pid} `);
  });

describe("cache: a home in memory", () => {
  const t = tempDir("airlock-cache-mem-");
  let repo: string;
  let sha: string;
  let diskFs: string;

  before(() => {
    ({ repo, sha } = makeRepo(t.dir, { lock: "1\n" }));
    diskFs = execFileSync("stat", ["-f", "-c", "%T", t.dir], { encoding: "utf8" }).trim();
    // /dev/shm is a tmpfs on Linux (64 MiB in a default container): these tests fit in it.
    assert.equal(statfsSync("/dev/shm").type, 0x01021994, "/dev/shm must be a tmpfs");
  });
  after(() => t.cleanup());

  async function run(
    store: CacheStore,
    script: string,
    homeBytes: number,
    opts: Partial<LocalExecutorOptions> = {},
  ): Promise<{ r: JobResult; out: string }> {
    const ex = new LocalExecutor({ cache: store, tempDir: t.dir, dataDir: store.dir, ...opts });
    const c = request(
      { kind: "commit", repoDir: repo, sha },
      job(script, { cache: SPEC, limits: { homeBytes }, timeoutMs: 120_000 }),
      { cacheScope: cacheScope(TRUSTED, []) },
    );
    try {
      return { r: await ex.run(c.req), out: c.text() };
    } finally {
      await ex.close();
    }
  }

  test("an entry filling at most half of limits.home is restored into memory, and nothing of it stays", async () => {
    const store = new CacheStore(path.join(t.dir, "store-fits"));
    // No entry yet (its size unknown): the home is on disk, as before; the save records the size.
    const first = await run(store, SCRIPT, 16 * MiB);
    assert.equal(first.r.status, "passed", first.out);
    assert.match(first.out, new RegExp(`^home fs: ${diskFs}$`, "m"));
    const [entry] = await store.entries("acme/app/trusted");
    assert.equal(entry?.unpacked?.home, 2 * MiB);
    const second = await run(store, SCRIPT, 16 * MiB);
    assert.equal(second.r.status, "passed", second.out);
    assert.match(second.out, /cache: restored home-\S+ \(exact key/);
    assert.match(second.out, /^home fs: tmpfs$/m);
    assert.match(second.out, /^blob: 2097152$/m);
    // The workspace, home included, is removed with the run: no root of ours is left in memory.
    assert.deepEqual(ownShmRoots(), []);
  });

  test("a home in memory is bounded by limits.home: a job growing past it is stopped", async () => {
    const store = new CacheStore(path.join(t.dir, "store-limit"));
    assert.equal((await run(store, SCRIPT, 16 * MiB)).r.status, "passed");
    const grow = `${SCRIPT}\nhead -c ${20 * MiB} /dev/zero > ~/big\nsleep 100`;
    const { r, out } = await run(store, grow, 16 * MiB);
    assert.match(out, /^home fs: tmpfs$/m);
    assert.equal(r.status, "failed", out);
    assert.ok(
      r.notes?.some((n) => /^killed: the home used [\d.]+ MiB, past its limit of 16 MiB/.test(n)),
      JSON.stringify(r.notes),
    );
    assert.deepEqual(ownShmRoots(), []);
  });

  test("an entry over half of limits.home, or a memory directory that is not a tmpfs, keeps the home on disk", async () => {
    const store = new CacheStore(path.join(t.dir, "store-disk"));
    assert.equal((await run(store, SCRIPT, 16 * MiB)).r.status, "passed");
    const tight = await run(store, SCRIPT, 3 * MiB);
    assert.match(tight.out, /cache: restored home-/);
    assert.match(tight.out, new RegExp(`^home fs: ${diskFs}$`, "m"));
    assert.match(tight.out, /^blob: 2097152$/m);
    const noTmpfs = await run(store, SCRIPT, 16 * MiB, { memoryDir: t.dir });
    assert.match(noTmpfs.out, new RegExp(`^home fs: ${diskFs}$`, "m"));
    assert.match(noTmpfs.out, /^blob: 2097152$/m);
  });
});
