// The redactor every byte of job output passes through (DESIGN.md invariant 4).
//
// No oracle (invariant 3): a redactor masks only the values it is given, and the caller gives a
// job only the values of the secret sets that job holds. A public job's redactor is built with
// no secrets (known token formats only), so printing guesses and watching which ones come back
// masked reveals nothing.
import { Transform } from "node:stream";
import { escapesIn, VisibleText } from "./ansi.js";
import { detectTokens, openPemStart, openTokenStart, pemHeaderAt } from "./detectors.js";
import { needlesOf } from "./encodings.js";
import { NeedleMatcher, newSpanList } from "./matcher.js";
import type { Redactor, RegisteredSecret } from "./types.js";

export interface RedactorOptions {
  secrets: RegisteredSecret[];
  /** Values shorter than this are refused (masking them would mask ordinary text). Default 6. */
  minLength?: number;
  /** Mask known token formats (AWS keys, GitHub tokens, private keys, ...). Default true. */
  detectors?: boolean;
  /**
   * How long the stream may hold back the start of a possible match while no more input
   * arrives (default 50 ms). After that held bytes are written so that live logs stay live, but
   * only when they are too short to tell anything (under RELEASE_MAX bytes): a longer open
   * prefix of a secret stays held until the match completes or fails, or the stream ends, so a
   * job writing a secret slowly cannot show it piece by piece. If later input completes the
   * match, the rest of it is still masked. 0 or Infinity: never release early.
   */
  flushMs?: number;
}

export interface Span {
  start: number;
  end: number;
  /** Length of the longest match in the span: it names the span. */
  len: number;
  name: string;
}

/** A private key block held back longer than this is masked and the block resumes masked. */
const PEM_HOLD_MAX = 64 * 1024;

export const marker = (name: string): string => `[redacted:${name}]`;

interface Analysis {
  spans: Span[];
  /** The first byte that must not be written yet (buf.length when all may go). */
  hold: number;
  /** When set, masking must resume as if these bytes (masked already) preceded later input. */
  restart: Buffer | null;
}

/** Finds what to mask in a buffer and how much of its end may still grow into a match. */
class Engine {
  private readonly matcher: NeedleMatcher;
  private readonly names: string[];
  /** Reused for the visible text of each buffer: analysis is synchronous and keeps no view. */
  private scratch: Buffer = Buffer.alloc(0);
  /** Reused to join held-back bytes to a new chunk (never part of any output). */
  private joined: Buffer = Buffer.alloc(0);

  constructor(
    needles: { text: string; name: string }[],
    private readonly detectors: boolean,
  ) {
    this.matcher = new NeedleMatcher(needles.map((n) => Buffer.from(n.text, "utf8")));
    this.names = needles.map((n) => n.name);
  }

  get needleCount(): number {
    return this.matcher.size;
  }

  /** `head` followed by `chunk`, in a buffer valid until the next call (never output). */
  join(head: Buffer, chunk: Buffer): Buffer {
    const total = head.length + chunk.length;
    if (this.joined.length < total) this.joined = Buffer.allocUnsafe(total * 2);
    this.joined.set(head, 0);
    this.joined.set(chunk, head.length);
    return this.joined.subarray(0, total);
  }

  /**
   * What to mask in `buf` and how much of its end to hold back. With `inPlace`, the visible text
   * is built inside `buf` itself (saving a copy), which leaves `buf` rewritten.
   */
  analyse(buf: Buffer, final: boolean, inPlace: boolean): Analysis {
    // Matching runs on the visible text (escape sequences removed) and maps spans back, so an
    // escape inside a secret is masked with it.
    if (!inPlace && this.scratch.length < buf.length) {
      this.scratch = Buffer.allocUnsafe(buf.length * 2);
    }
    const view = VisibleText.of(buf, inPlace ? buf : this.scratch);
    const bytes = view.bytes;
    const spans: Span[] = [];
    const list = newSpanList();
    this.matcher.scan(bytes, 0, view.length, list);
    for (let k = 0; k < list.starts.length; k++) {
      spans.push({
        start: view.toRaw(list.starts[k]!),
        end: view.toRaw(list.ends[k]! - 1) + 1,
        len: list.ends[k]! - list.starts[k]!,
        name: this.names[list.ids[k]!]!,
      });
    }
    let lastPem = -1;
    if (this.detectors) {
      lastPem = detectTokens(bytes, (s, e, name) =>
        spans.push({ start: view.toRaw(s), end: view.toRaw(e - 1) + 1, len: e - s, name }),
      );
    }
    const merged = mergeSpans(spans);
    if (final) return { spans: merged, hold: buf.length, restart: null };

    // What the end of the buffer may still grow into: an escape sequence, a needle, a token.
    let hold = view.rawEnd;
    const depth = list.open;
    if (depth > 0) hold = Math.min(hold, view.toRaw(view.length - depth));
    let restart: Buffer | null = null;
    if (this.detectors) {
      const open = openTokenStart(bytes);
      if (open >= 0) hold = Math.min(hold, view.toRaw(open));
      const pem = openPemStart(bytes, lastPem);
      if (pem >= 0) {
        const header = view.length - pem > PEM_HOLD_MAX ? pemHeaderAt(bytes, pem) : null;
        if (header !== null) restart = Buffer.from(header, "latin1");
        else hold = Math.min(hold, view.toRaw(pem));
      }
    }
    return { spans: merged, hold, restart };
  }
}

