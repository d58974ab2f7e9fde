// The local executor: each job in a fresh bubblewrap sandbox over a fresh workspace, removed
// afterwards whatever happened. With `sandbox: false` it runs public jobs as a plain process.
import { realpath, stat } from "node:fs/promises";
import path from "node:path";
import { type Found, splitPaths } from "../../cache/job-cache.js";
import type { CacheStore } from "../../cache/store.js";
import { hostName, parseAddress } from "../../egress/rules.js";
import { attemptOf } from "../attempt.js";
import type { Executor, JobIO, JobRequest, JobResult, PreparedRun } from "../types.js";
import { isRestricted } from "../types.js";
import { BoundsError, cgroupsHere, JOIN_FAILED, JobBounds } from "./bounds.js";
import { cacheHooks } from "./cache-hooks.js";
import type { CgroupProbe } from "./cgroup-probe.js";
import { checkSandbox } from "./check.js";
import { formatMs, JobSetupError, message, note } from "./job-text.js";
import { type EtcLayout, type HostLayout, prepareEtc, systemLayout } from "./layout.js";
import { checkMounts, masksFor } from "./mounts.js";
import { isInside, realish, safeRelative } from "./paths.js";
import { type ReportStamps, readReports, stampReports } from "./reports.js";
import { checkPrlimit, prlimitArgs } from "./rlimits.js";
import { type LocalEgressOptions, runSandboxed, type SandboxHost } from "./sandboxed.js";
import { runUnsandboxed } from "./unsandboxed.js";
import { type Workspace, Workspaces } from "./workspace.js";

export interface LocalExecutorOptions {
  /** Its name in the configuration (default "local"). */
  name?: string;
  /** false: no bubblewrap (public jobs on a developer's own machine only). Default true. */
  sandbox?: boolean;
  /** Airlock's data directory: never visible to a job, never copied into a workspace. */
  dataDir?: string;
  /** Further host paths no job may see. */
  hidden?: string[];
  /** Where the per-run workspace root is made (default: the OS temp directory). */
  tempDir?: string;
  /** A tmpfs for cached homes that fit in memory (default: /dev/shm; null: always on disk). */
  memoryDir?: string | null;
  /** Extra host paths bound read-only at the same place, e.g. a toolchain under /opt. */
  readOnlyPaths?: string[];
  /** The bwrap binary (default: found on PATH). */
  bwrapPath?: string;
  /** Where jobs' `cache:` entries are kept (absent: jobs run without their caches). */
  cache?: CacheStore;
  /** util-linux's prlimit, which sets every job's resource limits (default: found on PATH). */
  prlimitPath?: string;
  /**
   * Names every sandbox's /etc/hosts carries, and that egress proxies resolve without DNS
   * (name -> addresses), e.g. for services on the host's loopback.
   */
  hosts?: Record<string, string[]>;
  egress?: LocalEgressOptions;
  /** Where job cgroups are made (default: this machine's, probed once). */
  cgroups?: () => Promise<CgroupProbe>;
  /**
   * Refuse public jobs when no cgroup can limit their memory and processes (`airlock serve`,
   * unless its config allows it). Default false: they run with a warning in their log.
   */
  requireCgroups?: boolean;
}

export class LocalExecutor implements Executor {
  /** Sandboxed or not (`--no-sandbox`), it is the local executor. */
  readonly name: string;
  readonly kind = "local";
  readonly remoteSecrets = false;
  readonly fetchesSuite = false;
  readonly caches = true;
  readonly artifacts = true;
  readonly egress: boolean;
  readonly #sandbox: boolean;
  readonly #opts: LocalExecutorOptions;
  readonly #workspaces: Workspaces;
  readonly #hidden: string[];
  #layout: HostLayout | null = null;
  #etc: Promise<EtcLayout> | null = null;

