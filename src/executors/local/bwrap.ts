// The local executor: each job in a fresh bubblewrap sandbox over a fresh workspace, removed
// afterwards whatever happened. With `sandbox: false` it runs public jobs as a plain process.
import { realpath, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  type CacheRoots,
  type Restored,
  restoreCache,
  saveCache,
  splitPaths,
} from "../../cache/job-cache.js";
import type { CacheStore } from "../../cache/store.js";
import { hostName, parseAddress } from "../../egress/rules.js";
import { EgressSession } from "../../egress/session.js";
import { attemptOf } from "../attempt.js";
import type { Executor, JobIO, JobRequest, JobResult, PreparedRun } from "../types.js";
import { isRestricted } from "../types.js";
import { BoundsError, cgroupsHere, JOIN_FAILED, JobBounds } from "./bounds.js";
import { badMountTarget, JOB_COMMAND, jobArgs, LEFTOVERS_FD } from "./bwrap-args.js";
import type { CgroupProbe } from "./cgroup.js";
import { checkSandbox } from "./check.js";
import { egressResolvConf, egressWrapper, SandboxEgress } from "./egress.js";
import { baseEnv, buildEnv, SANDBOX } from "./env.js";
import { type EtcLayout, type HostLayout, prepareEtc, systemLayout } from "./layout.js";
import { isInside, realish, safeRelative } from "./paths.js";
import { SandboxInit } from "./pidns.js";
import { type ExtraFd, type Finished, supervise } from "./process.js";
import { type ReportStamps, readReports, stampReports } from "./reports.js";
import { checkPrlimit, prlimitArgs } from "./rlimits.js";
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
  egress?: {
    /** Addresses no name may lead to unless listed (default: loopback, link-local, private). */
    forbidden?: string[];
    /** util-linux's nsenter and unshare, which set up each job's proxy (default: on PATH). */
    nsenterPath?: string;
    unsharePath?: string;
    /** The Python 3 that binds a job's proxy sockets (default: the system's); null: Node. */
    pythonPath?: string | null;
  };
  /** Where job cgroups are made (default: this machine's, probed once). */
  cgroups?: () => Promise<CgroupProbe>;
  /**
   * Refuse public jobs when no cgroup can limit their memory and processes (`airlock serve`,
   * unless its config allows it). Default false: they run with a warning in their log.
   */
  requireCgroups?: boolean;
}

const SECRET_FILE = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
/** How long a killed sandbox may take to empty before the job is reported as an error. */
const REAP_LIMIT_MS = 10_000;

