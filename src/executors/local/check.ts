// Is bubblewrap here, and can it actually make a sandbox on this machine?
import { execFile } from "node:child_process";
import { accessSync, constants } from "node:fs";
import path from "node:path";
import { sandboxFlags } from "./bwrap-args.js";
import { systemLayout } from "./layout.js";

export const INSTALL_HINT = "apt-get install -y bubblewrap";

export interface SandboxCheck {
  ok: boolean;
  /** The bwrap binary found (absolute path). */
  bwrap?: string;
  version?: string;
  /** One line: what works, or what is wrong and how to fix it. */
  message: string;
}

/** Thrown where a job needs the sandbox and there is none. */
export class SandboxUnavailableError extends Error {}

const cache = new Map<string, Promise<SandboxCheck>>();

/** Finds bwrap on PATH (or takes the given path) and runs one real, minimal sandbox. Cached. */
export function checkSandbox(bwrapPath?: string): Promise<SandboxCheck> {
  const key = bwrapPath ?? "";
  let c = cache.get(key);
  if (!c) {
    c = probe(bwrapPath);
    cache.set(key, c);
  }
  return c;
}

export async function bwrapAvailable(bwrapPath?: string): Promise<boolean> {
  return (await checkSandbox(bwrapPath)).ok;
}

/** Throws SandboxUnavailableError with the fix when the sandbox cannot run. */
export async function requireSandbox(bwrapPath?: string): Promise<string> {
  const c = await checkSandbox(bwrapPath);
  if (!c.ok || !c.bwrap) throw new SandboxUnavailableError(c.message);
  return c.bwrap;
}

export function findBwrap(envPath = process.env.PATH ?? ""): string | null {
  return findExecutable("bwrap", envPath);
}

/** `name` on PATH, or in /usr/bin or /usr/local/bin. */
export function findExecutable(name: string, envPath = process.env.PATH ?? ""): string | null {
  const dirs = [...envPath.split(path.delimiter).filter(Boolean), "/usr/bin", "/usr/local/bin"];
  return dirs.map((d) => path.resolve(d, name)).find(isExecutable) ?? null;
}

export function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function probe(bwrapPath?: string): Promise<SandboxCheck> {
  const bwrap = bwrapPath ?? findBwrap();
  if (!bwrap || !isExecutable(bwrap)) {
    return {
      ok: false,
      message: `bubblewrap (bwrap) is not installed, so jobs cannot run in a sandbox: ${INSTALL_HINT}`,
    };
  }
  const version = await run(bwrap, ["--version"]);
  if (version.code !== 0) {
    return {
      ok: false,
      bwrap,
      message: `${bwrap} does not run (${firstLine(version.stderr) || `exit ${version.code}`}): reinstall it with ${INSTALL_HINT}`,
    };
  }
  const smoke = await runInProbeSandbox(bwrap, "exit 0");
  const v = version.stdout.trim();
  if (smoke.code !== 0) {
    return {
      ok: false,
      bwrap,
      version: v,
      message: `${v || bwrap} is installed but cannot make a sandbox here (${firstLine(smoke.stderr) || `exit ${smoke.code}`}): it needs user namespaces (sysctl kernel.unprivileged_userns_clone=1, or run as root); ${INSTALL_HINT} gives a working version on Debian`,
    };
  }
  return { ok: true, bwrap, version: v, message: `${v} works (${bwrap})` };
}

/**
 * Runs a shell command in the minimal sandbox the check makes: the namespaces every job gets,
 * without network, the system directories read-only, a fresh /proc, /dev and /tmp.
 */
export function runInProbeSandbox(bwrap: string, script: string): Promise<ProbeResult> {
  return run(bwrap, [
    ...sandboxFlags({ network: false }),
    ...systemLayout().args,
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--tmpfs",
    "/tmp",
    "--",
    "/bin/sh",
    "-c",
    script,
  ]);
}

export interface ProbeResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function firstLine(s: string): string {
  return s.trim().split("\n")[0] ?? "";
}

/** Runs a short check command with a minimal environment. */
export function run(file: string, args: string[]): Promise<ProbeResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { env: { PATH: "/usr/bin:/bin" }, timeout: 10_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 127) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) || (err?.message ?? "") });
      },
    );
  });
}
