// A multi-needle byte matcher built to skip most of its input.
//
// Every needle is at least `minLen` bytes long, so the first sampled position inside any
// occurrence (positions step by `stride = minLen - q + 1`) lies within its first `stride` bytes
// and starts a q-gram (q = 4, or less for shorter needles) that the needle holds whole. The scan
// reads only those q-grams (one unaligned word read each) and tests them against a bitset of the
// first `stride` q-grams of every needle. Only on a hit does it look the gram up in a table of
// (needle, offset) pairs and compare the bytes. Log text rarely hits, so most bytes are never
// read. The filter has no false negatives (a hit is necessary for an occurrence); false
// positives only cost a lookup. Four-byte grams beat eight-byte ones: the longer stride saves
// more reads than the few extra false hits cost.

/** Every occurrence found, in no particular order (the caller sorts and merges). */
export interface SpanList {
  starts: number[];
  ends: number[];
  ids: number[];
  /** Length of the longest suffix of the scanned range that is a proper prefix of a needle. */
  open: number;
}

export const newSpanList = (): SpanList => ({ starts: [], ends: [], ids: [], open: 0 });

const HASH = 0x9e3779b1 | 0;
const FIRST_FOUR_LOG = 16;
const FIRST_FOUR_BITS = 1 << FIRST_FOUR_LOG;

/** Bit of the `firstFour` filter for the four bytes `w` (little-endian). */
const firstFourBit = (w: number): number => Math.imul(w, HASH) >>> (32 - FIRST_FOUR_LOG);

export class NeedleMatcher {
  readonly minLen: number;
  readonly maxLen: number;
  readonly size: number;
  /** q-gram length and sampling stride of the filter. */
  readonly q: number;
  readonly stride: number;
  private readonly needles: Uint8Array[];
  private readonly bits: Uint32Array;
  private readonly shift: number;
  /**
   * The (needle, offset) entries grouped by bucket (the low bits of the filter index):
   * bucket b holds entries bucketStart[b] .. bucketStart[b + 1] - 1, each with its gram.
   */
  private readonly bucketMask: number;
  private readonly bucketStart: Int32Array;
  private readonly entryNeedle: Int32Array;
  private readonly entryOffset: Int32Array;
  private readonly entryGram: Int32Array;
  /**
   * For `shortOpenDepth`: needle ids sorted by their bytes, and filters on how a needle starts (its
   * first byte, its first two bytes, and a hash of its first four when it is longer than four).
   */
  private readonly sorted: number[];
  private readonly firstOne = new Uint8Array(256);
  private readonly firstTwo = new Uint32Array(65536 >>> 5);
  private readonly firstFour = new Uint32Array(FIRST_FOUR_BITS >>> 5);

