// Per-job control groups: memory (no swap), process count and CPU limits for the whole sandbox,
// and the kernel's own counters of what hit them. Where they can be made (cgroup v2's delegated
// subtree, or v1's hierarchies) is found by cgroup-probe.ts.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export type Controller = "memory" | "pids" | "cpu";
export const CONTROLLERS: Controller[] = ["memory", "pids", "cpu"];

export interface CgroupLimits {
  memoryBytes?: number;
  processes?: number;
  cpus?: number;
}

/** What the kernel counted in a job's cgroup. */
export interface CgroupCounters {
  /** Processes the OOM killer ended because the job reached its memory limit. */
  oomKills: number;
  /** Process creations refused because the job reached its process limit. */
  pidsRefused: number;
}

/** The period of the CPU quota: 100 ms, the kernel's default. */
const CPU_PERIOD_US = 100_000;
/** How long an emptied cgroup may take to be removable (its processes' exit is asynchronous). */
const REMOVE_WAIT_MS = 5_000;

/** The cgroups of this machine that jobs can be put in. */
export class CgroupHost {
  constructor(
    readonly version: 1 | 2,
    /** Per controller, the directory job cgroups are made in (v2: the same one for all). */
    readonly parents: Partial<Record<Controller, string>>,
  ) {}

  get controllers(): Controller[] {
    return CONTROLLERS.filter((c) => this.parents[c] !== undefined);
  }

  /** Makes a job's cgroup with its limits (only the controllers asked for and available). */
  async create(name: string, limits: CgroupLimits): Promise<JobCgroup> {
    const dirs = new Map<string, Controller[]>();
    for (const c of this.controllers) {
      const dir = path.join(this.parents[c]!, name);
      dirs.set(dir, [...(dirs.get(dir) ?? []), c]);
    }
    const job = new JobCgroup(this.version, dirs, limits);
    try {
      // Each hierarchy at once: the kernel's work is in the syscalls, not in their order.
      await Promise.all([...dirs.keys()].map((dir) => makeDir(dir)));
      await job.apply();
    } catch (e) {
      await job.remove().catch(() => {});
      throw e;
    }
    return job;
  }

  /**
   * Removes a job's cgroup. The parents stay, on v1 as on v2: another Airlock process on the host
   * (a replica, `airlock run`) may be making or probing its own under them at that moment, and an
   * empty cgroup costs nothing.
   */
  async remove(job: JobCgroup): Promise<void> {
    await job.remove();
  }

  /**
   * Removes job cgroups that a process which is gone left behind (a crash, a SIGKILL), killing
   * what still runs in them. Job cgroup names start with the owner's pid. Returns how many.
   */
  async sweep(): Promise<number> {
    let n = 0;
    const parents = new Set(Object.values(this.parents));
    for (const parent of parents) {
      for (const name of await readdir(parent).catch(() => [] as string[])) {
        const owner = /^(\d+)-/.exec(name)?.[1];
        if (!owner || alive(Number(owner))) continue;
        const dirs = new Map<string, Controller[]>(
          this.controllers.map((c) => [path.join(this.parents[c]!, name), [c]]),
        );
        const stale = new JobCgroup(this.version, dirs, {});
        await stale.killAll();
        if (
          await stale.remove().then(
            () => true,
            () => false,
          )
        )
          n++;
      }
    }
    return n;
  }
}

/** One job's cgroup (v1: one directory per controller). */
export class JobCgroup {
  constructor(
    readonly version: 1 | 2,
    /** Directory -> the controllers it is for. */
    readonly dirs: Map<string, Controller[]>,
    readonly limits: CgroupLimits,
  ) {}

  /** The cgroup.procs files a process writes its pid to, to join the job's cgroup. */
  get procsFiles(): string[] {
    return [...this.dirs.keys()].map((d) => path.join(d, "cgroup.procs"));
  }

