// The workspace's disk budget (and the size of a home kept in memory), enforced while the job
// runs: `du` measures the job's directories now and again (never so often that measuring costs
// more than a tenth of the time), and the first measure past a budget stops the job. A job can overshoot by what it writes between two
// measures; RLIMIT_FSIZE (`limits.file_size`) bounds a single file at once.
import { execFile } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";

/** The shortest pause between two measures. */
const MIN_INTERVAL_MS = 1000;
/** Measuring may take at most this share of the time. */
const DUTY = 10;

export interface DiskWatch {
  /** Stops measuring; resolves once no measure is running. */
  stop(): Promise<void>;
}

/** Directories that may hold at most `bytes` together; `over` is called when they hold more. */
export interface Budget {
  dirs: string[];
  bytes: number;
  over(used: number): void;
}

/**
 * Measures every budget's directories every second or so, with one `du`; calls the first
 * budget found over with the bytes its directories use, and stops.
 */
export function watchDisk(budgets: Budget[], opts: { intervalMs?: number } = {}): DiskWatch {
  const ctrl = new AbortController();
  const dirs = budgets.flatMap((b) => b.dirs);
  const loop = (async () => {
    let pause = opts.intervalMs ?? MIN_INTERVAL_MS;
    for (;;) {
      try {
        await sleep(pause, undefined, { signal: ctrl.signal });
      } catch {
        return;
      }
      const t0 = performance.now();
      const used = await diskUsage(dirs, ctrl.signal);
      if (ctrl.signal.aborted) return;
      for (const b of budgets) {
        const sum = used && b.dirs.reduce((n, d) => n + (used.get(d) ?? 0), 0);
        if (sum && sum > b.bytes) {
          b.over(sum);
          return;
        }
      }
      pause = Math.max(opts.intervalMs ?? MIN_INTERVAL_MS, (performance.now() - t0) * DUTY);
    }
  })();
  return {
    stop: async () => {
      ctrl.abort();
      await loop;
    },
  };
}

/**
 * Bytes of disk each directory uses (blocks, not apparent sizes: a sparse file costs nothing),
 * or null when du could not run. Files vanishing while du walks are the job's business.
 */
export function diskUsage(
  dirs: string[],
  signal?: AbortSignal,
): Promise<Map<string, number> | null> {
  return new Promise((resolve) => {
    execFile(
      "du",
      ["-s", "-x", "-B1", "--", ...dirs],
      { signal, maxBuffer: 1 << 16 },
      (err, stdout) => {
        const used = new Map<string, number>();
        for (const line of String(stdout).split("\n")) {
          const m = /^(\d+)\t(.*)$/.exec(line);
          if (m) used.set(m[2]!, Number(m[1]));
        }
        // du exits 1 when some file vanished mid-walk, and still prints its totals.
        resolve(used.size > 0 || !err ? used : null);
      },
    );
  });
}
