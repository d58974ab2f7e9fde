// Runs one child process for a job: feeds data to extra file descriptors through pipes, streams
// stdout and stderr to the job's output, and kills the whole process group on timeout or cancel.
// (A sandbox also has its PID namespace killed: see pidns.ts.)
import { spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";

/**
 * An extra file descriptor (3, 4, …): data we write and close (once it is known, when a
 * promise: a rejected one, or a process gone first, closes it unwritten), or a channel we read
 * (`onData` sees everything read from it so far, each time more arrives).
 */
export type ExtraFd =
  | { write: Buffer | Promise<Buffer> }
  | { read: true; onData?: (text: string) => void };

export interface SpawnSpec {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  fds: ExtraFd[];
}

export interface Supervision {
  output: Writable;
  signal: AbortSignal;
  timeoutMs: number;
  /** How long to wait for stdout/stderr to close once the process has exited. */
  closeGraceMs?: number;
  /** Called on timeout or cancel just before the process group is killed. */
  beforeKill?: () => void;
}

export interface Finished {
  end: "exited" | "timed_out" | "cancelled" | "spawn_failed";
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Text read from each `{ read: true }` fd, in order. */
  reads: string[];
  /** The last bytes of output, for diagnosing a sandbox that did not start. */
  tail: string;
  error?: Error;
}

const TAIL = 2048;
// setTimeout's limit; longer timeouts are effectively "none".
const MAX_TIMER = 2 ** 31 - 1;

export function supervise(spec: SpawnSpec, sup: Supervision): Promise<Finished> {
  return new Promise((resolve) => {
    const reads = spec.fds.map(() => "");
    if (sup.signal.aborted) {
      return resolve({ end: "cancelled", exitCode: null, signal: null, reads, tail: "" });
    }
    // Its own process group, so that a terminal's Ctrl-C reaches Airlock (which cancels cleanly)
    // and so that a kill reaches every process of the group at once.
    const child = spawn(spec.file, spec.args, {
      env: spec.env,
      cwd: spec.cwd,
      detached: true,
      stdio: ["ignore", "pipe", "pipe", ...spec.fds.map(() => "pipe" as const)],
    });
    let end: Finished["end"] = "exited";
    let tail = "";
    let settled = false;
    let spawnError: Error | undefined;
    let grace: NodeJS.Timeout | undefined;

    const kill = (why: "timed_out" | "cancelled") => {
      if (end !== "exited" || child.exitCode !== null || child.signalCode !== null) return;
      end = why;
      sup.beforeKill?.();
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        child.kill("SIGKILL");
      }
    };
    const timer =
      sup.timeoutMs > 0 && sup.timeoutMs < MAX_TIMER
        ? setTimeout(() => kill("timed_out"), sup.timeoutMs)
        : null;
    const onAbort = () => kill("cancelled");
    sup.signal.addEventListener("abort", onAbort, { once: true });

    const streams = [child.stdout, child.stderr] as Readable[];
    for (const s of streams) {
      s.on("data", (chunk: Buffer) => {
        tail = (tail + chunk.toString("utf8")).slice(-TAIL);
      });
      s.pipe(sup.output, { end: false });
    }
    spec.fds.forEach((fd, i) => {
      const stream = child.stdio[3 + i] as (Readable & Writable) | null;
      if (!stream) return;
      // A child that dies early closes its end; the EPIPE is expected and means nothing here.
      stream.on("error", () => {});
      if ("write" in fd) {
        if (Buffer.isBuffer(fd.write)) stream.end(fd.write);
        else {
          fd.write.then(
            (b) => stream.end(b),
            () => stream.destroy(),
          );
          child.once("exit", () => stream.destroy());
        }
      } else {
        stream.on("data", (c: Buffer) => {
          reads[i] += c.toString("utf8");
          fd.onData?.(reads[i]!);
        });
      }
    });

    const finish = (exitCode: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      if (grace) clearTimeout(grace);
      sup.signal.removeEventListener("abort", onAbort);
      for (const s of streams) s.unpipe(sup.output);
      resolve({
        end: spawnError ? "spawn_failed" : end,
        exitCode,
        signal,
        reads,
        tail,
        error: spawnError,
      });
    };
    child.on("error", (e) => {
      spawnError = e;
      if (child.pid === undefined) finish(null, null);
    });
    child.on("close", (code, sig) => finish(code, sig));
    // 'close' waits for every holder of stdout/stderr; a stray process that kept them open (only
    // possible outside the sandbox) must not hold the job forever.
    child.on("exit", (code, sig) => {
      grace = setTimeout(() => {
        for (const s of [...streams, ...child.stdio.slice(3)]) s?.destroy();
        finish(code, sig);
      }, sup.closeGraceMs ?? 2000);
    });
  });
}
