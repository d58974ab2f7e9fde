// Real git repositories and job requests for the sandbox tests.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import type { CheckoutSource, JobIO, JobRequest } from "../../../src/executors/types.js";
import type { PlannedJob } from "../../../src/pipeline/types.js";

export function tempDir(prefix = "airlock-sbx-test-"): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: {
      PATH: process.env.PATH,
      HOME: cwd,
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@example.com",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@example.com",
      GIT_CONFIG_NOSYSTEM: "1",
    },
  }).trim();
}

/** A repository with one commit of `files`; returns its path and the commit SHA. */
export function makeRepo(
  dir: string,
  files: Record<string, string>,
): { repo: string; sha: string } {
  const repo = path.join(dir, "repo");
  mkdirSync(repo, { recursive: true });
  git(repo, "init", "-q", "-b", "main");
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(repo, name)), { recursive: true });
    writeFileSync(path.join(repo, name), content);
  }
  git(repo, "add", "-A");
  git(repo, "commit", "-q", "-m", "init");
  return { repo, sha: git(repo, "rev-parse", "HEAD") };
}

export function job(run: string, over: Partial<PlannedJob> = {}): PlannedJob {
  return {
    id: "job",
    template: "job",
    matrix: {},
    run,
    needs: [],
    tags: [],
    secrets: [],
    env: {},
    timeoutMs: 30_000,
    network: false,
    reports: [],
    ...over,
  };
}

export interface Captured {
  req: JobRequest & JobIO;
  text(): string;
  /** Resolves once the output contains `s`. */
  waitFor(s: string): Promise<void>;
  abort(): void;
}

export function request(
  checkout: CheckoutSource,
  j: PlannedJob,
  over: Partial<JobRequest & JobIO> = {},
): Captured {
  const output = new PassThrough();
  let text = "";
  const waiters: { s: string; resolve(): void }[] = [];
  output.on("data", (c: Buffer) => {
    text += c.toString("utf8");
    for (const w of waiters.filter((w) => text.includes(w.s))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  const ctrl = new AbortController();
  const req: JobRequest & JobIO = {
    runId: "run-1",
    job: j,
    checkout,
    workdir: "",
    env: {},
    secretEnv: {},
    secretFiles: [],
    mounts: [],
    output,
    signal: ctrl.signal,
    ...over,
  };
  return {
    req,
    text: () => text,
    waitFor: (s) =>
      text.includes(s) ? Promise.resolve() : new Promise((resolve) => waiters.push({ s, resolve })),
    abort: () => ctrl.abort(),
  };
}

/** Host processes whose command line contains `needle` (every process, as root sees them). */
export function processesWith(needle: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (cmd.includes(needle)) found.push(Number(pid));
    } catch {}
  }
  return found;
}

export const token = (): string => randomBytes(8).toString("hex");
