// Caches on a JavaScript project of realistic size (express, mocha, supertest and eslint: some
// 300 packages from the npm registry): the second `airlock run` of a pipeline whose job restores
// ~/.npm from its cache and runs `npm ci`, against the same script run directly in a shell with
// a warm npm cache, in the same run. Target: at most 1.3×. Needs the npm registry.
//
// Fair by construction: the shell runs the job's script itself (`bash -e -o pipefail`, as the job
// does) in a fresh copy of the checkout; the rounds interleave shell and pipeline runs so that a
// change of load hits both; the job gets as many CPUs as the shell has (limits.cpus). A public
// job's default is 1 CPU, so `npm ci`, which keeps about two cores busy, takes longer there by
// design: a row shows that cost apart. Two more rows put the pipeline's workspaces
// (AIRLOCK_WORKSPACES=/dev/shm) and the shell's copy and home on a tmpfs: restoring ~/.npm,
// installing node_modules and removing the workspace are file creations and removals, which a
// busy disk makes slow, and the tmpfs pair shows Airlock's own cost without them. The job's
// ~/.npm is restored into memory when it fits in half of limits.home (docs/configuration.md,
// "cache"), as a user's job gets it; the shell's warm ~/.npm is on disk, read from the page cache.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import path from "node:path";
import type { BenchResult } from "./types.js";

const RUNS = Number(process.env.AIRLOCK_BENCH_CACHE_RUNS ?? 3);
const NPM_CI = "npm ci --prefer-offline --no-audit --no-fund --ignore-scripts";
/** The job's script, and the shell's: install, then check that the install works. */
const SCRIPT = `${NPM_CI}\nnode -e "require('express'); console.log('ok')"\n`;
const CPUS = availableParallelism();
const PACKAGE = {
  name: "bench-app",
  version: "1.0.0",
  private: true,
  dependencies: { express: "^4.21.0" },
  devDependencies: { mocha: "^10.7.0", supertest: "^7.0.0", eslint: "^8.57.0" },
};
const job = (limits: string) => `    run: |
${SCRIPT.trimEnd()
  .split("\n")
  .map((l) => `      ${l}`)
  .join("\n")}
    network: true${limits}
    cache:
      key: npm-{{ hash "package-lock.json" }}
      restore_keys: [npm-]
      paths: [~/.npm]
`;
// Two jobs with the same script and cache: one with the shell's CPUs, one with the defaults.
const PIPELINE = `version: 1
jobs:
  install:
${job(`\n    limits: { cpus: ${CPUS} }`)}  install-default-limits:
${job("")}`;

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): void {
  execFileSync(cmd, args, { cwd, env, stdio: ["ignore", "ignore", "pipe"], maxBuffer: 64 << 20 });
}

