// Runs a DAG of jobs with a concurrency limit. Knows nothing of what a job does:
// the caller gives an `execute` function and gets every job's final outcome.

export type Outcome = "passed" | "failed" | "timed_out" | "cancelled" | "skipped" | "error";

export interface DagNode {
  id: string;
  needs: string[];
}

export interface SchedulerOptions {
  concurrency: number;
  /** Stop starting jobs, and cancel running ones, after the first failure. */
  failFast?: boolean;
  /** Aborting cancels every running job and leaves the rest cancelled. */
  signal?: AbortSignal;
  /**
   * Waits, before a job starts, for what it may start with (a slot of the gateway's fair share);
   * resolves with its release, or null when the job was cancelled while it waited. A waiting job
   * has not started: onStart comes once it is admitted.
   */
  admit?: (id: string, signal: AbortSignal) => Promise<(() => void) | null>;
  /** Called when a job starts and when it ends (for the live view and the store). */
  onStart?: (id: string) => void;
  onEnd?: (id: string, result: JobOutcome) => void;
}

export interface JobOutcome {
  outcome: Outcome;
  reason: string;
}

const succeeded = (o: Outcome) => o === "passed";

export async function runDag(
  nodes: DagNode[],
  execute: (id: string, signal: AbortSignal) => Promise<Outcome>,
  opts: SchedulerOptions,
): Promise<Map<string, JobOutcome>> {
  const results = new Map<string, JobOutcome>();
  const pending = new Map(nodes.map((n) => [n.id, n]));
  const running = new Map<string, AbortController>();
  const concurrency = Math.max(1, opts.concurrency);
  let stopReason: string | null = null;

  const finish = (id: string, r: JobOutcome) => {
    results.set(id, r);
    opts.onEnd?.(id, r);
  };

  const onAbort = () => {
    stopReason ??= "the run was cancelled";
    for (const c of running.values()) c.abort();
  };
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener("abort", onAbort, { once: true });

  return new Promise((resolve) => {
    const pump = () => {
      // Settle what can no longer run: stopped runs, and jobs whose dependencies did not pass.
      let changed = true;
      while (changed) {
        changed = false;
        for (const [id, node] of pending) {
          if (stopReason) {
            pending.delete(id);
            const cancelled = opts.signal?.aborted;
            finish(id, { outcome: cancelled ? "cancelled" : "skipped", reason: stopReason });
            changed = true;
            continue;
          }
          const failedNeed = node.needs.find((n) => {
            const r = results.get(n);
            return r !== undefined && !succeeded(r.outcome);
          });
          if (failedNeed) {
            pending.delete(id);
            const r = results.get(failedNeed)!;
            finish(id, {
              outcome: "skipped",
              reason: `needs ${failedNeed}, which ${describe(r.outcome)}`,
            });
            changed = true;
          }
        }
      }
      for (const [id, node] of pending) {
        if (running.size >= concurrency) break;
        if (!node.needs.every((n) => results.get(n)?.outcome === "passed")) continue;
        pending.delete(id);
        start(id);
      }
      if (pending.size === 0 && running.size === 0) {
        opts.signal?.removeEventListener("abort", onAbort);
        resolve(results);
      }
    };

    const start = (id: string) => {
      const ctrl = new AbortController();
      running.set(id, ctrl);
      const admitted = opts.admit ? opts.admit(id, ctrl.signal) : Promise.resolve(() => {});
      admitted
        .then(async (release): Promise<Outcome> => {
          if (!release) return "cancelled";
          try {
            opts.onStart?.(id);
            return await execute(id, ctrl.signal);
          } finally {
            release();
          }
        })
        .catch((): Outcome => "error")
        .then((outcome) => {
          running.delete(id);
          const cancelledByRun = outcome === "cancelled" && stopReason;
          finish(id, { outcome, reason: cancelledByRun ? stopReason! : "" });
          if (opts.failFast && !succeeded(outcome) && !stopReason) {
            stopReason = `fail-fast: ${id} ${describe(outcome)}`;
            for (const c of running.values()) c.abort();
          }
          pump();
        });
    };

    pump();
  });
}

function describe(o: Outcome): string {
  switch (o) {
    case "failed":
      return "failed";
    case "timed_out":
      return "timed out";
    case "cancelled":
      return "was cancelled";
    case "skipped":
      return "was skipped";
    case "error":
      return "could not run";
    default:
      return o;
  }
}