  constructor(needles: Uint8Array[]) {
    this.needles = needles;
    this.size = needles.length;
    let min = Number.POSITIVE_INFINITY;
    let max = 0;
    for (const n of needles) {
      if (n.length === 0) throw new Error("empty needle");
      min = Math.min(min, n.length);
      max = Math.max(max, n.length);
    }
    this.minLen = needles.length ? min : 1;
    this.maxLen = max;
    this.q = Math.min(4, this.minLen);
    this.stride = this.minLen - this.q + 1;

    const gramsOf = (n: Uint8Array): number => Math.min(this.stride, n.length - this.q + 1);
    let grams = 0;
    for (const n of needles) grams += gramsOf(n);
    // About one bit in 32 set: a random sample reaches the table with odds near 1/32. A sparser
    // filter falls out of the fastest cache and costs more than the lookups it saves.
    const bitsLog = Math.min(22, Math.max(12, Math.ceil(Math.log2(Math.max(1, grams) * 32))));
    this.shift = 32 - bitsLog;
    this.bits = new Uint32Array((1 << bitsLog) >>> 5);
    const bucketLog = Math.min(bitsLog, Math.max(4, Math.ceil(Math.log2(Math.max(1, grams)))));
    this.bucketMask = (1 << bucketLog) - 1;
    this.bucketStart = new Int32Array((1 << bucketLog) + 1);
    this.entryNeedle = new Int32Array(grams);
    this.entryOffset = new Int32Array(grams);
    this.entryGram = new Int32Array(grams);

    // Two passes over the grams: count per bucket, then place each entry in its bucket.
    const each = (visit: (id: number, offset: number, gram: number, h: number) => void): void => {
      needles.forEach((n, id) => {
        for (let j = 0; j < gramsOf(n); j++) {
          const gram = this.gramAt(n, j);
          visit(id, j, gram, Math.imul(gram, HASH) >>> this.shift);
        }
      });
    };
    each((_id, _j, _gram, h) => {
      this.bits[h >>> 5]! |= 1 << (h & 31);
      this.bucketStart[(h & this.bucketMask) + 1]!++;
    });
    for (let b = 1; b < this.bucketStart.length; b++) {
      this.bucketStart[b]! += this.bucketStart[b - 1]!;
    }
    const fill = this.bucketStart.slice(0, -1);
    each((id, j, gram, h) => {
      const e = fill[h & this.bucketMask]!++;
      this.entryNeedle[e] = id;
      this.entryOffset[e] = j;
      this.entryGram[e] = gram;
    });

    needles.forEach((n) => {
      this.firstOne[n[0]!] = 1;
      if (n.length >= 2) {
        const k = n[0]! | (n[1]! << 8);
        this.firstTwo[k >>> 5]! |= 1 << (k & 31);
      }
      if (n.length > 4) {
        const f = firstFourBit(n[0]! | (n[1]! << 8) | (n[2]! << 16) | (n[3]! << 24));
        this.firstFour[f >>> 5]! |= 1 << (f & 31);
      }
    });
    this.sorted = needles.map((_, i) => i).sort((a, b) => Buffer.compare(needles[a]!, needles[b]!));
  }

  /** The q bytes at p, little-endian (q <= 4 bytes must lie in the buffer). */
  private gramAt(b: Uint8Array, p: number): number {
    let g = 0;
    for (let i = 0; i < this.q; i++) g |= b[p + i]! << (8 * i);
    return g;
  }

  /**
   * Every occurrence of every needle that lies inside buf[from, to), and (`out.open`) how many
   * bytes at its end may be the start of a needle that continues in later input.
   *
   * An open suffix at least `minLen` long holds a sampled gram at an offset the filter knows,
   * so the sampling finds it like an occurrence (`verify` accepts a needle cut off by `to`);
   * only the shorter suffixes are checked one by one.
   */
  scan(buf: Uint8Array, from: number, to: number, out: SpanList): void {
    out.open = 0;
    if (this.size === 0) return;
    if (to - from >= this.minLen) {
      const bits = this.bits;
      const shift = this.shift;
      const stride = this.stride;
      const last = to - this.q;
      if (this.q === 4) {
        // DataView reads of unaligned words are inlined by V8 and much faster than byte loads.
        const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
        const bit = (h: number): number => bits[h >>> 5]! & (1 << (h & 31));
        let p = from;
        // Four samples per turn: their filter lookups overlap instead of waiting on each other.
        for (const s3 = 3 * stride; p + s3 <= last; p += 4 * stride) {
          const g0 = dv.getInt32(p, true);
          const g1 = dv.getInt32(p + stride, true);
          const g2 = dv.getInt32(p + 2 * stride, true);
          const g3 = dv.getInt32(p + s3, true);
          const h0 = Math.imul(g0, HASH) >>> shift;
          const h1 = Math.imul(g1, HASH) >>> shift;
          const h2 = Math.imul(g2, HASH) >>> shift;
          const h3 = Math.imul(g3, HASH) >>> shift;
          if ((bit(h0) | bit(h1) | bit(h2) | bit(h3)) === 0) continue;
          if (bit(h0) !== 0) this.verify(buf, p, g0, h0, from, to, out);
          if (bit(h1) !== 0) this.verify(buf, p + stride, g1, h1, from, to, out);
          if (bit(h2) !== 0) this.verify(buf, p + 2 * stride, g2, h2, from, to, out);
          if (bit(h3) !== 0) this.verify(buf, p + s3, g3, h3, from, to, out);
        }
        for (; p <= last; p += stride) {
          const gram = dv.getInt32(p, true);
          const h = Math.imul(gram, HASH) >>> shift;
          if (bit(h) !== 0) this.verify(buf, p, gram, h, from, to, out);
        }
      } else {
        // Needles shorter than 4 bytes (a configured minimum below 4): every position is sampled.
        for (let p = from; p <= last; p++) {
          const gram = this.gramAt(buf, p);
          const h = Math.imul(gram, HASH) >>> shift;
          if ((bits[h >>> 5]! & (1 << (h & 31))) !== 0) this.verify(buf, p, gram, h, from, to, out);
        }
      }
    }
    if (out.open === 0) out.open = this.shortOpenDepth(buf, from, to);
  }

