// One job's log file under a budget. Output past the budget is counted and dropped (the job's
// output is still read to its end, so the job never blocks on a full pipe); at the end, Airlock's
// closing lines (why the job ended, that the log was truncated) are added, and the file is cut so
// that, closing lines included, it never exceeds the budget.
import { createWriteStream, statSync, type WriteStream } from "node:fs";
import { appendFile, open, truncate } from "node:fs/promises";
import { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { formatBytes } from "../config/size.js";
import { forgetTimes, LineTimes } from "./log-times.js";

export interface LogWriterOptions {
  /** Most bytes the file may hold (default: no limit). */
  budget?: number;
  /** Lines Airlock adds at the end (without "airlock: "), asked for once the output has ended. */
  closing?: () => string[];
}

/** Closing lines together never take more than this (budgets are at least 64 KiB). */
const CLOSING_MAX = 8191;
/** What a log that could not be written keeps, when it gives its space back. */
const KEPT_AFTER_FAILURE = 64 * 1024;
const LINE_MAX = 2000;

export class LogWriter extends Writable {
  readonly #file: string;
  readonly #out: WriteStream;
  readonly #budget: number;
  readonly #closing: () => string[];
  readonly #extra: string[] = [];
  #written: number;
  #dropped = 0;
  #endsWithNewline = true;
  #truncation: string | null = null;
  /** When each line was written; null when appending to a log written before (no times). */
  readonly #times: LineTimes | null;

  constructor(file: string, opts: LogWriterOptions = {}) {
    super();
    this.#file = file;
    this.#budget = opts.budget ?? Number.POSITIVE_INFINITY;
    this.#closing = opts.closing ?? (() => []);
    this.#written = sizeOf(file);
    // Appending to an earlier log: its lines cannot be counted cheaply, so it keeps no times (a
    // times file of the earlier writer would give the new lines its last time).
    this.#times = this.#written === 0 ? new LineTimes(file, this.#budget) : null;
    if (!this.#times) forgetTimes(file);
    this.#out = createWriteStream(file, { flags: "a", mode: 0o600 });
    this.#out.on("error", (e) => this.destroy(e));
  }

  /** Bytes of output not kept so far. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Once ended: "log truncated at 100 MiB: N bytes not kept", or null when all was kept. */
  get truncation(): string | null {
    return this.#truncation;
  }

  /**
   * After a write failed (a full disk): cuts the file to its first 64 KiB, so that the space the
   * job's output took is free for Airlock's own records, and ends it with `line` if it can.
   */
  async giveSpaceBack(line: string): Promise<void> {
    this.destroy();
    this.#times?.drop();
    try {
      if (sizeOf(this.#file) > KEPT_AFTER_FAILURE) await truncate(this.#file, KEPT_AFTER_FAILURE);
      await appendFile(this.#file, `\nairlock: ${clip(line, LINE_MAX)}\n`, { mode: 0o600 });
    } catch {
      // The disk may still refuse: the job's record says why it failed.
    }
  }

  /** Ends the log with `lines` among its closing lines. */
  endWith(lines: string[]): void {
    this.#extra.push(...lines);
    this.end();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    const room = Math.max(0, this.#budget - this.#written);
    const keep = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.#dropped += chunk.length - keep.length;
    if (keep.length === 0) {
      done();
      return;
    }
    this.#written += keep.length;
    this.#endsWithNewline = keep[keep.length - 1] === 0x0a;
    this.#times?.wrote(keep);
    this.#out.write(keep, (e) => done(e));
  }

  override _final(done: (e?: Error | null) => void): void {
    this.#finish().then(() => {
      this.#times?.close();
      done();
    }, done);
  }

  override _destroy(e: Error | null, done: (e?: Error | null) => void): void {
    this.#out.destroy();
    this.#times?.close();
    done(e);
  }

  async #finish(): Promise<void> {
    this.#out.end();
    await finished(this.#out);
    const lines = [...this.#closing(), ...this.#extra].map(
      (l) => `airlock: ${clip(l, LINE_MAX)}\n`,
    );
    let text = clip(lines.join(""), CLOSING_MAX);
    if (text && !text.endsWith("\n")) text += "\n";
    // Closing lines start a line of their own.
    const sep = text && this.#written > 0 && !this.#endsWithNewline ? "\n" : "";
    if (this.#dropped > 0 || Buffer.byteLength(sep + text) > this.#budget - this.#written) {
      // Room for the closing lines comes off the kept output, and the notice counts those bytes
      // too: its length depends on the number it states, so try each digit count in turn.
      const notice = (n: number) =>
        `airlock: log truncated at ${formatBytes(this.#budget)}: ${n} bytes not kept\n`;
      text = `\n${text}`;
      for (let digits = 1; ; digits++) {
        const keep = Math.min(
          this.#written,
          this.#budget - Buffer.byteLength(text) - Buffer.byteLength(notice(0)) - (digits - 1),
        );
        const n = this.#dropped + this.#written - keep;
        if (String(n).length > digits) continue;
        if (keep < this.#written) await this.#cutTo(keep);
        this.#written = keep;
        this.#dropped = n;
        this.#truncation = notice(n).slice("airlock: ".length, -1);
        text += notice(n);
        break;
      }
    } else {
      text = sep + text;
    }
    if (!text) return;
    const out = createWriteStream(this.#file, { flags: "a", mode: 0o600 });
    this.#times?.wrote(Buffer.from(text));
    out.end(text);
    await finished(out);
    this.#written += Buffer.byteLength(text);
  }

  /** Cuts the file to `keep` bytes, and its line times to the lines left. */
  async #cutTo(keep: number): Promise<void> {
    if (this.#times) {
      // Only the tail is cut (room for the closing lines): count the lines it held.
      const fh = await open(this.#file, "r");
      try {
        const tail = Buffer.alloc(this.#written - keep);
        await fh.read(tail, 0, tail.length, keep);
        let gone = 0;
        for (let i = tail.indexOf(10); i !== -1; i = tail.indexOf(10, i + 1)) gone++;
        const before = Buffer.alloc(1);
        const { bytesRead } = keep > 0 ? await fh.read(before, 0, 1, keep - 1) : { bytesRead: 0 };
        const partial = bytesRead === 1 && before[0] !== 0x0a;
        this.#times.cut(this.#times.lines - gone, partial);
      } finally {
        await fh.close();
      }
    }
    await truncate(this.#file, keep);
  }
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** `s` cut to at most `max` bytes (on a character boundary), marked with "…" when cut. */
function clip(s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s;
  const cut = Buffer.from(s)
    .subarray(0, max - 4)
    .toString("utf8");
  return `${cut.replace(/\uFFFD$/, "")}…`;
}