  constructor(opts: LocalExecutorOptions = {}) {
    this.#opts = opts;
    this.name = opts.name ?? "local";
    this.#sandbox = opts.sandbox ?? true;
    this.egress = this.#sandbox;
    for (const [name, addrs] of Object.entries(opts.hosts ?? {})) {
      if (hostName(name) !== name || addrs.some((a) => parseAddress(a) === null)) {
        throw new Error(
          `hosts: ${JSON.stringify(name)} must be a lower-case host name with IP addresses`,
        );
      }
    }
    this.#hidden = [...(opts.dataDir ? [opts.dataDir] : []), ...(opts.hidden ?? [])].map(realish);
    this.#workspaces = new Workspaces({
      tempDir: opts.tempDir,
      exclude: this.#hidden,
      ...(opts.memoryDir !== undefined ? { memoryDir: opts.memoryDir } : {}),
    });
  }

  /** The per-run directory holding every workspace of this executor (made on first use). */
  workspaceRoot(): Promise<string> {
    return this.#workspaces.root();
  }

  /** Removes every workspace and cached checkout. Call once the run is over. */
  close(): Promise<void> {
    this.#etc = null;
    return this.#workspaces.close();
  }

  /** Nothing to prepare per run: each job gets its own workspace when it starts. */
  async prepare(): Promise<PreparedRun> {
    return {
      start: async (req) => attemptOf((r) => this.run(r), req),
      close: async () => {},
    };
  }

  /** Runs one job to its end in a fresh sandbox; the workspace is gone when this resolves. */
  async run(req: JobRequest & JobIO): Promise<JobResult> {
    const t0 = performance.now();
    const done = (r: Omit<JobResult, "durationMs">): JobResult => ({
      ...r,
      durationMs: Math.round(performance.now() - t0),
    });
    const fail = (error: string) => done({ status: "error", exitCode: null, reports: [], error });
    const cancelled = () => done({ status: "cancelled", exitCode: null, reports: [] });
    const { job } = req;

    let bwrap: string | null = null;
    if (!this.#sandbox) {
      const secrets =
        Object.keys(req.secretEnv).length + req.secretFiles.length + (req.apiSocket ? 1 : 0);
      if (isRestricted(job) || secrets > 0) {
        return fail(
          `job ${job.id} is restricted (it declares secrets): restricted jobs run only in the bubblewrap sandbox, never with --no-sandbox`,
        );
      }
      if (req.mounts.length > 0) {
        return fail(`job ${job.id} needs read-only mounts, which only the sandbox provides`);
      }
      if (job.egress) {
        return fail(`job ${job.id} has a network allow list, which only the sandbox enforces`);
      }
    } else {
      const check = await checkSandbox(this.#opts.bwrapPath);
      if (!check.ok || !check.bwrap) {
        return fail(
          isRestricted(job)
            ? check.message
            : `${check.message} (public jobs can run on your own machine with --no-sandbox)`,
        );
      }
      bwrap = check.bwrap;
    }
    // No job runs without its limits (core dumps off above all), sandboxed or not.
    const limits = await checkPrlimit(this.#opts.prlimitPath);
    if (!limits.ok || !limits.prlimit) return fail(limits.message);
    const prlimit = limits.prlimit;
    if (req.signal.aborted) return cancelled();

    let ws: Workspace;
    try {
      ws = await this.#workspaces.create(req.checkout, job.id, { home: !this.#sandbox });
    } catch (e) {
      return fail(`cannot prepare the workspace: ${message(e)}`);
    }
    let result: JobResult;
    try {
      result = req.signal.aborted ? cancelled() : done(await this.#runIn(ws, req, bwrap, prlimit));
    } catch (e) {
      result = fail(
        e instanceof JobSetupError || e instanceof BoundsError
          ? e.message
          : `the executor failed: ${message(e)}`,
      );
    }
    try {
      await ws.remove();
    } catch (e) {
      result.error = [result.error, `the workspace could not be removed: ${message(e)}`]
        .filter(Boolean)
        .join("; ");
    }
    return result;
  }

  async #runIn(
    ws: Workspace,
    req: JobRequest & JobIO,
    bwrap: string | null,
    prlimit: string,
  ): Promise<Omit<JobResult, "durationMs">> {
    const { job } = req;
    const workdir = safeRelative(req.workdir ?? "");
    if (workdir === null) {
      throw new JobSetupError(
        `workdir ${JSON.stringify(req.workdir)} must stay inside the checkout`,
      );
    }
    const start = path.join(ws.src, workdir);
    const isDir = await stat(start).then(
      (s) => s.isDirectory(),
      () => false,
    );
    if (!isDir || !isInside(await realpath(start), await realpath(ws.src))) {
      throw new JobSetupError(`the job's directory ${workdir} is not a directory of the checkout`);
    }
    const cache = cacheHooks(req, this.#opts.cache, { checkout: ws.src, dir: start });
    const found = cache ? await cache.find() : null;
    // A cached ~/ path needs the home on the host, where it can be restored and saved.
    if (cache && !ws.home && splitPaths(job.cache!.paths).home.length) {
      try {
        await ws.addHome(await this.#homeInMemory(job, found));
      } catch (e) {
        throw new JobSetupError(`cannot prepare the job's home: ${message(e)}`);
      }
    }
    const bounds = await JobBounds.start({
      job,
      cgroups: await (this.#opts.cgroups ?? cgroupsHere)(),
      requireCgroups: this.#opts.requireCgroups ?? false,
      dirs: [ws.src, ...(ws.home && !ws.homeInMemory ? [ws.home] : [])],
      ...(ws.home && ws.homeInMemory ? { memoryHome: ws.home } : {}),
    });
    if (bounds.warning) note(req, bounds.warning);
    try {
      // In the job's cgroup: what it restores into a home in memory is the job's memory.
      const restored = cache ? await cache.restore(found, ws.home, (c) => bounds.wrap(c)) : null;
      await req.artifacts?.receive(start);
      // Reports already in the checkout before the job runs are not the job's results.
      const stamps = await stampReports(start, job.reports);
      const result = await this.#process(ws, req, {
        bwrap,
        prlimit,
        start,
        workdir,
        script: Buffer.from(job.run, "utf8"),
        bounds,
        stamps,
      });
      // As GitHub Actions and GitLab do by default: only a job that passed saves its cache.
      if (cache && restored && result.status === "passed") await cache.save(restored, ws.home);
      await req.artifacts?.keep(start, result.status);
      return result;
    } catch (e) {
      await bounds.finish("error", null).catch(() => []);
      throw e;
    }
  }

  /**
   * Where a cached home goes. In memory (a tmpfs, bounded by limits.home as the sandbox's own
   * home is) when the entry restored into it fills at most half of limits.home, leaving the job
   * room to add to it, and the memory directory has room for the whole limit: restoring it and
   * removing it then cost no disk. Otherwise on disk beside the checkout, under the disk budget
   * (also when the entry's size is unknown: saved before it was recorded, or no entry yet).
   */
  async #homeInMemory(job: JobRequest["job"], found: Found | null): Promise<boolean> {
    const limit = job.limits?.homeBytes;
    const size = found?.hit?.entry.unpacked?.home;
    if (!this.#sandbox || limit === undefined || size === undefined || size > limit / 2) {
      return false;
    }
    return this.#workspaces.memoryRoom(limit);
  }

  /** Runs the job's processes to their end and reads what they left: status, notes, reports. */
  async #process(
    ws: Workspace,
    req: JobRequest & JobIO,
    o: {
      bwrap: string | null;
      prlimit: string;
      start: string;
      workdir: string;
      script: Buffer;
      bounds: JobBounds;
      stamps: ReportStamps;
    },
  ): Promise<Omit<JobResult, "durationMs">> {
    const { job } = req;
    const { bwrap, start, bounds } = o;
    // A limit that must end the job now (the disk budget) stops it as a cancel would.
    const signal = AbortSignal.any([req.signal, bounds.stopped]);
    const p = {
      limiter: [o.prlimit, ...prlimitArgs(job.limits)],
      script: o.script,
      bounds,
      sup: { output: req.output, signal, timeoutMs: job.timeoutMs },
    };
    const end = bwrap
      ? await runSandboxed(req, ws, await this.#sandboxHost(bwrap), {
          ...p,
          workdir: o.workdir,
          mounts: checkMounts(req.mounts, this.#hidden, await this.#workspaces.roots()),
        })
      : await runUnsandboxed(req, ws, start, p);
    const { finished, started } = end;

    if (finished.end === "spawn_failed") {
      throw new JobSetupError(`cannot start the job: ${message(finished.error)}`);
    }
    if (end.egressError && finished.end === "exited") {
      throw new JobSetupError(`cannot give the job its egress proxy: ${end.egressError.message}`);
    }
    const join = finished.exitCode === 125 ? JOIN_FAILED.exec(finished.tail) : null;
    if (join) throw new JobSetupError(`cannot put the job in its cgroup: ${join[0]}`);
    if (!started && finished.end === "exited") {
      const why =
        finished.tail.trim().split("\n").pop() || `bwrap exited with ${finished.exitCode}`;
      throw new JobSetupError(`the sandbox did not start: ${why}`);
    }
    const status = bounds.overDisk
      ? "failed"
      : finished.end === "timed_out"
        ? "timed_out"
        : finished.end === "cancelled"
          ? "cancelled"
          : finished.exitCode === 0
            ? "passed"
            : "failed";
    const notes = await bounds.finish(status, end.leftovers);
    if (status === "timed_out") {
      note(req, `job timed out after ${formatMs(job.timeoutMs)}: every process of it was stopped`);
    } else if (status === "cancelled") {
      note(req, "job cancelled: every process of it was stopped");
    }
    const read = started
      ? await readReports(ws.src, start, job.reports, o.stamps)
      : { reports: [], skipped: [], missing: [] };
    for (const s of read.skipped) note(req, `report skipped: ${s}`);
    // A configured report that never appeared is a warning on the job (its tests are unknown).
    notes.push(...read.missing.map((p) => `warning: no report matched ${p}`));
    return {
      status,
      exitCode: finished.exitCode,
      reports: read.reports,
      ...(notes.length ? { notes } : {}),
      ...(end.egress ? { egress: end.egress } : {}),
    };
  }

  /** What every sandbox of this executor shares: layout, /etc and masks, made once per run. */
  async #sandboxHost(bwrap: string): Promise<SandboxHost> {
    this.#layout ??= systemLayout(this.#opts.readOnlyPaths);
    const root = await this.#workspaces.root();
    this.#etc ??= prepareEtc(path.join(root, "etc"), this.#hidden, this.#opts.hosts);
    return {
      bwrap,
      layout: this.#layout,
      etc: await this.#etc,
      workspaceRoot: root,
      masks: masksFor(this.#hidden, this.#layout),
      ...(this.#opts.hosts ? { hosts: this.#opts.hosts } : {}),
      ...(this.#opts.egress ? { egress: this.#opts.egress } : {}),
    };
  }
}