class JobSetupError extends Error {}

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
    this.#workspaces = new Workspaces({ tempDir: opts.tempDir, exclude: this.#hidden });
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
      // A cached ~/ path needs the home on disk, where it can be restored and saved.
      const cachedHome = !!(req.cacheScope && job.cache && splitPaths(job.cache.paths).home.length);
      ws = await this.#workspaces.create(req.checkout, job.id, {
        home: !this.#sandbox || cachedHome,
      });
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
    const cache = this.#cacheFor(req, { checkout: ws.src, dir: start, home: ws.home });
    const restored = cache ? await cache.restore() : null;
    await req.artifacts?.receive(start);
    // Reports already in the checkout before the job runs are not the job's results.
    const stamps = await stampReports(start, job.reports);
    const script = Buffer.from(job.run, "utf8");
    const bounds = await JobBounds.start({
      job,
      cgroups: await (this.#opts.cgroups ?? cgroupsHere)(),
      requireCgroups: this.#opts.requireCgroups ?? false,
      dirs: [ws.src, ...(ws.home ? [ws.home] : [])],
    });
    if (bounds.warning) note(req, bounds.warning);
    try {
      const result = await this.#supervised(ws, req, {
        bwrap,
        prlimit,
        start,
        workdir,
        script,
        bounds,
        stamps,
      });
      // As GitHub Actions and GitLab do by default: only a job that passed saves its cache.
      if (cache && restored && result.status === "passed") await cache.save(restored);
      await req.artifacts?.keep(start, result.status);
      return result;
    } catch (e) {
      await bounds.finish("error", null).catch(() => []);
      throw e;
    }
  }

  async #supervised(
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
    const { bwrap, prlimit, start, workdir, script, bounds, stamps } = o;
    // A limit that must end the job now (the disk budget) stops it as a cancel would.
    const signal = AbortSignal.any([req.signal, bounds.stopped]);
    const sup = { output: req.output, signal, timeoutMs: job.timeoutMs };
    const limited = prlimitArgs(job.limits);
    let finished: Finished;
    let started: boolean;
    let egressRecord: JobResult["egress"];
    let egressError: Error | null = null;
    let leftovers: number | null = null;
    if (bwrap) {
      const secretFds = req.secretFiles.map((f, i) => ({ name: f.name, fd: LEFTOVERS_FD + 1 + i }));
      const names = new Set<string>();
      for (const f of req.secretFiles) {
        if (!SECRET_FILE.test(f.name) || names.has(f.name)) {
          throw new JobSetupError(`secret file name ${JSON.stringify(f.name)} is not usable`);
        }
        names.add(f.name);
      }
      // bwrap reports its first child (the namespace's init) on the status fd as soon as it
      // exists; from then on a cancel or timeout kills that init, which ends every process of
      // the job, even those that left bwrap's process group.
      const init = new SandboxInit();
      // With an allow list, the job waits (--block-fd) until its proxy serves its namespace.
      const egress = job.egress
        ? new SandboxEgress(
            new EgressSession({
              spec: job.egress,
              ...(this.#opts.hosts ? { hosts: this.#opts.hosts } : {}),
              ...(this.#opts.egress?.forbidden ? { forbidden: this.#opts.egress.forbidden } : {}),
              note: (line) => note(req, line),
            }),
            {
              ...this.#opts.egress,
              note: (line) => note(req, line),
              signal: req.signal,
              onFail: () => init.kill(),
            },
          )
        : null;
      const fds: ExtraFd[] = [
        {
          read: true,
          onData: (text) => {
            init.learn(text);
            if (egress && init.pid !== null) egress.start(init.pid);
          },
        },
        { write: script },
        { read: true },
        ...req.secretFiles.map((f) => ({ write: Buffer.from(f.value, "utf8") })),
        ...(egress ? [{ write: egress.ready }] : []),
      ];
      const args = jobArgs({
        network: job.network,
        layout: this.#systemLayout(),
        etc: await this.#etcLayout(),
        workspace: ws.src,
        cwd: path.posix.join(SANDBOX.workspace, workdir),
        mounts: this.#checkMounts(req.mounts, await this.#workspaces.root()),
        masks: this.#masks(),
        tmpBytes: job.limits?.tmpBytes,
        ...(ws.home ? { home: ws.home } : {}),
        ...(egress
          ? {
              egress: {
                resolvConf: await egressResolvConf(await this.#workspaces.root()),
                blockFd: LEFTOVERS_FD + 1 + secretFds.length,
              },
            }
          : {}),
        homeBytes: job.limits?.homeBytes,
        statusFd: 3,
        scriptFd: 4,
        secretFiles: secretFds,
        ...(req.apiSocket ? { apiSocket: req.apiSocket } : {}),
      });
      const env = buildEnv(
        baseEnv({ sandbox: true, home: SANDBOX.home, workspace: SANDBOX.workspace }),
        egress?.env ?? {},
        req.env,
        req.secretEnv,
        // Files whose path a variable names (AWS_WEB_IDENTITY_TOKEN_FILE).
        Object.fromEntries(
          req.secretFiles
            .filter((f) => f.pathEnv)
            .map((f) => [f.pathEnv!, path.posix.join(SANDBOX.secrets, f.name)]),
        ),
        { AIRLOCK_WORKSPACE: SANDBOX.workspace, AIRLOCK_SECRETS_DIR: SANDBOX.secrets },
        req.apiSocket ? { AIRLOCK_JOB_API_SOCKET: SANDBOX.apiSocket } : {},
      );
      try {
        const wrapper = egress ? egressWrapper(this.#opts.egress?.unsharePath) : [];
        const [file, ...rest] = bounds.wrap([prlimit, ...limited, ...wrapper, bwrap, ...args]) as [
          string,
          ...string[],
        ];
        finished = await supervise(
          { file, args: rest, env, fds },
          { ...sup, beforeKill: () => init.kill() },
        );
      } finally {
        const e = egress?.finish();
        if (e) egressRecord = e.record;
        egressError = e?.error ?? null;
      }
      init.learn(finished.reads[0] ?? "");
      started = init.pid !== null;
      const count = /^(\d+)\n$/.exec(finished.reads[LEFTOVERS_FD - 3] ?? "");
      if (count) leftovers = Number(count[1]);
      // Whatever ended the job, nothing of it may outlive it: kill the init (a no-op when it is
      // gone) and wait until the namespace is empty, checking every process after a kill.
      init.kill();
      const left = await init.waitGone(REAP_LIMIT_MS, { confirm: finished.end !== "exited" });
      if (left.length > 0) {
        const text = `processes of the job survived SIGKILL for ${formatMs(REAP_LIMIT_MS)} (host pids ${left.join(", ")}): they may still be running`;
        note(req, text);
        throw new JobSetupError(text);
      }
    } else {
      const env = buildEnv(
        baseEnv({ sandbox: false, home: ws.home ?? ws.src, workspace: ws.src }),
        req.env,
        {
          AIRLOCK_WORKSPACE: ws.src,
        },
      );
      // No secrets ever run here, so the script may sit on disk, beside the workspace.
      await writeFile(ws.script!, script, { mode: 0o400 });
      const [file, ...rest] = bounds.wrap([prlimit, ...limited, ...JOB_COMMAND, ws.script!]) as [
        string,
        ...string[],
      ];
      finished = await supervise(
        { file, args: rest, env, cwd: start, fds: [] },
        { ...sup, closeGraceMs: 500 },
      );
      started = finished.end !== "spawn_failed";
    }

    if (finished.end === "spawn_failed") {
      throw new JobSetupError(`cannot start the job: ${message(finished.error)}`);
    }
    if (egressError && finished.end === "exited") {
      throw new JobSetupError(`cannot give the job its egress proxy: ${egressError.message}`);
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
    const notes = await bounds.finish(status, leftovers);
    if (status === "timed_out") {
      note(req, `job timed out after ${formatMs(job.timeoutMs)}: every process of it was stopped`);
    } else if (status === "cancelled") {
      note(req, "job cancelled: every process of it was stopped");
    }
    const read = started
      ? await readReports(ws.src, start, job.reports, stamps)
      : { reports: [], skipped: [], missing: [] };
    for (const s of read.skipped) note(req, `report skipped: ${s}`);
    // A configured report that never appeared is a warning on the job (its tests are unknown).
    notes.push(...read.missing.map((p) => `warning: no report matched ${p}`));
    return {
      status,
      exitCode: finished.exitCode,
      reports: read.reports,
      ...(notes.length ? { notes } : {}),
      ...(egressRecord ? { egress: egressRecord } : {}),
    };
  }

  /** Restore and save of the job's cache, or null when it has none here. Never fails the job. */
  #cacheFor(req: JobRequest & JobIO, roots: CacheRoots) {
    const { cache: spec } = req.job;
    const store = this.#opts.cache;
    const scope = req.cacheScope;
    if (!spec || !store || !scope) return null;
    const say = (line: string) => {
      if (req.output.writable) req.output.write(`airlock: ${line}\n`);
    };
    const guarded = async <T>(what: string, fn: () => Promise<T>): Promise<T | null> => {
      try {
        return await fn();
      } catch (e) {
        say(`cache: not ${what}: ${message(e)}`);
        return null;
      }
    };
    return {
      restore: () => guarded("restored", () => restoreCache(store, spec, scope, roots, say)),
      save: (r: Restored) => guarded("saved", () => saveCache(store, spec, scope, roots, r, say)),
    };
  }

  #systemLayout(): HostLayout {
    this.#layout ??= systemLayout(this.#opts.readOnlyPaths);
    return this.#layout;
  }

  /** Private host paths that sit inside an exposed system directory get an empty tmpfs on top. */
  #masks(): string[] {
    const masks: string[] = [];
    for (const h of this.#hidden) {
      for (const e of this.#systemLayout().exposed) {
        if (isInside(e.real, h)) {
          throw new JobSetupError(`${e.target} would expose ${h}, which jobs must not see`);
        }
        if (isInside(h, e.real)) masks.push(path.join(e.target, path.relative(e.real, h)));
      }
    }
    return masks;
  }

  #checkMounts(mounts: JobRequest["mounts"], workspaceRoot: string): JobRequest["mounts"] {
    const others = realish(workspaceRoot);
    return mounts.map((m) => {
      const bad = badMountTarget(m.target);
      if (bad) throw new JobSetupError(`mount target ${m.target} ${bad}`);
      const src = realish(m.source);
      // A subdirectory of the data directory may be granted explicitly; the directory may not.
      for (const h of [...this.#hidden, others]) {
        if (isInside(h, src)) throw new JobSetupError(`mount ${m.source} would expose ${h}`);
      }
      if (isInside(src, others)) {
        throw new JobSetupError(`mount ${m.source} is inside the workspaces of other jobs`);
      }
      return { source: src, target: m.target };
    });
  }

  /** The sandbox's /etc, prepared once per run. */
  #etcLayout(): Promise<EtcLayout> {
    this.#etc ??= (async () =>
      prepareEtc(
        path.join(await this.#workspaces.root(), "etc"),
        this.#hidden,
        this.#opts.hosts,
      ))();
    return this.#etc;
  }
}

function note(req: JobIO, text: string): void {
  if (req.output.writable) req.output.write(`\nairlock: ${text}\n`);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function formatMs(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m ${s % 60}s`;
}