  #dir(c: Controller): string | undefined {
    for (const [d, cs] of this.dirs) if (cs.includes(c)) return d;
    return undefined;
  }

  /** Writes the limits, each controller's at once (they are independent). */
  async apply(): Promise<void> {
    const { memoryBytes, processes, cpus } = this.limits;
    const mem = this.#dir("memory");
    const pids = this.#dir("pids");
    const cpu = this.#dir("cpu");
    await Promise.all([
      mem && memoryBytes !== undefined
        ? this.version === 2
          ? Promise.all([
              put(mem, "memory.max", memoryBytes),
              // No swap: a job past its memory is stopped, not slowed to a crawl on the disk.
              put(mem, "memory.swap.max", 0).catch(ignoreMissing),
            ])
          : put(mem, "memory.limit_in_bytes", memoryBytes).then(() =>
              Promise.all([
                // memory+swap = memory: no swap (the file exists only with swap accounting);
                // it may not be below memory.limit_in_bytes, so it comes second.
                put(mem, "memory.memsw.limit_in_bytes", memoryBytes).catch(ignoreMissing),
                put(mem, "memory.swappiness", 0).catch(ignoreMissing),
              ]),
            )
        : null,
      pids && processes !== undefined ? put(pids, "pids.max", processes) : null,
      cpu && cpus !== undefined ? this.#applyCpu(cpu, cpus) : null,
    ]);
  }

  async #applyCpu(dir: string, cpus: number): Promise<void> {
    const quota = Math.max(1000, Math.round(cpus * CPU_PERIOD_US));
    if (this.version === 2) return put(dir, "cpu.max", `${quota} ${CPU_PERIOD_US}`);
    await put(dir, "cpu.cfs_period_us", CPU_PERIOD_US);
    await put(dir, "cpu.cfs_quota_us", quota);
  }

  /** The kernel's counts of limits reached, read from the cgroup's own event files. */
  async counters(): Promise<CgroupCounters> {
    const mem = this.#dir("memory");
    const pids = this.#dir("pids");
    const memFile = this.version === 2 ? "memory.events" : "memory.oom_control";
    const [memText, pidsText] = await Promise.all([
      mem ? readText(path.join(mem, memFile)) : "",
      pids ? readText(path.join(pids, "pids.events")) : "",
    ]);
    return { oomKills: field(memText, "oom_kill"), pidsRefused: field(pidsText, "max") };
  }

  /** Pids of the processes in the cgroup now. */
  async pids(): Promise<number[]> {
    const dir = this.#dir("pids") ?? this.#dir("memory") ?? [...this.dirs.keys()][0];
    if (!dir) return [];
    return (await readText(path.join(dir, "cgroup.procs")))
      .split("\n")
      .filter((l) => /^\d+$/.test(l))
      .map(Number);
  }

  /** SIGKILLs every process in the cgroup until it is empty; returns how many were killed. */
  async killAll(): Promise<number> {
    const killed = new Set<number>();
    const until = Date.now() + REMOVE_WAIT_MS;
    for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
      const left = await this.pids();
      if (left.length === 0 || Date.now() > until) break;
      for (const pid of left) {
        try {
          process.kill(pid, "SIGKILL");
          killed.add(pid);
        } catch {
          // Already gone.
        }
      }
      await sleep(pause);
    }
    return killed.size;
  }

  /** Removes the cgroup's directories (waiting for exiting processes to leave them). */
  async remove(): Promise<void> {
    await Promise.all([...this.dirs.keys()].map((dir) => removeDir(dir)));
  }
}

/**
 * Makes a cgroup directory and its parents. An older Airlock process on the host (during an
 * upgrade) may remove a v1 parent it found empty between the two: Node's recursive mkdir then
 * fails with ENOENT or ENOTDIR, and the job would fail for no fault of its own; made again.
 */
export async function makeDir(dir: string): Promise<void> {
  for (let tries = 1; ; tries++) {
    try {
      await mkdir(dir, { recursive: true });
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (tries >= MAKE_TRIES || (code !== "ENOENT" && code !== "ENOTDIR")) throw e;
    }
  }
}

/** Tries at making a job's cgroup directory while other processes remove its parent. */
const MAKE_TRIES = 20;

/** Removes a cgroup directory, waiting for exiting processes to leave it. */
async function removeDir(dir: string): Promise<void> {
  const until = Date.now() + REMOVE_WAIT_MS;
  for (let pause = 1; ; pause = Math.min(pause * 2, 50)) {
    try {
      await rmdir(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      // A cgroup directory holds only the kernel's files, which rmdir ignores; a plain
      // directory standing in for one (a test's layout) needs its files removed first.
      if (code === "ENOTEMPTY") {
        await rm(dir, { recursive: true, force: true });
        return;
      }
      if (code !== "EBUSY" || Date.now() > until) throw e;
      await sleep(pause);
    }
  }
}

/** A name for a job's cgroup: the owner's pid first (see sweep), then the job and a random part. */
export function cgroupName(jobId: string, pid = process.pid): string {
  const safe = jobId.replace(/[^A-Za-z0-9_.-]/g, "-").slice(0, 40);
  return `${pid}-${safe}-${randomBytes(4).toString("hex")}`;
}

// ---- small helpers --------------------------------------------------------------------------

function put(dir: string, file: string, value: number | string): Promise<void> {
  return writeFile(path.join(dir, file), `${value}\n`);
}

function ignoreMissing(e: unknown): void {
  const code = (e as NodeJS.ErrnoException).code;
  if (code !== "ENOENT" && code !== "EACCES" && code !== "EPERM" && code !== "EINVAL") throw e;
}

export async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch {
    return "";
  }
}

/** The number after `name` in a "key value" file (memory.events, pids.events, oom_control). */
function field(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\d+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

function alive(pid: number): boolean {
  try {
    readFileSync(`/proc/${pid}/stat`);
    return true;
  } catch {
    return false;
  }
}

export function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ?? (e instanceof Error ? e.message : String(e));
}