function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export default async function cacheBench(): Promise<BenchResult> {
  const root = mkdtempSync(path.join(tmpdir(), "airlock-bench-cache-"));
  try {
    const repo = path.join(root, "repo");
    const shellHome = path.join(root, "shell-home");
    const tmp = path.join(root, "tmp");
    for (const d of [repo, shellHome, tmp]) mkdirSync(d, { recursive: true });
    const base = { PATH: process.env.PATH, LANG: "C.UTF-8", TMPDIR: tmp };
    const shellEnv = { ...base, HOME: shellHome, npm_config_cache: path.join(shellHome, ".npm") };
    writeFileSync(path.join(repo, "package.json"), `${JSON.stringify(PACKAGE, null, 2)}\n`);
    writeFileSync(path.join(repo, ".airlock.yml"), PIPELINE);
    writeFileSync(path.join(repo, ".gitignore"), "node_modules\n");
    try {
      sh("npm", ["install", "--package-lock-only", "--no-audit", "--no-fund"], repo, shellEnv);
    } catch (e) {
      return {
        bench: "cache: second pipeline run with a warm cache vs npm ci in a shell",
        rows: [],
        notes: [`skipped: the npm registry is not reachable (${String(e).split("\n")[0]})`],
      };
    }
    const git = (...a: string[]) =>
      sh("git", a, repo, {
        ...base,
        HOME: root,
        GIT_CONFIG_NOSYSTEM: "1",
        GIT_AUTHOR_NAME: "b",
        GIT_AUTHOR_EMAIL: "b@example.com",
        GIT_COMMITTER_NAME: "b",
        GIT_COMMITTER_EMAIL: "b@example.com",
      });
    git("init", "-q", "-b", "main");
    git("add", "-A");
    git("commit", "-q", "-m", "init");
    const lock = JSON.parse(readFileSync(path.join(repo, "package-lock.json"), "utf8"));
    const packages = Object.keys((lock as { packages: object }).packages).length - 1;

    // The shell: a fresh copy of the checkout each time, ~/.npm warm from a first install.
    const shellRun = (i: number, where = root, env: NodeJS.ProcessEnv = shellEnv) => {
      const dir = path.join(where, `shell-${i}`);
      cpSync(repo, dir, { recursive: true, filter: (s) => !s.endsWith("/.git") });
      const ms = timed(() => sh("bash", ["-e", "-o", "pipefail", "-c", SCRIPT], dir, env));
      rmSync(dir, { recursive: true, force: true });
      return ms;
    };
    shellRun(-1);
    // The same on a tmpfs: the copy and a home holding the same warm ~/.npm.
    const shm = existsSync("/dev/shm") ? mkdtempSync("/dev/shm/airlock-bench-") : null;
    const shmHome = shm ? path.join(shm, "shell-home") : "";
    if (shm) cpSync(path.join(shellHome, ".npm"), path.join(shmHome, ".npm"), { recursive: true });
    const shmShellEnv = {
      ...shellEnv,
      HOME: shmHome,
      npm_config_cache: path.join(shmHome, ".npm"),
    };

    // The pipeline: `airlock run`, whose first run fills the cache.
    const cli = path.resolve("bin/airlock.js");
    const airlockEnv = {
      ...base,
      HOME: path.join(root, "airlock-home"),
      AIRLOCK_HOME: path.join(root, "data"),
      AIRLOCK_MASTER_KEY: randomBytes(32).toString("hex"),
    };
    mkdirSync(airlockEnv.HOME, { recursive: true });
    const pipelineRun = (jobId: string, env: NodeJS.ProcessEnv = airlockEnv) =>
      timed(() => sh(process.execPath, [cli, "run", "--job", jobId], repo, env));
    const first = pipelineRun("install");
    const shell: number[] = [];
    const warm: number[] = [];
    const warmDefault: number[] = [];
    const shellShm: number[] = [];
    const warmShm: number[] = [];
    try {
      for (let i = 0; i < RUNS; i++) {
        shell.push(shellRun(i));
        if (shm) {
          shellShm.push(shellRun(i, shm, shmShellEnv));
          warmShm.push(pipelineRun("install", { ...airlockEnv, AIRLOCK_WORKSPACES: shm }));
        }
        warm.push(pipelineRun("install"));
        warmDefault.push(pipelineRun("install-default-limits"));
      }
    } finally {
      if (shm) rmSync(shm, { recursive: true, force: true });
    }

    const log = execFileSync(process.execPath, [cli, "logs"], {
      cwd: repo,
      env: airlockEnv,
      encoding: "utf8",
    });
    const cacheLines = log.split("\n").filter((l) => l.startsWith("airlock: cache:"));
    const s = median(shell);
    const p = median(warm);
    const d = median(warmDefault);
    return {
      bench: `cache: second pipeline run with a warm cache vs npm ci in a shell (${packages} packages)`,
      rows: [
        { name: "shell: the job's script, warm ~/.npm (median)", value: s, unit: "ms" },
        {
          name: "airlock run, first (fills the cache)",
          value: first,
          unit: "ms",
          ratio: { value: first / s, against: "shell" },
        },
        {
          name: `airlock run, warm cache, ${CPUS} CPUs (median)`,
          value: p,
          unit: "ms",
          ratio: { value: p / s, against: "shell" },
        },
        {
          name: "airlock run, warm cache, default 1 CPU (median)",
          value: d,
          unit: "ms",
          ratio: { value: d / s, against: "shell" },
        },
        ...(warmShm.length
          ? [
              { name: "shell on /dev/shm (median)", value: median(shellShm), unit: "ms" },
              {
                name: `airlock run, warm cache, ${CPUS} CPUs, workspaces on /dev/shm (median)`,
                value: median(warmShm),
                unit: "ms",
                ratio: { value: median(warmShm) / median(shellShm), against: "shell on /dev/shm" },
              },
            ]
          : []),
      ],
      notes: [
        `target: warm pipeline (with the shell's ${CPUS} CPUs) ≤ 1.3× the shell; ${RUNS} rounds, each running every row once; load average ${loadavg()
          .map((l) => l.toFixed(1))
          .join(" ")} at the end`,
        ...cacheLines,
      ],
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
