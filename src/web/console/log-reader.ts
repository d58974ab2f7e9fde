// Paged reading of job logs that may be hundreds of megabytes: a sparse line index (one byte
// offset per CHECKPOINT lines, extended as the file grows) finds a line's position, and only the
// requested range is read. Nothing here ever loads a whole log into memory.
import { open, stat } from "node:fs/promises";

const CHECKPOINT = 1000;
const CHUNK = 1 << 20;
/** Longer lines are cut for display; the download has them whole. */
export const MAX_LINE_CHARS = 16_384;

export interface LogLine {
  /** 1-based line number. */
  n: number;
  text: string;
  /** True when the line was cut at MAX_LINE_CHARS. */
  cut?: boolean;
}

interface Index {
  /** Bytes scanned so far (always just after a newline, or 0). */
  scanned: number;
  /** Complete lines seen so far. */
  lines: number;
  /** checkpoints[k] = byte offset where line k*CHECKPOINT+1 starts. */
  checkpoints: number[];
}

const indexes = new Map<string, Index>();
const MAX_INDEXES = 64;

async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw e;
  }
}

/** Brings the index of `file` up to its current size and returns it. */
async function indexOf(file: string): Promise<Index & { size: number }> {
  const size = await fileSize(file);
  let idx = indexes.get(file);
  if (!idx || idx.scanned > size) idx = { scanned: 0, lines: 0, checkpoints: [0] };
  indexes.delete(file);
  indexes.set(file, idx); // most recently used last
  if (indexes.size > MAX_INDEXES) indexes.delete(indexes.keys().next().value as string);
  if (idx.scanned < size) {
    const fh = await open(file, "r");
    try {
      const buf = Buffer.allocUnsafe(CHUNK);
      let pos = idx.scanned;
      let lastNewlineEnd = idx.scanned;
      while (pos < size) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, size - pos), pos);
        if (bytesRead === 0) break;
        let i = buf.indexOf(10);
        while (i !== -1 && i < bytesRead) {
          idx.lines++;
          lastNewlineEnd = pos + i + 1;
          if (idx.lines % CHECKPOINT === 0) idx.checkpoints.push(lastNewlineEnd);
          i = buf.indexOf(10, i + 1);
        }
        pos += bytesRead;
      }
      idx.scanned = lastNewlineEnd;
    } finally {
      await fh.close();
    }
  }
  return { ...idx, size };
}

export interface Page {
  lines: LogLine[];
  /** Byte offset just after the last line returned (where live streaming continues). */
  endByte: number;
  /** The next line number after this page. */
  nextLine: number;
  /** Complete lines in the file now (a trailing partial line not counted). */
  totalLines: number;
  size: number;
  /** Bytes read from the file for this page (the index's own reads aside). */
  readBytes: number;
}

/** Splits `buf` into lines starting at line `n`; `final` keeps a trailing partial line. */
export function splitLines(
  buf: Buffer,
  n: number,
  final: boolean,
): { lines: LogLine[]; consumed: number } {
  const lines: LogLine[] = [];
  let start = 0;
  let i = buf.indexOf(10);
  const push = (end: number) => {
    let text = buf.toString("utf8", start, end > start && buf[end - 1] === 13 ? end - 1 : end);
    let cut = false;
    if (text.length > MAX_LINE_CHARS) {
      text = text.slice(0, MAX_LINE_CHARS);
      cut = true;
    }
    lines.push(cut ? { n: n++, text, cut } : { n: n++, text });
  };
  while (i !== -1) {
    push(i);
    start = i + 1;
    i = buf.indexOf(10, start);
  }
  if (final && start < buf.length) {
    push(buf.length);
    start = buf.length;
  }
  return { lines, consumed: start };
}

/**
 * Lines `from`.. (at most `count` lines and about `maxBytes` bytes). `final` (the job has ended)
 * includes a last line that has no newline yet.
 */