/** Sorts spans and merges the overlapping ones; the longest match names a merged span. */
export function mergeSpans(spans: Span[]): Span[] {
  if (spans.length <= 1) return spans;
  spans.sort((a, b) => a.start - b.start || b.end - a.end);
  const out: Span[] = [];
  let cur = { ...spans[0]! };
  for (let k = 1; k < spans.length; k++) {
    const s = spans[k]!;
    if (s.start < cur.end) {
      if (s.end > cur.end) cur.end = s.end;
      if (s.len > cur.len) {
        cur.len = s.len;
        cur.name = s.name;
      }
    } else {
      out.push(cur);
      cur = { ...s };
    }
  }
  out.push(cur);
  return out;
}

const EMPTY = Buffer.alloc(0);

/**
 * The streaming state: the bytes kept back from earlier writes (`tail`), how many of them were
 * already written (`done`), and how many of those were covered by a marker (`masked`), so that a
 * match continuing into written bytes is masked without a second marker.
 *
 * Output is a list of pieces that point into the caller's chunk and the (never modified) tail,
 * so that text is not copied on its way through; only held-back bytes are copied.
 */
/** Held bytes the flush timer may write: shorter open prefixes reveal next to nothing. */
export const RELEASE_MAX = 3;

export class StreamCore {
  private tail: Buffer = Buffer.alloc(0);
  private done = 0;
  private masked = 0;

  /** `current` is read at each write: values registered later apply from then on. */
  constructor(private readonly current: { engine: Engine }) {}

  private get engine(): Engine {
    return this.current.engine;
  }

  /** Bytes held back that a timer may release. */
  get pending(): number {
    return this.tail.length - this.done;
  }

  write(chunk: Buffer, final: boolean): Buffer[] {
    const head = this.tail;
    const h = head.length;
    const total = h + chunk.length;
    if (total === 0) return [];
    // Analysis needs the held-back bytes and the chunk in one buffer. That buffer is reused and
    // rewritten by the analysis, so every byte read afterwards comes from `head` and `chunk`.
    const a =
      h === 0
        ? this.engine.analyse(chunk, final, false)
        : this.engine.analyse(this.engine.join(head, chunk), final, true);
    const cut = a.hold;
    if (a.spans.length === 0 && cut === total && this.done === 0) {
      this.tail = EMPTY;
      this.masked = 0;
      return h === 0 ? [chunk] : chunk.length === 0 ? [head] : [head, chunk];
    }
    /** Views of bytes [from, to) of head + chunk. */
    const slices = (from: number, to: number): Buffer[] => {
      if (to <= from) return [];
      if (to <= h) return [head.subarray(from, to)];
      if (from >= h) return [chunk.subarray(from - h, to - h)];
      return [head.subarray(from), chunk.subarray(0, to - h)];
    };
    const parts: Buffer[] = [];
    let pos = this.done;
    let maskedEnd = this.masked;
    for (const s of a.spans) {
      if (s.start >= cut) break;
      if (s.end <= pos) continue;
      parts.push(...slices(pos, s.start));
      // A span reaching into bytes already covered by a marker continues that marker.
      if (s.start >= this.masked) parts.push(Buffer.from(marker(s.name)));
      // Colour changes inside the hidden text still apply to what follows it.
      const hidden = Buffer.concat(slices(Math.max(s.start, pos), s.end));
      for (const e of escapesIn(hidden, 0, hidden.length)) parts.push(e);
      pos = s.end;
      maskedEnd = s.end;
    }
    if (pos < cut) {
      parts.push(...slices(pos, cut));
      pos = cut;
    }
    if (a.restart !== null && !final) {
      // Keep only the header (as already masked) in front of what is not yet written.
      this.tail = Buffer.concat([a.restart, ...slices(pos, total)]);
      this.done = this.masked = a.restart.length;
    } else {
      // A copy: the caller may reuse its chunk once the write returns.
      this.tail = cut < total ? Buffer.concat(slices(cut, total)) : EMPTY;
      this.done = Math.max(0, pos - cut);
      this.masked = Math.max(0, maskedEnd - cut);
    }
    return parts;
  }