  private verify(
    buf: Uint8Array,
    p: number,
    gram: number,
    h: number,
    from: number,
    to: number,
    out: SpanList,
  ): void {
    const b = h & this.bucketMask;
    for (let e = this.bucketStart[b]!, stop = this.bucketStart[b + 1]!; e < stop; e++) {
      if (this.entryGram[e] !== gram) continue;
      const id = this.entryNeedle[e]!;
      const n = this.needles[id]!;
      const start = p - this.entryOffset[e]!;
      if (start < from) continue;
      // Cut off by the end of the range, the needle may still be completed by later input.
      const end = Math.min(start + n.length, to);
      let k = 0;
      while (start + k < end && buf[start + k] === n[k]) k++;
      if (start + k < end) continue;
      if (k === n.length) {
        out.starts.push(start);
        out.ends.push(end);
        out.ids.push(id);
      } else if (k > out.open) out.open = k;
    }
  }

  /** The open depth of buf[from, to) (see `scan`). */
  openDepth(buf: Uint8Array, from: number, to: number): number {
    const out = newSpanList();
    this.scan(buf, from, to, out);
    return out.open;
  }

  /** The longest open suffix shorter than `minLen`, checked position by position. */
  private shortOpenDepth(buf: Uint8Array, from: number, to: number): number {
    const start = Math.max(from, to - (this.minLen - 1));
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const firstFour = this.firstFour;
    for (let s = start; s < to; s++) {
      const d = to - s;
      if (d >= 4) {
        const f = firstFourBit(dv.getInt32(s, true));
        if ((firstFour[f >>> 5]! & (1 << (f & 31))) === 0) continue;
      } else if (d >= 2) {
        const k = buf[s]! | (buf[s + 1]! << 8);
        if ((this.firstTwo[k >>> 5]! & (1 << (k & 31))) === 0) continue;
      } else if (this.firstOne[buf[s]!] === 0) continue;
      if (this.isProperPrefix(buf, s, to)) return d;
    }
    return 0;
  }

  /** Whether buf[s, to) is a proper prefix of some needle (binary search over sorted needles). */
  private isProperPrefix(buf: Uint8Array, s: number, to: number): boolean {
    const d = to - s;
    // The first needle that is not below the suffix (as a prefix, "equal" means it starts with it).
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (comparePrefix(this.needles[this.sorted[mid]!]!, buf, s, d) < 0) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.sorted.length; i++) {
      const n = this.needles[this.sorted[i]!]!;
      if (comparePrefix(n, buf, s, d) !== 0) return false;
      if (n.length > d) return true;
    }
    return false;
  }
}

/** Orders needle `n` against buf[s, s + d): 0 when `n` starts with those bytes. */
function comparePrefix(n: Uint8Array, buf: Uint8Array, s: number, d: number): number {
  const m = Math.min(n.length, d);
  for (let k = 0; k < m; k++) {
    const diff = n[k]! - buf[s + k]!;
    if (diff !== 0) return diff;
  }
  return n.length >= d ? 0 : -1;
}