export async function readPage(
  file: string,
  from: number,
  count: number,
  opts: { final: boolean; maxBytes?: number },
): Promise<Page> {
  const idx = await indexOf(file);
  const maxBytes = opts.maxBytes ?? 4 * CHUNK;
  const first = Math.max(1, Math.floor(from));
  const k = Math.min(Math.floor((first - 1) / CHECKPOINT), idx.checkpoints.length - 1);
  let pos = idx.checkpoints[k] ?? 0;
  let n = k * CHECKPOINT + 1;
  const out: LogLine[] = [];
  let readBytes = 0;
  const empty = (): Page => ({
    lines: out,
    endByte: pos,
    nextLine: n,
    totalLines: idx.lines,
    size: idx.size,
    readBytes,
  });
  if (idx.size === 0) return empty();
  const fh = await open(file, "r");
  try {
    let budget = maxBytes;
    while (pos < idx.size && out.length < count) {
      const want = Math.min(CHUNK, idx.size - pos);
      const buf = Buffer.allocUnsafe(want);
      const { bytesRead } = await fh.read(buf, 0, want, pos);
      if (bytesRead === 0) break;
      readBytes += bytesRead;
      const atEnd = pos + bytesRead >= idx.size;
      const { lines, consumed } = splitLines(buf.subarray(0, bytesRead), n, opts.final && atEnd);
      if (lines.length === 0) {
        // A single line longer than the chunk: skip over it by its newline.
        const nl = await findNewline(fh, pos + bytesRead, idx.size);
        const end = nl === -1 ? (opts.final ? idx.size : pos) : nl + 1;
        if (end === pos) break;
        const head = buf.toString("utf8", 0, Math.min(bytesRead, MAX_LINE_CHARS * 4));
        if (n >= first) out.push({ n, text: head.slice(0, MAX_LINE_CHARS), cut: true });
        n++;
        budget -= end - pos;
        pos = end;
        continue;
      }
      let used = 0;
      for (const line of lines) {
        const len = Buffer.byteLength(line.text) + 1;
        if (line.n >= first) {
          if (out.length >= count || (budget <= 0 && out.length > 0)) break;
          out.push(line);
          budget -= len;
        }
        n = line.n + 1;
        used = lineEnd(buf, used, consumed);
      }
      pos += used;
      if (used < consumed) break; // stopped early by count or budget
    }
  } finally {
    await fh.close();
  }
  return empty();
}

/** The end offset (exclusive) of the line starting at `from` within the consumed part. */
function lineEnd(buf: Buffer, from: number, consumed: number): number {
  const nl = buf.indexOf(10, from);
  return nl === -1 || nl >= consumed ? consumed : nl + 1;
}

async function findNewline(
  fh: import("node:fs/promises").FileHandle,
  from: number,
  size: number,
): Promise<number> {
  const buf = Buffer.allocUnsafe(CHUNK);
  let pos = from;
  while (pos < size) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, size - pos), pos);
    if (bytesRead === 0) break;
    const i = buf.subarray(0, bytesRead).indexOf(10);
    if (i !== -1) return pos + i;
    pos += bytesRead;
  }
  return -1;
}

/** The number of the first line of the last page, so a viewer can open at the tail. */
export async function lastPageStart(file: string, pageLines: number): Promise<number> {
  const idx = await indexOf(file);
  return Math.max(1, idx.lines - pageLines + 2);
}

/** Reads bytes [from, to) of the file. */
export async function readRange(file: string, from: number, to: number): Promise<Buffer> {
  if (to <= from) return Buffer.alloc(0);
  const fh = await open(file, "r");
  try {
    const buf = Buffer.allocUnsafe(to - from);
    const { bytesRead } = await fh.read(buf, 0, to - from, from);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

export { fileSize };

export interface SearchResult {
  matches: LogLine[];
  /** Where to continue, when the scan stopped before the end of the file. */
  next: { line: number; byte: number } | null;
}

/**
 * Visits lines from the cursor on (an enormous line is skipped), reading at most `maxScan` bytes,
 * until `visit` answers true; answers where to continue, or null at the end of the file.
 */
export async function scanLines(
  file: string,
  cursor: { line: number; byte: number },
  maxScan: number,
  visit: (l: LogLine) => boolean,
): Promise<{ line: number; byte: number } | null> {
  const size = await fileSize(file);
  let { line: n, byte: pos } = cursor;
  if (size === 0 || pos >= size) return null;
  const fh = await open(file, "r");
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    const stopAt = pos + maxScan;
    let stop = false;
    while (pos < size && !stop && pos < stopAt) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, size - pos), pos);
      if (bytesRead === 0) break;
      const chunk = buf.subarray(0, bytesRead);
      const { lines, consumed } = splitLines(chunk, n, pos + bytesRead >= size);
      if (lines.length === 0) {
        const nl = await findNewline(fh, pos + bytesRead, size);
        pos = nl === -1 ? size : nl + 1;
        n++;
        continue;
      }
      let used = 0;
      for (const l of lines) {
        used = lineEnd(chunk, used, consumed);
        n = l.n + 1;
        if (visit(l)) {
          stop = true;
          break;
        }
      }
      pos += used;
    }
  } finally {
    await fh.close();
  }
  return pos < size ? { line: n, byte: pos } : null;
}

/**
 * Lines containing `needle` (case-insensitive, after `normalize`) from the cursor on: at most
 * `limit` matches and `maxScan` bytes per call, so a search in a huge log answers quickly and
 * continues with `next`.
 */
export async function searchLog(
  file: string,
  needle: string,
  cursor: { line: number; byte: number },
  opts: { limit?: number; maxScan?: number; normalize?: (s: string) => string },
): Promise<SearchResult> {
  const limit = opts.limit ?? 100;
  const norm = opts.normalize ?? ((s: string) => s);
  const want = needle.toLowerCase();
  const matches: LogLine[] = [];
  if (!want) return { matches, next: null };
  const next = await scanLines(file, cursor, opts.maxScan ?? 64 * CHUNK, (l) => {
    if (norm(l.text).toLowerCase().includes(want)) matches.push(l);
    return matches.length >= limit;
  });
  return { matches, next };
}