  /**
   * Writes the held-back bytes now (the timer) when there are fewer than `max`; later input that
   * completes a match is still masked.
   */
  release(max = Number.POSITIVE_INFINITY): Buffer | null {
    if (this.pending <= 0 || this.pending >= max) return null;
    const out = this.tail.subarray(this.done);
    this.done = this.tail.length;
    return out;
  }
}

/** The matcher for `needles`, which match by their visible form too (escapes removed). */
function engineOf(needles: { text: string; name: string }[], detectors: boolean): Engine {
  const visible = needles.flatMap((n) => {
    const buf = Buffer.from(n.text, "utf8");
    if (!buf.includes(0x1b)) return [n];
    const view = VisibleText.of(buf);
    const text = Buffer.from(view.bytes.subarray(0, view.length)).toString("utf8");
    return text.length > 0 ? [{ text, name: n.name }] : [];
  });
  return new Engine(visible, detectors);
}

export function createRedactor(opts: RedactorOptions): Redactor & {
  warnings: string[];
  needleCount: number;
} {
  const minLength = opts.minLength ?? 6;
  const flushMs = opts.flushMs ?? 50;
  const warnings: string[] = [];
  const needles: { text: string; name: string }[] = [];
  const seen = new Set<string>();
  // Set by the first `add` below, and replaced by each later one.
  const current = {} as { engine: Engine };
  const add = (secrets: RegisteredSecret[]) => {
    for (const s of secrets) {
      if (s.value.length < minLength) {
        // Names only: the value must not reach a log through this warning (invariant 9).
        warnings.push(
          `secret ${s.name} is not masked: its value is shorter than ${minLength} characters, and masking it would also hide ordinary text; use a longer value or lower the minimum length`,
        );
        continue;
      }
      for (const text of needlesOf(s.value, minLength)) {
        if (seen.has(text)) continue;
        seen.add(text);
        needles.push({ text, name: s.name });
      }
    }
    current.engine = engineOf(needles, opts.detectors ?? true);
  };
  add(opts.secrets);

  return {
    warnings,
    get needleCount() {
      return current.engine.needleCount;
    },
    register: add,
    redact(text: string): string {
      if (text.length === 0) return text;
      const buf = Buffer.from(text, "utf8");
      const out = new StreamCore(current).write(buf, true);
      // Never alter text that holds no secret (not even by a UTF-8 round trip).
      if (out.length === 1 && out[0] === buf) return text;
      return Buffer.concat(out).toString("utf8");
    },
    stream(): Transform {
      const core = new StreamCore(current);
      const timed = flushMs > 0 && Number.isFinite(flushMs);
      // One timer at a time, armed while bytes are held back. Input that arrives meanwhile
      // only moves `lastInput`; the timer re-arms for the rest of the wait when it fires, so
      // a busy stream does not pay for a timer per chunk.
      let timer: NodeJS.Timeout | null = null;
      let lastInput = 0;
      const stop = (): void => {
        if (timer !== null) clearTimeout(timer);
        timer = null;
      };
      return new Transform({
        transform(chunk: Buffer | string, _enc, callback) {
          const buf = typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk;
          for (const out of core.write(buf, false)) this.push(out);
          if (timed && core.pending > 0) {
            lastInput = performance.now();
            if (timer === null) {
              const fire = (): void => {
                const idle = performance.now() - lastInput;
                if (idle < flushMs) {
                  timer = setTimeout(fire, flushMs - idle).unref();
                  return;
                }
                timer = null;
                const held = core.release(RELEASE_MAX);
                if (held !== null) this.push(held);
              };
              timer = setTimeout(fire, flushMs).unref();
            }
          }
          callback();
        },
        flush(callback) {
          stop();
          for (const out of core.write(EMPTY, true)) this.push(out);
          callback();
        },
        destroy(err, callback) {
          stop();
          callback(err);
        },
      });
    },
  };
}
