// Runs the `airlock` command line as a child process, the way a user does, over the current
// source (compiled.ts), so the tests never depend on a prior build.
import { type ChildProcess, spawn } from "node:child_process";
import { compiledCli } from "./compiled.js";
import { PATIENCE_MS } from "./patience.js";

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Written to the CLI's stdin, then stdin is closed (secret values travel this way). */
  stdin?: string;
  /** A command the CLI runs under, e.g. a bwrap that hides a binary. */
  wrap?: string[];
  /** Killed (and the test fails on the result) after this long. Default 45 s. */
  timeoutMs?: number;
}

/**
 * A `wrap` that runs the CLI in a mount namespace where /usr/bin/bwrap is not executable, as if
 * bubblewrap were not installed.
 */
export const WITHOUT_BWRAP = [
  "bwrap",
  "--die-with-parent",
  "--dev-bind",
  "/",
  "/",
  "--ro-bind",
  "/dev/null",
  "/usr/bin/bwrap",
  "--",
];

/** The command line of `airlock ARGS` over the current source. */
export function cliCommand(args: string[]): string[] {
  // `--` as in bin/airlock.js: the arguments after it are Airlock's alone.
  return [process.execPath, "--", compiledCli(), ...args];
}

/** Spawns `airlock ARGS`; the caller owns the process (for signals). */
export function spawnCli(args: string[], opts: CliOptions): ChildProcess {
  const cmd = [...(opts.wrap ?? []), ...cliCommand(args)];
  const child = spawn(cmd[0]!, cmd.slice(1), {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdin!.end(opts.stdin ?? "");
  return child;
}

/** Collects a spawned CLI's output until it exits. */
export function collect(child: ChildProcess, timeoutMs = PATIENCE_MS): Promise<CliResult> {
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (s: string) => {
    stdout += s;
  });
  child.stderr!.setEncoding("utf8").on("data", (s: string) => {
    stderr += s;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`airlock did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export function runCli(args: string[], opts: CliOptions): Promise<CliResult> {
  return collect(spawnCli(args, opts), opts.timeoutMs);
}

/** A readable description of a result, for assertion messages. */
export function show(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ""}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}
