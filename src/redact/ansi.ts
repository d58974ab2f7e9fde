// Terminal escape sequences are invisible in a rendered log, so a secret with a colour code
// inserted inside it still reads as the secret. The redactor matches on text with escapes
// removed and maps the spans back, so the whole span (escapes included) is masked.

const ESC = 0x1b;
/** Longest escape sequence we parse; anything longer is treated as text. */
const MAX_ESCAPE = 256;

/**
 * The end (exclusive) of the escape sequence at `i` (where buf[i] is ESC), `-1` when `to` cuts
 * it off before it ends, or `i + 1` for a lone ESC that starts no known sequence.
 */
export function escapeEnd(buf: Uint8Array, i: number, to: number): number {
  if (i + 1 >= to) return -1;
  const kind = buf[i + 1]!;
  if (kind === 0x5b) {
    // CSI: parameters 0x30-0x3F, intermediates 0x20-0x2F, final 0x40-0x7E (SGR ends in `m`).
    for (let j = i + 2; j < to && j < i + MAX_ESCAPE; j++) {
      const c = buf[j]!;
      if (c >= 0x40 && c <= 0x7e) return j + 1;
      if (c < 0x20 || c > 0x3f) return i + 1;
    }
    return to - i < MAX_ESCAPE ? -1 : i + 1;
  }
  if (kind === 0x5d) {
    // OSC (titles, hyperlinks): ends with BEL or ESC \.
    for (let j = i + 2; j < to && j < i + MAX_ESCAPE; j++) {
      const c = buf[j]!;
      if (c === 0x07) return j + 1;
      if (c === ESC) return j + 1 < to ? (buf[j + 1] === 0x5c ? j + 2 : i + 1) : -1;
    }
    return to - i < MAX_ESCAPE ? -1 : i + 1;
  }
  // Two-byte escapes (ESC 7, ESC M, ...).
  if (kind >= 0x40 && kind <= 0x5f) return i + 2;
  return i + 1;
}

/** A buffer with its escape sequences removed, as runs of visible bytes. */
export class VisibleText {
  readonly bytes: Buffer;
  readonly length: number;
  /** Where the visible text ends in the original: an escape cut off by the end starts there. */
  readonly rawEnd: number;
  private readonly visStart: number[];
  private readonly rawStart: number[];

  private constructor(bytes: Buffer, length: number, rawEnd: number, vis: number[], raw: number[]) {
    this.bytes = bytes;
    this.length = length;
    this.rawEnd = rawEnd;
    this.visStart = vis;
    this.rawStart = raw;
  }

  /**
   * The visible text of `buf`; the buffer itself when it holds no escape. `scratch`, when large
   * enough, receives the stripped bytes (valid until the next call that uses it). `scratch` may
   * be `buf` itself: the text is then stripped in place, and `buf` is rewritten.
   */
  static of(buf: Buffer, scratch?: Buffer): VisibleText {
    const len = buf.length;
    let e = buf.indexOf(ESC);
    if (e < 0) return new VisibleText(buf, len, len, [0], [0]);
    const bytes = scratch && scratch.length >= len ? scratch : Buffer.allocUnsafe(len);
    // One copy of everything, then each run of text after an escape moves down in place:
    // far cheaper than a copy call per run. Runs only move down, to bytes already read, so the
    // search ahead still reads the original bytes even when `bytes` is `buf`.
    if (bytes !== buf) bytes.set(buf);
    const vis: number[] = [];
    const raw: number[] = [];
    let n = 0;
    let rawEnd = len;
    let segStart = 0;
    while (e >= 0) {
      const end = escapeEnd(buf, e, len);
      if (end === e + 1) {
        // A lone ESC is text.
        e = e + 1 < len ? buf.indexOf(ESC, e + 1) : -1;
        continue;
      }
      if (e > segStart) {
        if (n !== segStart) bytes.copyWithin(n, segStart, e);
        vis.push(n);
        raw.push(segStart);
        n += e - segStart;
      }
      if (end < 0) {
        rawEnd = e;
        segStart = len;
        break;
      }
      segStart = end;
      // Escapes come in runs (reset, then a colour): look at the next byte before searching.
      e = end < len ? (buf[end] === ESC ? end : buf.indexOf(ESC, end)) : -1;
    }
    if (segStart < len) {
      if (n !== segStart) bytes.copyWithin(n, segStart, len);
      vis.push(n);
      raw.push(segStart);
      n += len - segStart;
    }
    if (vis.length === 0) {
      vis.push(0);
      raw.push(rawEnd);
    }
    return new VisibleText(bytes.subarray(0, n), n, rawEnd, vis, raw);
  }

  /** Offset in the original buffer of visible byte `v` (`v === length` maps to `rawEnd`). */
  toRaw(v: number): number {
    if (v >= this.length) return this.rawEnd;
    let lo = 0;
    let hi = this.visStart.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.visStart[mid]! <= v) lo = mid;
      else hi = mid - 1;
    }
    return this.rawStart[lo]! + (v - this.visStart[lo]!);
  }
}

/** The escape sequences inside buf[from, to), in order (kept when the text around them is masked). */
export function escapesIn(buf: Buffer, from: number, to: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = buf.indexOf(ESC, from); i >= 0 && i < to; ) {
    const end = escapeEnd(buf, i, to);
    if (end > i + 1) out.push(buf.subarray(i, end));
    const next = Math.max(i + 1, end);
    i = next < to ? buf.indexOf(ESC, next) : -1;
  }
  return out;
}
