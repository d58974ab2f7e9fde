// Job logs: one append-only file per job under <data>/logs/<run>/<job>.log.
// Only redacted bytes are written here: the writer is always fed by a Redactor stream.
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";

const SAFE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export class LogStore {
  constructor(private readonly dataDir: string) {}

  /** The file of one job's log. Ids are checked so that no path can escape the logs directory. */
  pathOf(runId: string, jobId: string): string {
    if (!SAFE.test(runId) || !SAFE.test(jobId)) throw new Error(`invalid run or job id`);
    return path.join(this.dataDir, "logs", runId, `${jobId}.log`);
  }

  writer(runId: string, jobId: string): WriteStream {
    const file = this.pathOf(runId, jobId);
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    return createWriteStream(file, { flags: "a", mode: 0o600 });
  }

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
