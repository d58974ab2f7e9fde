// The sandbox's PID namespace, seen from the host. bubblewrap's first child is PID 1 of the
// namespace; when it dies the kernel kills every other process in it, whatever session or
// process group they made for themselves. Killing that init is therefore the one reliable way
// to end a job: a process-group kill misses anything that called setsid (bwrap's --new-session
// does), and --die-with-parent only binds the init to bwrap once its set-up is over, so killing
// bwrap during set-up can leave the init — and then the whole job — running.
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

/** The namespace's init and the namespace itself, as the host names them. */
interface Init {
  pid: number;
  /** The link text of /proc/<pid>/ns/pid, e.g. "pid:[4026532184]". */
  ns: string;
}

/**
 * Follows one sandbox from bwrap's JSON status output: learns its init as soon as bwrap reports
 * it, kills it on request (at once, or the moment it becomes known), and waits for it to be gone.
 */
export class SandboxInit {
  #init: Init | null = null;
  #doomed = false;

  /** The init's host pid, once bwrap has reported it. */
  get pid(): number | null {
    return this.#init?.pid ?? null;
  }

  /** Feeds the status text read so far (bwrap writes `{ "child-pid": …, "pid-namespace": … }`). */
  learn(status: string): void {
    if (this.#init) return;
    // bwrap writes the line in pieces ("{ \"child-pid\": 771", then each namespace): a read
    // may end mid-number, so only a whole line is trusted.
    const end = status.indexOf("\n");
    if (end < 0) return;
    const line = status.slice(0, end);
    const pid = /"child-pid"\s*:\s*(\d+)/.exec(line)?.[1];
    if (!pid) return;
    const ino = /"pid-namespace"\s*:\s*(\d+)/.exec(line)?.[1];
    // bwrap older than 0.5 does not name the namespace: read it now, while bwrap still holds
    // its child (the pid cannot have been reused before bwrap reaps it).
    const ns = ino ? `pid:[${ino}]` : nsOf(Number(pid));
    // Never take Airlock's own namespace for the sandbox's: its members would be host processes.
    if (!ns || ns === OWN_NS) return;
    this.#init = { pid: Number(pid), ns };
    if (this.#doomed) this.#signal();
  }

  /** SIGKILLs the init now if it is known, otherwise as soon as `learn` finds it. */
  kill(): void {
    this.#doomed = true;
    if (this.#init) this.#signal();
  }

  /**
   * Waits until the init is gone (a zombie counts as gone: it has left the namespace empty),
   * at most `ms`. With `confirm`, then checks every host process for one still in the
   * namespace. Returns the host pids still running in it: empty when all is well.
   */
  async waitGone(ms: number, opts: { confirm?: boolean } = {}): Promise<number[]> {
    const init = this.#init;
    if (!init) return [];
    const until = Date.now() + ms;
    let pause = 1;
    while (running(init.pid, init.ns)) {
      if (Date.now() >= until) return [init.pid, ...members(init.ns, init.pid)];
      await sleep(pause);
      pause = Math.min(pause * 2, 20);
    }
    if (!opts.confirm) return [];
    for (;;) {
      const left = members(init.ns);
      if (left.length === 0 || Date.now() >= until) return left;
      for (const pid of left) signalIn(pid, init.ns);
      await sleep(pause);
      pause = Math.min(pause * 2, 20);
    }
  }

  #signal(): void {
    if (this.#init) signalIn(this.#init.pid, this.#init.ns);
  }
}

/** SIGKILLs `pid` if it is still a process of namespace `ns` (never a reused pid). */
function signalIn(pid: number, ns: string): void {
  if (ns === OWN_NS || nsOf(pid) !== ns) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // Gone between the check and the kill: nothing left to do.
  }
}

/** The PID namespace Airlock itself runs in (a sandbox's is always a new one). */
const OWN_NS = nsOf(process.pid);

function nsOf(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return null;
  }
}

/** True while `pid` is a live (not zombie) process of namespace `ns`. */
function running(pid: number, ns: string): boolean {
  if (nsOf(pid) !== ns) return false;
  try {
    const st = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = st[st.lastIndexOf(")") + 2];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Live host processes in namespace `ns`, other than `except`. */
function members(ns: string, except?: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid !== except && running(pid, ns)) found.push(pid);
  }
  return found;
}
