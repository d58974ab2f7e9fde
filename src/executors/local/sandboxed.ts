// One job's processes in a fresh bubblewrap sandbox: its secret files and script through pipes,
// its egress proxy when it has an allow list, and at its end every process of it gone.
import path from "node:path";
import type { EgressRecord } from "../../egress/types.js";
import type { JobIO, JobRequest } from "../types.js";
import type { JobBounds } from "./bounds.js";
import { jobArgs, LEFTOVERS_FD } from "./bwrap-args.js";
import { egressPython, egressResolvConf, egressWrapper, SandboxEgress } from "./egress.js";
import { baseEnv, buildEnv, SANDBOX } from "./env.js";
import { formatMs, JobSetupError, note } from "./job-text.js";
import type { EtcLayout, HostLayout } from "./layout.js";
import { SandboxInit } from "./pidns.js";
import { type ExtraFd, type Finished, type Supervision, supervise } from "./process.js";
import type { Workspace } from "./workspace.js";

/** How the local executor's jobs reach the network through a proxy. */
export interface LocalEgressOptions {
  /** Addresses no name may lead to unless listed (default: loopback, link-local, private). */
  forbidden?: string[];
  /** util-linux's nsenter and unshare, which set up each job's proxy (default: on PATH). */
  nsenterPath?: string;
  unsharePath?: string;
  /** The Python 3 that binds a job's proxy sockets and runs its splice relay (default: the
   * system's); null: Node binds them, and the proxy relays every download itself. */
  pythonPath?: string | null;
  /** false: the proxy relays every download itself, even with a Python 3 (for comparison). */
  spliceRelay?: boolean;
}

/** What every sandbox of the executor shares, prepared once. */
export interface SandboxHost {
  bwrap: string;
  layout: HostLayout;
  etc: EtcLayout;
  /** The run's workspace root (the egress resolv.conf is made there). */
  workspaceRoot: string;
  /** Empty tmpfs over private paths inside exposed directories. */
  masks: string[];
  hosts?: Record<string, string[]>;
  egress?: LocalEgressOptions;
}

export interface JobProcess {
  /** The command the sandbox starts with, before bwrap: prlimit and its limits. */
  limiter: string[];
  /** The job's directory inside the workspace. */
  workdir: string;
  script: Buffer;
  bounds: JobBounds;
  sup: Supervision;
  /** The run's read-only mounts, checked. */
  mounts: JobRequest["mounts"];
}

/** How the job's processes ended. */
export interface ProcessEnd {
  finished: Finished;
  /** The job's own command started (the sandbox was made). */
  started: boolean;
  /** Processes the job left running when its main one ended, as the sandbox counted them. */
  leftovers: number | null;
  egress?: EgressRecord;
  egressError: Error | null;
}

const SECRET_FILE = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
/** How long a killed sandbox may take to empty before the job is reported as an error. */
const REAP_LIMIT_MS = 10_000;

export async function runSandboxed(
  req: JobRequest & JobIO,
  ws: Workspace,
  host: SandboxHost,
  p: JobProcess,
): Promise<ProcessEnd> {
  const { job } = req;
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
  let egress: SandboxEgress | null = null;
  if (job.egress) {
    // The proxy's modules (DNS, TLS names) are loaded by the first job that has one.
    const { EgressSession } = await import("../../egress/session.js");
    const { SpliceRelay } = await import("../../egress/splice-relay.js");
    const python =
      host.egress?.spliceRelay === false ? null : egressPython(host.egress?.pythonPath);
    egress = new SandboxEgress(
      new EgressSession({
        spec: job.egress,
        ...(python ? { relay: new SpliceRelay({ pythonPath: python }) } : {}),
        ...(host.hosts ? { hosts: host.hosts } : {}),
        ...(host.egress?.forbidden ? { forbidden: host.egress.forbidden } : {}),
        note: (line) => note(req, line),
      }),
      {
        ...host.egress,
        note: (line) => note(req, line),
        signal: req.signal,
        onFail: () => init.kill(),
      },
    );
  }
  const fds: ExtraFd[] = [
    {
      read: true,
      onData: (text) => {
        init.learn(text);
        if (egress && init.pid !== null) egress.start(init.pid);
      },
    },
    { write: p.script },
    { read: true },
    ...req.secretFiles.map((f) => ({ write: Buffer.from(f.value, "utf8") })),
    ...(egress ? [{ write: egress.ready }] : []),
  ];
  const args = jobArgs({
    network: job.network,
    layout: host.layout,
    etc: host.etc,
    workspace: ws.src,
    cwd: path.posix.join(SANDBOX.workspace, p.workdir),
    mounts: p.mounts,
    masks: host.masks,
    tmpBytes: job.limits?.tmpBytes,
    ...(ws.home ? { home: ws.home } : {}),
    ...(egress
      ? {
          egress: {
            resolvConf: await egressResolvConf(host.workspaceRoot),
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
  let finished: Finished;
  let egressEnd: Awaited<ReturnType<SandboxEgress["finish"]>> | undefined;
  try {
    const wrapper = egress ? egressWrapper(host.egress?.unsharePath) : [];
    const [file, ...rest] = p.bounds.wrap([...p.limiter, ...wrapper, host.bwrap, ...args]) as [
      string,
      ...string[],
    ];
    finished = await supervise(
      { file, args: rest, env, fds },
      { ...p.sup, beforeKill: () => init.kill() },
    );
  } finally {
    egressEnd = await egress?.finish();
  }
  init.learn(finished.reads[0] ?? "");
  const started = init.pid !== null;
  const count = /^(\d+)\n$/.exec(finished.reads[LEFTOVERS_FD - 3] ?? "");
  // Whatever ended the job, nothing of it may outlive it: kill the init (a no-op when it is
  // gone) and wait until the namespace is empty, checking every process after a kill.
  init.kill();
  const left = await init.waitGone(REAP_LIMIT_MS, { confirm: finished.end !== "exited" });
  if (left.length > 0) {
    const text = `processes of the job survived SIGKILL for ${formatMs(REAP_LIMIT_MS)} (host pids ${left.join(", ")}): they may still be running`;
    note(req, text);
    throw new JobSetupError(text);
  }
  return {
    finished,
    started,
    leftovers: count ? Number(count[1]) : null,
    ...(egressEnd ? { egress: egressEnd.record } : {}),
    egressError: egressEnd?.error ?? null,
  };
}
