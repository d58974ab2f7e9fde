// Baselines for the scheduler benchmark, measured in the same run: a bare `sh -c true` spawn and
// a bare `bwrap … true` sandbox (alone, and two at a time), plus the small repository its jobs
// check out and a reading of how busy the machine's cores were.
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { sandboxFlags } from "../src/executors/local/bwrap-args.js";
import { findBwrap } from "../src/executors/local/check.js";
import { systemLayout } from "../src/executors/local/layout.js";

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

/** `n` runs of `once`, `parallel` at a time, after one warm-up (page cache, binary loading). */
export async function timeRuns(
  n: number,
  once: () => Promise<unknown>,
  parallel = 1,
): Promise<Timing> {
  await once();
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next++ < n) await once();
    }),
  );
  const totalMs = performance.now() - t0;
  return { runs: n, totalMs, perRunMs: totalMs / n };
}

/** `sh -c true`, spawned `n` times in sequence. */
export function measureShSpawn(n: number): Promise<Timing> {
  return timeRuns(n, () => spawnOnce("/bin/sh", ["-c", "true"]));
}

/** The argument list of a bare sandbox: the same namespaces and system mounts, no workspace. */
export function bareBwrapArgs(): string[] {
  return [
    ...sandboxFlags({ network: false }),
    ...systemLayout().args,
    ...["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--", "/bin/true"],
  ];
}

/** A bare `bwrap --unshare-all --die-with-parent --ro-bind /usr /usr … true`, `n` times. */
export function measureBareBwrap(n: number, parallel = 1): Promise<Timing> {
  const bwrap = findBwrap() ?? "/usr/bin/bwrap";
  const args = bareBwrapArgs();
  return timeRuns(n, () => spawnOnce(bwrap, args), parallel);
}

/** The share of the machine's CPU time (all cores) that was not idle while `fn` ran. */
export async function busyWhile<T>(fn: () => Promise<T>): Promise<{ value: T; busy: number }> {
  const read = () =>
    readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const before = read();
  const value = await fn();
  const delta = read().map((v, i) => v - before[i]!);
  const total = delta.reduce((a, b) => a + b, 0);
  // Fields 3 and 4 of the cpu line are idle and iowait.
  return { value, busy: total > 0 ? 1 - (delta[3]! + delta[4]!) / total : 0 };
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
