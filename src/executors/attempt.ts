// Drives one job attempt through an executor's lifecycle (start, logs ‖ wait, reports, destroy,
// cancel on abort), and adapts executors that run a job in one call to that lifecycle.
import { PassThrough } from "node:stream";
import { finished } from "node:stream/promises";
import type {
  JobAttempt,
  JobEnd,
  JobIO,
  JobRequest,
  JobResult,
  PreparedRun,
  ReportFile,
} from "./types.js";

/** Runs `req` on `run` to its end. Never rejects: whatever fails becomes an error result. */
export async function runAttempt(run: PreparedRun, req: JobRequest, io: JobIO): Promise<JobResult> {
  const t0 = performance.now();
  const result = (end: JobEnd, reports: ReportFile[] = []): JobResult => ({
    ...end,
    durationMs: end.durationMs ?? Math.round(performance.now() - t0),
    reports,
  });
  if (io.signal.aborted) return result({ status: "cancelled", exitCode: null });
  let attempt: JobAttempt;
  try {
    attempt = await run.start(req);
  } catch (e) {
    io.output.write(`airlock: ${message(e)}\n`);
    return result({
      status: io.signal.aborted ? "cancelled" : "error",
      exitCode: null,
      error: message(e),
    });
  }
  const onAbort = () => {
    attempt.cancel(io.signal.reason).catch(() => {});
  };
  io.signal.addEventListener("abort", onAbort, { once: true });
  if (io.signal.aborted) onAbort();
  let out: JobResult;
  try {
    const [end] = await Promise.all([attempt.wait(), attempt.logs(io.output)]);
    out = result(end, await attempt.reports());
  } catch (e) {
    out = result({ status: "error", exitCode: null, error: `the executor failed: ${message(e)}` });
  } finally {
    io.signal.removeEventListener("abort", onAbort);
  }
  try {
    await attempt.destroy();
  } catch (e) {
    out.error = [out.error, `cleaning up failed: ${message(e)}`].filter(Boolean).join("; ");
  }
  return out;
}

/**
 * A JobAttempt over a function that runs a job to its end in one call, writing its output and
 * stopping on its signal (the local sandbox; a GitLab job waiting on its pipeline). The output is
 * buffered until `logs` takes it, with backpressure reaching the job's own pipes.
 */
export function attemptOf(
  runToEnd: (req: JobRequest & JobIO) => Promise<JobResult>,
  req: JobRequest,
): JobAttempt {
  const output = new PassThrough();
  const stop = new AbortController();
  const done = runToEnd({ ...req, output, signal: stop.signal })
    .catch(
      (e): JobResult => ({
        status: "error",
        exitCode: null,
        durationMs: 0,
        reports: [],
        error: `the executor failed: ${message(e)}`,
      }),
    )
    .finally(() => output.end());
  return {
    adopted: false,
    async logs(to) {
      output.pipe(to, { end: false });
      await finished(output).catch(() => {});
    },
    async wait() {
      const { reports: _, ...end } = await done;
      return end;
    },
    async reports() {
      return (await done).reports;
    },
    async cancel(reason) {
      stop.abort(reason);
    },
    async destroy() {
      // The function removed what it made before it returned.
      await done;
    },
  };
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
