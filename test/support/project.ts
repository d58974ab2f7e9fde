// A throwaway project for end-to-end tests: a real git repository, Airlock's data directory, a
// private temp directory (where the executor makes its workspaces) and a home, all under one
// temp root; and the `airlock` CLI run against them with a random master key.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import SQLite from "better-sqlite3";
import { type CliResult, runCli, spawnCli } from "./cli.js";

export interface ProjectOptions {
  /** Files of the first commit (path -> content). */
  files: Record<string, string>;
  /** false: no AIRLOCK_MASTER_KEY, so the store creates <data>/master.key. */
  envMasterKey?: boolean;
}

export interface JobRow {
  run_id: string;
  job_id: string;
  state: string;
  reason: string;
  exit_code: number | null;
  tests_passed: number;
  tests_failed: number;
  tests_skipped: number;
  tests: string;
  grants: string;
  error: string | null;
  notes: string;
}

/** Git with a fixed identity and no user or system configuration. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: {
      PATH: process.env.PATH,
      HOME: cwd,
      GIT_AUTHOR_NAME: "Test",
      GIT_AUTHOR_EMAIL: "test@example.com",
      GIT_COMMITTER_NAME: "Test",
      GIT_COMMITTER_EMAIL: "test@example.com",
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_CONFIG_GLOBAL: "/dev/null",
    },
  }).trim();
}

export class Project {
  readonly root: string;
  readonly repo: string;
  readonly dataDir: string;
  /** TMPDIR of the CLI: the executor's per-run workspace roots are made here. */
  readonly tmp: string;
  readonly home: string;
  readonly masterKey: string | null;

  constructor(opts: ProjectOptions) {
    this.root = mkdtempSync(path.join(tmpdir(), "airlock-e2e-"));
    this.repo = path.join(this.root, "repo");
    this.dataDir = path.join(this.root, "data");
    this.tmp = path.join(this.root, "tmp");
    this.home = path.join(this.root, "home");
    for (const d of [this.repo, this.tmp, this.home]) mkdirSync(d, { recursive: true });
    this.masterKey = opts.envMasterKey === false ? null : randomBytes(32).toString("hex");
    git(this.repo, "init", "-q", "-b", "main");
    this.commit(opts.files, "init");
  }

  /** Writes files (without committing them). */
  write(files: Record<string, string>): void {
    for (const [name, content] of Object.entries(files)) {
      const file = path.join(this.repo, name);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, content);
    }
  }

  /** Writes and commits files; returns the new HEAD. */
  commit(files: Record<string, string>, message = "change"): string {
    this.write(files);
    git(this.repo, "add", "-A");
    git(this.repo, "commit", "-q", "--allow-empty", "-m", message);
    return git(this.repo, "rev-parse", "HEAD");
  }

  /** The CLI's environment: nothing of ours leaks in but PATH. */
  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: this.home,
      LANG: "C.UTF-8",
      TMPDIR: this.tmp,
      AIRLOCK_HOME: this.dataDir,
      ...(this.masterKey ? { AIRLOCK_MASTER_KEY: this.masterKey } : {}),
      ...extra,
    };
  }

  cli(
    args: string[],
    opts: {
      stdin?: string;
      env?: NodeJS.ProcessEnv;
      cwd?: string;
      timeoutMs?: number;
      wrap?: string[];
    } = {},
  ): Promise<CliResult> {
    return runCli(args, {
      cwd: opts.cwd ?? this.repo,
      env: opts.env ?? this.env(),
      stdin: opts.stdin,
      timeoutMs: opts.timeoutMs,
      wrap: opts.wrap,
    });
  }

  spawn(args: string[], env: NodeJS.ProcessEnv = this.env()) {
    return spawnCli(args, { cwd: this.repo, env });
  }

  /** `airlock secrets set SET KEY` with the value on stdin (never argv). */
  async setSecret(set: string, key: string, value: string, opts: { file?: boolean } = {}) {
    const r = await this.cli(["secrets", "set", set, key, ...(opts.file ? ["--file"] : [])], {
      stdin: value,
    });
    if (r.code !== 0) {
      throw new Error(`airlock secrets set ${set} ${key} failed (${r.code}): ${r.stderr}`);
    }
    return r;
  }

  /**
   * Stores several values, each through `airlock secrets set` and stdin: the first alone (it
   * creates the store's keys), the rest at once.
   */
  async setSecrets(
    set: string,
    values: { key: string; value: string; file?: boolean }[],
  ): Promise<void> {
    const [first, ...rest] = values;
    if (!first) return;
    await this.setSecret(set, first.key, first.value, first);
    await Promise.all(rest.map((v) => this.setSecret(set, v.key, v.value, v)));
  }

  /** Reads the database directly (after the CLI has exited). */
  query<T>(sql: string, ...params: unknown[]): T[] {
    const db = new SQLite(path.join(this.dataDir, "airlock.db"));
    try {
      return db.prepare(sql).all(...params) as T[];
    } finally {
      db.close();
    }
  }

  runStatus(runId: string): string | undefined {
    return this.query<{ status: string }>("select status from runs where id = ?", runId)[0]?.status;
  }

  jobs(runId: string): JobRow[] {
    return this.query<JobRow>("select * from jobs where run_id = ? order by seq", runId);
  }

  /** Every stored log of a run: job id -> text. */
  async logs(runId: string): Promise<Record<string, string>> {
    const dir = path.join(this.dataDir, "logs", runId);
    const out: Record<string, string> = {};
    if (!existsSync(dir)) return out;
    for (const f of await readdir(dir)) {
      if (f.endsWith(".log")) out[f.slice(0, -4)] = await readFile(path.join(dir, f), "utf8");
    }
    return out;
  }

  /** Workspace roots the executor left in the CLI's temp directory. */
  leftoverWorkspaces(): string[] {
    return readdirSync(this.tmp).filter((n) => n.startsWith("airlock-"));
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Every file under `dir`, recursively (paths). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** The `run …` id printed at the end of a plain run. */
export function runIdOf(stdout: string): string {
  const m = /^run (\S+) (passed|failed|cancelled|error)/m.exec(stdout);
  if (!m) throw new Error(`no run id in the output:\n${stdout}`);
  return m[1]!;
}
