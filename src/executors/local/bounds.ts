// What bounds one job of the local executor beyond its rlimits: its cgroup (memory without swap,
// processes, CPU), the workspace's disk budget, and at its end what hit a limit, said in fixed
// words from the kernel's own counters.
import { formatBytes, formatCount } from "../../config/size.js";
import type { JobSpec } from "../types.js";
import { isRestricted } from "../types.js";
import { cgroupName, type JobCgroup } from "./cgroup.js";
import { type CgroupProbe, probeCgroups } from "./cgroup-probe.js";
import { type Budget, type DiskWatch, watchDisk } from "./disk-watch.js";

/**
 * Puts the command in the cgroups whose cgroup.procs files follow, then execs it: `$$` is the
 * process that becomes the job, so everything it starts is inside from its first instruction.
 * Only paths are on this command line.
 */
const JOIN = [
  "/bin/sh",
  "-c",
  'while [ "$1" != -- ]; do echo $$ 2>/dev/null >"$1" || { echo "airlock-cgroup: cannot join $1" >&2; exit 125; }; shift; done; shift; exec "$@"',
  "airlock-cgroup",
];
/** What the joiner prints when it cannot join (then it exits 125 and runs nothing). */
export const JOIN_FAILED = /airlock-cgroup: cannot join (\S+)/;

let probed: Promise<CgroupProbe> | null = null;

/**
 * This machine's cgroups, probed once per process; job cgroups that a dead Airlock process
 * left behind are swept then.
 */
export function cgroupsHere(): Promise<CgroupProbe> {
  probed ??= probeCgroups().then(async (p) => {
    if (p.ok) await p.host.sweep().catch(() => 0);
    return p;
  });
  return probed;
}

export interface BoundsOptions {
  job: JobSpec;
  cgroups: CgroupProbe;
  /** Public jobs refuse to run without memory and process limits. */
  requireCgroups: boolean;
  /** The directories the disk budget covers (the checkout, and a home on disk). */
  dirs: string[];
  /** A host home in memory (a cached one): limits.home bounds it, as the sandbox's own home. */
  memoryHome?: string;
}

export class BoundsError extends Error {}

export class JobBounds {
  readonly #job: JobSpec;
  readonly #cgroup: JobCgroup | null;
  readonly #cgroups: CgroupProbe;
  readonly #stop = new AbortController();
  readonly #watch: DiskWatch | null;
  #diskUsed: number | null = null;
  #homeUsed: number | null = null;
  /** Said at the start of the log: a limit this machine cannot apply. */
  readonly warning: string | null;

  private constructor(o: BoundsOptions, cgroup: JobCgroup | null) {
    this.#job = o.job;
    this.#cgroups = o.cgroups;
    this.#cgroup = cgroup;
    const l = o.job.limits ?? {};
    const wanted = l.memoryBytes ?? l.processes ?? l.cpus;
    this.warning =
      wanted !== undefined && !o.cgroups.ok
        ? `no memory, process or CPU limit for this job: ${o.cgroups.message}`
        : null;
    const budgets: Budget[] = [];
    if (l.diskBytes !== undefined) {
      budgets.push({ dirs: o.dirs, bytes: l.diskBytes, over: (used) => this.#over("disk", used) });
    }
    if (o.memoryHome && l.homeBytes !== undefined) {
      const over = (used: number) => this.#over("home", used);
      budgets.push({ dirs: [o.memoryHome], bytes: l.homeBytes, over });
    }
    this.#watch = budgets.length ? watchDisk(budgets) : null;
  }

  #over(what: "disk" | "home", used: number): void {
    if (what === "disk") this.#diskUsed = used;
    else this.#homeUsed = used;
    this.#stop.abort();
  }

  /** Makes the job's cgroup (when it has cgroup limits and the machine has cgroups). */
  static async start(o: BoundsOptions): Promise<JobBounds> {
    const l = o.job.limits ?? {};
    const limits = { memoryBytes: l.memoryBytes, processes: l.processes, cpus: l.cpus };
    const wanted = Object.values(limits).some((v) => v !== undefined);
    if (!o.cgroups.ok) {
      if (o.requireCgroups && !isRestricted(o.job)) {
        throw new BoundsError(
          `public jobs do not run here without memory and process limits: ${o.cgroups.message} (or, knowingly, set limits.allow_unlimited_public_jobs: true in the serve config)`,
        );
      }
      return new JobBounds(o, null);
    }
    if (!wanted) return new JobBounds(o, null);
    let cgroup: JobCgroup;
    try {
      cgroup = await o.cgroups.host.create(cgroupName(o.job.id), limits);
    } catch (e) {
      throw new BoundsError(`cannot make the job's cgroup: ${(e as Error).message}`);
    }
    return new JobBounds(o, cgroup);
  }

  /** Aborted when a limit requires the job to stop now (the disk budget, a home in memory). */
  get stopped(): AbortSignal {
    return this.#stop.signal;
  }

  /** True once the disk budget (or the limit of a home in memory) stopped the job. */
  get overDisk(): boolean {
    return this.#diskUsed !== null || this.#homeUsed !== null;
  }

  /** The command, made to start inside the job's cgroup. */
  wrap(command: string[]): string[] {
    return this.#cgroup ? [...JOIN, ...this.#cgroup.procsFiles, "--", ...command] : command;
  }

  /**
   * Ends the bounds: stops measuring the disk, kills what is left in the cgroup, reads its
   * counters and removes it. Returns the closing notes. `leftovers`: background processes the
   * sandbox counted when the job's main process ended (null: count the cgroup's).
   */
  async finish(status: string, leftovers: number | null): Promise<string[]> {
    await this.#watch?.stop();
    const notes: string[] = [];
    const l = this.#job.limits ?? {};
    if (this.#cgroup) {
      const killed = await this.#cgroup.killAll();
      leftovers ??= killed;
      const c = await this.#cgroup.counters();
      if (this.#cgroups.ok) await this.#cgroups.host.remove(this.#cgroup);
      if (c.oomKills > 0 && l.memoryBytes !== undefined) {
        const limit = `out of memory (limit ${formatBytes(l.memoryBytes)})`;
        notes.push(status === "passed" ? `a process was killed: ${limit}` : `killed: ${limit}`);
      }
      if (c.pidsRefused > 0 && l.processes !== undefined) {
        notes.push(`could not start a process: process limit ${formatCount(l.processes)} reached`);
      }
    }
    if (this.#diskUsed !== null && l.diskBytes !== undefined) {
      notes.push(
        `killed: the workspace used ${formatBytes(this.#diskUsed)}, past its disk budget of ${formatBytes(l.diskBytes)}`,
      );
    }
    if (this.#homeUsed !== null && l.homeBytes !== undefined) {
      notes.push(
        `killed: the home used ${formatBytes(this.#homeUsed)}, past its limit of ${formatBytes(l.homeBytes)} (limits.home)`,
      );
    }
    if (leftovers) {
      notes.push(
        `${leftovers} process${leftovers === 1 ? "" : "es"} left running in the background ${leftovers === 1 ? "was" : "were"} stopped`,
      );
    }
    return notes;
  }
}
