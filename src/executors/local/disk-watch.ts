// The workspace's disk budget, enforced while the job runs: `du` measures the job's directories
// now and again (never so often that measuring costs more than a tenth of the time), and the
// first measure past the budget stops the job. A job can overshoot by what it writes between two
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

/**
 * Measures `dirs` every second or so; calls `over` once, with the bytes used, when they exceed
 * `budget`, and stops.
 */
export function watchDisk(
  dirs: string[],
  budget: number,
  over: (used: number) => void,
  opts: { intervalMs?: number } = {},
): DiskWatch {
  const ctrl = new AbortController();
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
      if (used !== null && used > budget) {
        over(used);
        return;
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
 * Bytes of disk the directories use (blocks, not apparent sizes: a sparse file costs nothing),
 * or null when du could not run. Files vanishing while du walks are the job's business.
 */
export function diskUsage(dirs: string[], signal?: AbortSignal): Promise<number | null> {
  return new Promise((resolve) => {
    execFile(
      "du",
      ["-s", "-x", "-B1", "--", ...dirs],
      { signal, maxBuffer: 1 << 16 },
      (err, stdout) => {
        let total = 0;
        let any = false;
        for (const line of String(stdout).split("\n")) {
          const m = /^(\d+)\t/.exec(line);
          if (m) {
            total += Number(m[1]);
            any = true;
          }
        }
        // du exits 1 when some file vanished mid-walk, and still prints its totals.
        resolve(any ? total : err ? null : 0);
      },
    );
  });
}
