// Resource limits for every job, set with util-linux's prlimit, which sets them on itself and
// then execs the command (bwrap, or the shell under --no-sandbox): they hold from the first
// instruction of the job, hard and soft, so nothing inside can raise them. Only numbers go on
// its command line.
import type { JobLimits } from "../types.js";
import { findExecutable, firstLine, isExecutable, run } from "./check.js";

export const PRLIMIT_HINT = "apt-get install -y util-linux";

export interface PrlimitCheck {
  ok: boolean;
  prlimit?: string;
  message: string;
}

const cache = new Map<string, Promise<PrlimitCheck>>();

/** Finds prlimit on PATH (or takes the given path) and runs it once. Cached. */
export function checkPrlimit(prlimitPath?: string): Promise<PrlimitCheck> {
  const key = prlimitPath ?? "";
  let c = cache.get(key);
  if (!c) {
    c = probe(prlimitPath);
    cache.set(key, c);
  }
  return c;
}

/**
 * prlimit's options for a job. Core dumps are always off: a job's memory holds secrets, and a
 * core file would land in the workspace or, through the host's core_pattern, on the host's disk.
 */
export function prlimitArgs(limits: JobLimits = {}): string[] {
  const hard = (name: string, n: number) => `--${name}=${n}:${n}`;
  return [
    hard("core", 0),
    ...(limits.openFiles !== undefined ? [hard("nofile", limits.openFiles)] : []),
    ...(limits.fileSizeBytes !== undefined ? [hard("fsize", limits.fileSizeBytes)] : []),
    "--",
  ];
}

async function probe(prlimitPath?: string): Promise<PrlimitCheck> {
  const prlimit = prlimitPath ?? findExecutable("prlimit");
  if (!prlimit || !isExecutable(prlimit)) {
    return {
      ok: false,
      message: `prlimit (util-linux) is not installed, so jobs cannot run with core dumps turned off: ${PRLIMIT_HINT}`,
    };
  }
  const r = await run(prlimit, [...prlimitArgs(), "/bin/sh", "-c", "ulimit -c"]);
  const out = `${r.stdout}${r.stderr}`.trim();
  if (r.code !== 0 || out !== "0") {
    return {
      ok: false,
      prlimit,
      message: `${prlimit} cannot turn core dumps off (${firstLine(out) || `exit ${r.code}`}): ${PRLIMIT_HINT} gives a working one`,
    };
  }
  return { ok: true, prlimit, message: `${prlimit} works` };
}
