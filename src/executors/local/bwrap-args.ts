// bubblewrap's argument list for one job. Only paths and fixed words go here: environment values
// (secrets included) travel in the process environment, file contents through pipes.
import path from "node:path";
import { SANDBOX } from "./env.js";
import type { EtcLayout, HostLayout } from "./layout.js";
import { isInside } from "./paths.js";

/** The job runs as this unprivileged user inside its own user namespace. */
export const SANDBOX_UID = "1000";

/** Namespaces and process handling shared by every sandbox (and the availability check). */
export function sandboxFlags(o: { network: boolean }): string[] {
  return [
    "--unshare-all",
    ...(o.network ? ["--share-net"] : []),
    "--unshare-user",
    "--uid",
    SANDBOX_UID,
    "--gid",
    SANDBOX_UID,
    "--disable-userns",
    "--die-with-parent",
    "--new-session",
    "--hostname",
    "airlock",
  ];
}

/**
 * Runs the job's script (a file, so no text of the job is ever part of a command line) with
 * stderr joined to stdout, so the log keeps the order in which lines were written.
 */
export const JOB_COMMAND = [
  "/bin/bash",
  "-c",
  'exec /bin/bash -e -o pipefail "$1" 2>&1',
  "airlock-job",
];

/** The fd on which the sandbox reports how many processes the job left running. */
export const LEFTOVERS_FD = 5;

/**
 * The sandbox's version: the script runs as a child (without the leftovers fd), and when it ends
 * the processes it left in the PID namespace are counted (zombies aside) and reported before
 * the namespace's end kills them. A job that interferes only spoils its own count.
 */
export const SANDBOX_JOB_COMMAND = [
  "/bin/bash",
  "-c",
  [
    // The group's stderr is not the job's: bash's own "Killed" notice stays out of the log.
    `{ /bin/bash -e -o pipefail "$1" 2>&1 ${LEFTOVERS_FD}>&-; } 2>/dev/null`,
    "s=$?",
    "n=0",
    "for p in /proc/[0-9]*; do",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
    '  p="${p#/proc/}"',
    '  [ "$p" = 1 ] || [ "$p" = $$ ] && continue',
    '  read -r st 2>/dev/null <"/proc/$p/stat" || continue',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax
    '  case "${st##*) }" in Z*|X*) ;; *) n=$((n + 1)) ;; esac',
    "done",
    `echo "$n" >&${LEFTOVERS_FD}`,
    "exit $s",
  ].join("\n"),
  "airlock-job",
];

export interface JobSandbox {
  network: boolean;
  layout: HostLayout;
  /** The sandbox's /etc (see prepareEtc). */
  etc: EtcLayout;
  /** Host path of the job's checkout, bound read-write at /workspace. */
  workspace: string;
  /** Working directory inside the sandbox. */
  cwd: string;
  /** Validated read-only mounts. */
  mounts: { source: string; target: string }[];
  /** Sandbox paths covered by an empty tmpfs (private host paths inside exposed directories). */
  masks: string[];
  /** Host directory bound as the job's home (a cached ~/ path); absent: a private tmpfs. */
  home?: string;
  /** Size of the private /tmp in bytes (absent: tmpfs's default). */
  tmpBytes?: number;
  /** Egress through Airlock's proxy: the job's resolv.conf, and the fd it waits on to start. */
  egress?: { resolvConf: string; blockFd: number };
  /** Size of the private $HOME in bytes (absent: tmpfs's default). */
  homeBytes?: number;
  scriptFd: number;
  secretFiles: { name: string; fd: number }[];
  /** Host path of the job's API socket, bound at SANDBOX.apiSocket. */
  apiSocket?: string;
  statusFd: number;
}

export function jobArgs(s: JobSandbox): string[] {
  const a = [...sandboxFlags({ network: s.network }), ...s.layout.args];
  a.push("--ro-bind", s.etc.dir, "/etc", ...s.etc.args);
  if (s.network) a.push("--ro-bind-try", "/etc/resolv.conf", "/etc/resolv.conf");
  if (s.egress) a.push("--ro-bind", s.egress.resolvConf, "/etc/resolv.conf");
  // HOME and /tmp are private and in memory; the checkout is the only thing on disk.
  a.push("--proc", "/proc", "--dev", "/dev");
  if (s.tmpBytes !== undefined) a.push("--size", String(s.tmpBytes));
  a.push("--tmpfs", "/tmp");
  // A cached ~/ path needs the home on the host (see cache/): in memory or on disk.
  if (s.home) a.push("--bind", s.home, SANDBOX.home);
  else {
    if (s.homeBytes !== undefined) a.push("--size", String(s.homeBytes));
    a.push("--tmpfs", SANDBOX.home);
  }
  a.push("--bind", s.workspace, SANDBOX.workspace, ...s.layout.extraArgs);
  for (const m of s.mounts) a.push("--ro-bind", m.source, m.target);
  for (const m of s.masks) a.push("--tmpfs", m);
  // Script and secret files are written from pipes onto a private tmpfs, then made read-only.
  a.push("--tmpfs", SANDBOX.run);
  a.push("--perms", "0444", "--file", String(s.scriptFd), SANDBOX.script);
  a.push("--perms", "0500", "--dir", SANDBOX.secrets);
  for (const f of s.secretFiles) {
    a.push("--perms", "0400", "--file", String(f.fd), path.posix.join(SANDBOX.secrets, f.name));
  }
  // A socket on a read-only mount still accepts connections.
  if (s.apiSocket) a.push("--ro-bind", s.apiSocket, SANDBOX.apiSocket);
  a.push("--remount-ro", SANDBOX.run, "--remount-ro", "/");
  a.push("--chdir", s.cwd, "--json-status-fd", String(s.statusFd));
  if (s.egress) a.push("--block-fd", String(s.egress.blockFd));
  a.push("--", ...SANDBOX_JOB_COMMAND, SANDBOX.script);
  return a;
}

/** Places inside the sandbox that a mount must neither cover nor sit in. */
const RESERVED = [
  "/usr",
  "/bin",
  "/sbin",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/etc",
  "/proc",
  "/dev",
  "/sys",
  "/tmp",
  SANDBOX.run,
  SANDBOX.workspace,
  SANDBOX.home,
];

/** Why a mount target is not acceptable, or null when it is. */
export function badMountTarget(target: string): string | null {
  if (!path.posix.isAbsolute(target) || path.posix.normalize(target) !== target) {
    return "must be an absolute, normalised path";
  }
  for (const r of RESERVED) {
    if (isInside(target, r) && !(r === "/tmp" && target !== "/tmp")) return `is inside ${r}`;
    if (isInside(r, target)) return `would cover ${r}`;
  }
  return null;
}
