// When each log line was written, beside the log (`<job>.log.times`), so the log itself stays the
// job's exact (redacted) output and every reader of it is unchanged. Records are 12 bytes: the
// line number (uint32) where a new time starts and that time (ms, float64); a line with no record
// of its own started in the same millisecond as the one before. A log without the file (written
// before timestamps existed) simply has no times. The file is bounded: past its cap one last
// record says "unknown from here" (NaN), so a line is never shown with a wrong time.
import { closeSync, ftruncateSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { open } from "node:fs/promises";

const RECORD = 12;
/** Times files never exceed this, whatever the log's budget. */
const MAX_TIMES_BYTES = 16 << 20;

export const timesPathOf = (logFile: string): string => `${logFile}.times`;

/** Removes a log's times (its lines can no longer be matched to them). */
export function forgetTimes(logFile: string): void {
  try {
    unlinkSync(timesPathOf(logFile));
  } catch {
    // none, or already gone
  }
}

/** Records the start time of each line written to one log, as its bytes are written. */
export class LineTimes {
  readonly #file: string;
  readonly #cap: number;
  #fd: number | null;
  #size = 0;
  /** Complete lines so far; the line being written is #lines + 1. */
  #lines = 0;
  #atLineStart = true;
  #lastMs = Number.NaN;
  /** The cap was reached: nothing more is recorded. */
  #full = false;

  /** `budget`: the log's byte budget; its times take at most an eighth of it (and 16 MiB). */
  constructor(logFile: string, budget: number) {
    this.#file = timesPathOf(logFile);
    this.#cap = Math.max(RECORD * 64, Math.min(MAX_TIMES_BYTES, Math.floor(budget / 8)));
    // A fresh log starts a fresh times file. Times are a comfort: a file that cannot be made
    // leaves the log without them (the log's own writer reports a data directory it cannot use).
    try {
      this.#fd = openSync(this.#file, "w+", 0o600);
    } catch {
      this.#fd = null;
    }
  }

  /** Complete lines written so far. */
  get lines(): number {
    return this.#lines;
  }

  /** Notes that `chunk` was appended to the log at `now`. */
  wrote(chunk: Buffer, now = Date.now()): void {
    if (this.#fd === null || this.#full || chunk.length === 0) return;
    const records: Buffer[] = [];
    let i = 0;
    while (i < chunk.length) {
      if (this.#atLineStart) {
        const line = this.#lines + 1;
        if (now !== this.#lastMs) records.push(this.#record(line, now));
        this.#atLineStart = false;
      }
      const nl = chunk.indexOf(10, i);
      if (nl === -1) break;
      this.#lines++;
      this.#atLineStart = true;
      i = nl + 1;
    }
    this.#append(records);
  }

  /**
   * The log was cut to `keptLines` complete lines (and a partial one when `partial`): records of
   * lines past them are dropped so that lines written next get their own times.
   */
  cut(keptLines: number, partial: boolean): void {
    if (this.#fd === null) return;
    try {
      this.#cut(keptLines, partial);
    } catch {
      this.drop();
    }
  }

  #cut(keptLines: number, partial: boolean): void {
    if (this.#fd === null) return;
    const last = partial ? keptLines + 1 : keptLines;
    let n = this.#size / RECORD;
    const rec = Buffer.alloc(RECORD);
    while (n > 0) {
      readSync(this.#fd, rec, 0, RECORD, (n - 1) * RECORD);
      if (rec.readUInt32BE(0) <= last) break;
      n--;
    }
    this.#size = n * RECORD;
    ftruncateSync(this.#fd, this.#size);
    this.#lines = keptLines;
    this.#atLineStart = !partial;
    this.#lastMs = n > 0 ? rec.readDoubleBE(4) : Number.NaN;
    if (this.#full && n > 0 && !Number.isNaN(this.#lastMs)) {
      // Lines written from now on get no time: they must not inherit the last one kept.
      const sentinel = this.#record(last + 1, Number.NaN);
      writeSync(this.#fd, sentinel, 0, RECORD, this.#size);
      this.#size += RECORD;
    }
  }

  /** Stops recording and removes the file (the log was cut in a way lines cannot follow). */
  drop(): void {
    this.close();
    forgetTimes(this.#file.slice(0, -".times".length));
  }

  close(): void {
    if (this.#fd === null) return;
    closeSync(this.#fd);
    this.#fd = null;
  }

  #record(line: number, ms: number): Buffer {
    const b = Buffer.allocUnsafe(RECORD);
    b.writeUInt32BE(line, 0);
    b.writeDoubleBE(ms, 4);
    this.#lastMs = ms;
    return b;
  }

  #append(records: Buffer[]): void {
    if (this.#fd === null || records.length === 0) return;
    const room = Math.floor((this.#cap - this.#size) / RECORD) - 1;
    let out = records;
    if (records.length > room) {
      out = records.slice(0, Math.max(0, room));
      const first = records[out.length]!.readUInt32BE(0);
      out.push(this.#record(first, Number.NaN));
      this.#full = true;
    }
    const buf = Buffer.concat(out);
    try {
      writeSync(this.#fd, buf, 0, buf.length, this.#size);
      this.#size += buf.length;
    } catch {
      this.drop(); // a full disk: no times rather than wrong ones
    }
  }
}

/**
 * The start time (ms) of lines `from`..`to` (lines the log has) of a log, by line number; lines with no known time are
 * absent. Empty for a log without a times file.
 */
export async function lineTimes(
  logFile: string,
  from: number,
  to: number,
): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(timesPathOf(logFile), "r");
  } catch {
    return out;
  }
  try {
    const count = Math.floor((await fh.stat()).size / RECORD);
    const rec = Buffer.alloc(RECORD);
    const lineAt = async (i: number) => {
      await fh.read(rec, 0, RECORD, i * RECORD);
      return rec.readUInt32BE(0);
    };
    // The last record at or before `from` (binary search)...
    let lo = 0;
    let hi = count - 1;
    let start = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((await lineAt(mid)) <= from) {
        start = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    // ...then the records up to `to`, in one read: each names a distinct line.
    const n = Math.min(count - start, to - from + 2);
    if (n <= 0) return out;
    const buf = Buffer.alloc(n * RECORD);
    const { bytesRead } = await fh.read(buf, 0, buf.length, start * RECORD);
    const records = Math.floor(bytesRead / RECORD);
    let r = 0;
    for (let line = from; line <= to; line++) {
      while (r + 1 < records && buf.readUInt32BE((r + 1) * RECORD) <= line) r++;
      if (buf.readUInt32BE(r * RECORD) > line) continue;
      const ms = buf.readDoubleBE(r * RECORD + 4);
      if (!Number.isNaN(ms)) out.set(line, ms);
    }
    return out;
  } finally {
    await fh.close();
  }
}
