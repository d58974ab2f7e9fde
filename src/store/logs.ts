// Job logs: one append-only file per job under <data>/logs/<run>/<job>.log, within a budget.
// Only redacted bytes are written here: the writer is always fed by a Redactor stream.
import { mkdirSync } from "node:fs";
import { open, readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { LogWriter, type LogWriterOptions } from "./log-writer.js";

const SAFE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export class LogStore {
  constructor(private readonly dataDir: string) {}

  /** The file of one job's log. Ids are checked so that no path can escape the logs directory. */
  pathOf(runId: string, jobId: string): string {
    if (!SAFE.test(runId) || !SAFE.test(jobId)) throw new Error(`invalid run or job id`);
    return path.join(this.dataDir, "logs", runId, `${jobId}.log`);
  }

  /** Appends to one job's log, within `opts.budget` bytes (see LogWriter). */
  writer(runId: string, jobId: string, opts: LogWriterOptions = {}): LogWriter {
    const file = this.pathOf(runId, jobId);
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    return new LogWriter(file, opts);
  }

  /** One job's log as a stream, read in small chunks whatever its size; null when there is none. */
  async stream(runId: string, jobId: string): Promise<Readable | null> {
    try {
      return (await open(this.pathOf(runId, jobId), "r")).createReadStream({
        highWaterMark: 1 << 20,
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
  }

  /** One job's whole log as text: for small logs only (tests, short summaries). */
  async read(runId: string, jobId: string): Promise<string> {
    try {
      return await readFile(this.pathOf(runId, jobId), "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return "";
      throw e;
    }
  }

  async size(runId: string, jobId: string): Promise<number> {
    try {
      return (await stat(this.pathOf(runId, jobId))).size;
    } catch {
      return 0;
    }
  }
}
