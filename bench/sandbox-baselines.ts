// Per-job cost of the local executor beside two baselines measured in the same process: a bare
// `sh -c true` spawn and a bare `bwrap … true` sandbox. The scheduler benchmark reuses these.
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { LocalExecutor } from "../src/sandbox/bwrap.js";
import { sandboxFlags } from "../src/sandbox/bwrap-args.js";
import { findBwrap } from "../src/sandbox/check.js";
import { systemLayout } from "../src/sandbox/layout.js";
import type { BenchResult } from "./types.js";

export interface Timing {
  runs: number;
  totalMs: number;
  perRunMs: number;
}

function spawnOnce(file: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: { PATH: "/usr/bin:/bin" } }, (err) =>
      err ? reject(err) : resolve(),
    );
  });
}

async function timeSequential(n: number, once: () => Promise<unknown>): Promise<Timing> {
  await once(); // warm-up: page cache, binary loading
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await once();
  const totalMs = performance.now() - t0;
  return { runs: n, totalMs, perRunMs: totalMs / n };
}

/**
 * Runs each measured operation once per round, in turn, so that the machine's load drifts over
 * all of them alike (these machines are shared and noisy). Returns one timing per operation.
 */
export async function timeInterleaved(
  n: number,
  ops: Record<string, () => Promise<unknown>>,
): Promise<Record<string, Timing>> {
  const totals: Record<string, number> = {};
  for (const [name, op] of Object.entries(ops)) {
    await op(); // warm-up
    totals[name] = 0;
  }
  for (let i = 0; i < n; i++) {
    for (const [name, op] of Object.entries(ops)) {
      const t0 = performance.now();
      await op();
      totals[name]! += performance.now() - t0;
    }
  }
  return Object.fromEntries(
    Object.entries(totals).map(([k, totalMs]) => [k, { runs: n, totalMs, perRunMs: totalMs / n }]),
  );
}

export const shSpawnOnce = (): Promise<void> => spawnOnce("/bin/sh", ["-c", "true"]);

/** `sh -c true`, spawned `n` times in sequence. */
export function measureShSpawn(n: number): Promise<Timing> {
  return timeSequential(n, shSpawnOnce);
}

/** The argument list of a bare sandbox: the same namespaces and system mounts, no workspace. */
export function bareBwrapArgs(): string[] {
  return [
    ...sandboxFlags({ network: false }),
    ...systemLayout().args,
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--tmpfs",
    "/tmp",
    "--",
    "/bin/true",
  ];
}

/** A bare `bwrap --unshare-all --die-with-parent --ro-bind /usr /usr … true`, `n` times. */
export function measureBareBwrap(
  n: number,
  bwrap = findBwrap() ?? "/usr/bin/bwrap",
): Promise<Timing> {
  const args = bareBwrapArgs();
  return timeSequential(n, () => spawnOnce(bwrap, args));
}

/** A small repository (a dozen files in a few directories) with one commit. */
export function makeBenchRepo(dir: string): { repo: string; sha: string } {
  const repo = path.join(dir, "repo");
  mkdirSync(path.join(repo, "src", "lib"), { recursive: true });
  mkdirSync(path.join(repo, "test"), { recursive: true });
  const files: Record<string, string> = {
    "package.json": '{ "name": "bench", "version": "1.0.0" }\n',
    "README.md": "# bench\n",
    ".airlock.yml": "version: 1\njobs:\n  noop:\n    run: true\n",
  };
  for (let i = 0; i < 6; i++) files[`src/lib/m${i}.js`] = `export const v${i} = ${i};\n`.repeat(20);
  for (let i = 0; i < 3; i++) files[`test/t${i}.js`] = `// test ${i}\n`.repeat(10);
  for (const [f, c] of Object.entries(files)) writeFileSync(path.join(repo, f), c);
  const env = {
    PATH: process.env.PATH,
    HOME: dir,
    GIT_AUTHOR_NAME: "bench",
    GIT_AUTHOR_EMAIL: "bench@example.com",
    GIT_COMMITTER_NAME: "bench",
    GIT_COMMITTER_EMAIL: "bench@example.com",
  };
  const git = (...a: string[]) => execFileSync("git", a, { cwd: repo, env, encoding: "utf8" });
  git("init", "-q");
  git("add", "-A");
  git("commit", "-q", "-m", "bench");
  return { repo, sha: git("rev-parse", "HEAD").trim() };
}

/** One no-op job through `executor`, workspace creation and removal included. */
export function executorNoopOnce(
  executor: LocalExecutor,
  opts: { repo: string; sha: string },
): () => Promise<void> {
  return async () => {
    const output = new PassThrough();
    output.resume();
    const r = await executor.run({
      runId: "bench",
      job: {
        id: "noop",
        template: "noop",
        matrix: {},
        run: "true",
        needs: [],
        tags: [],
        secrets: [],
        env: {},
        timeoutMs: 60_000,
        network: false,
        reports: [],
      },
      checkout: { kind: "commit", repoDir: opts.repo, sha: opts.sha },
      env: {},
      secretEnv: {},
      secretFiles: [],
      mounts: [],
      output,
      signal: new AbortController().signal,
    });
    if (r.status !== "passed") throw new Error(`no-op job ${r.status}: ${r.error ?? ""}`);
  };
}

/** The executor running a no-op job `n` times in sequence, workspace creation and removal included. */
export async function measureExecutorNoop(
  n: number,
  opts: { repo: string; sha: string; sandbox?: boolean; tempDir?: string },
): Promise<Timing> {
  const executor = new LocalExecutor({ sandbox: opts.sandbox ?? true, tempDir: opts.tempDir });
  try {
    return await timeSequential(n, executorNoopOnce(executor, opts));
  } finally {
    await executor.close();
  }
}

/** The three measurements as one benchmark result (for `npm run bench`). */
export async function sandboxBaselines(
  n = 50,
  opts: { tempDir?: string } = {},
): Promise<BenchResult> {
  const dir = mkdtempSync(path.join(tmpdir(), "airlock-bench-"));
  try {
    const { repo, sha } = makeBenchRepo(dir);
    const executor = new LocalExecutor({ tempDir: opts.tempDir });
    const bwrapPath = findBwrap() ?? "/usr/bin/bwrap";
    const bare = bareBwrapArgs();
    const m = await timeInterleaved(n, {
      sh: shSpawnOnce,
      bwrap: () => spawnOnce(bwrapPath, bare),
      job: executorNoopOnce(executor, { repo, sha }),
    }).finally(() => executor.close());
    const [sh, bwrap, job] = [m.sh!, m.bwrap!, m.job!];
    return {
      bench: `sandbox: per-job cost, ${n} interleaved rounds`,
      rows: [
        { name: "sh -c true", value: sh.perRunMs, unit: "ms/run" },
        {
          name: "bare bwrap … true",
          value: bwrap.perRunMs,
          unit: "ms/run",
          ratio: { value: bwrap.perRunMs / sh.perRunMs, against: "sh -c true" },
        },
        {
          name: "LocalExecutor no-op job (workspace included)",
          value: job.perRunMs,
          unit: "ms/job",
          ratio: { value: job.perRunMs / bwrap.perRunMs, against: "bare bwrap" },
        },
        {
          name: "executor overhead over bare bwrap",
          value: job.perRunMs - bwrap.perRunMs,
          unit: "ms/job",
        },
      ],
      notes: [
        "target: the executor adds at most 10 ms per job over bare bwrap",
        `workspaces under ${opts.tempDir ?? "the OS temp directory"}`,
      ],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
