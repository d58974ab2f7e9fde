// A multi-needle byte matcher built to skip most of its input.
//
// Every needle is at least `minLen` bytes long, so the first sampled position inside any
// occurrence (positions are multiples of `stride = minLen - q + 1`) lies within its first
// `stride` bytes and starts a q-gram that the needle holds whole. The scan reads only those
// q-grams (two unaligned word reads each) and tests them against a bitset of the first `stride`
// q-grams of every needle. Only on a hit does it look the gram up in a table of
// (needle, offset) pairs and compare the bytes. Log text
// rarely hits, so most bytes are never read. The filter has no false negatives (a hit is
// necessary for an occurrence); false positives only cost a lookup.

/** Every occurrence found, in no particular order (the caller sorts and merges). */
export interface SpanList {
  starts: number[];
  ends: number[];
  ids: number[];
}

export const newSpanList = (): SpanList => ({ starts: [], ends: [], ids: [] });

const HASH = 0x9e3779b1 | 0;
const HASH2 = 0x85ebca6b | 0;

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
  /** Gram hash → indexes into the entry arrays (needle id, offset of the gram, the gram itself). */
  private readonly table = new Map<number, number[]>();
  private readonly entryNeedle: Int32Array;
  private readonly entryOffset: Int32Array;
  private readonly entryLo: Int32Array;
  private readonly entryHi: Int32Array;
  /** Needle ids sorted by their bytes, and a bitset of their first two bytes (for `openDepth`). */
  private readonly sorted: number[];
  private readonly firstTwo = new Uint32Array(65536 >>> 5);
  private readonly firstOne = new Uint8Array(256);

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
    // Longer grams mean fewer false hits, shorter ones a longer stride.
    this.q = this.minLen >= 14 ? 8 : Math.min(4, this.minLen);
    this.stride = Math.max(1, this.minLen - this.q + 1);

    const gramsOf = (n: Uint8Array): number => Math.min(this.stride, n.length - this.q + 1);
    let grams = 0;
    for (const n of needles) grams += gramsOf(n);
    // About one bit in 64 set: a random sample reaches the table with odds near 1/64.
    const bitsLog = Math.min(22, Math.max(12, Math.ceil(Math.log2(Math.max(1, grams) * 64))));
    this.shift = 32 - bitsLog;
    this.bits = new Uint32Array((1 << bitsLog) >>> 5);
    this.entryNeedle = new Int32Array(grams);
    this.entryOffset = new Int32Array(grams);
    this.entryLo = new Int32Array(grams);
    this.entryHi = new Int32Array(grams);
    let e = 0;
    needles.forEach((n, id) => {
      const dv = new DataView(n.buffer, n.byteOffset, n.byteLength);
      for (let j = 0; j < gramsOf(n); j++) {
        const lo = this.gramLo(dv, n, j);
        const hi = this.q === 8 ? dv.getInt32(j + 4, true) : 0;
        const h = this.hash(lo, hi);
        this.bits[h >>> 5]! |= 1 << (h & 31);
        this.entryNeedle[e] = id;
        this.entryOffset[e] = j;
        this.entryLo[e] = lo;
        this.entryHi[e] = hi;
        const list = this.table.get(h);
        if (list) list.push(e);
        else this.table.set(h, [e]);
        e++;
      }
      this.firstOne[n[0]!] = 1;
      if (n.length >= 2) {
        const k = n[0]! | (n[1]! << 8);
        this.firstTwo[k >>> 5]! |= 1 << (k & 31);
      }
    });
    this.sorted = needles.map((_, i) => i).sort((a, b) => Buffer.compare(needles[a]!, needles[b]!));
  }

  private gramLo(dv: DataView, b: Uint8Array, p: number): number {
    if (this.q >= 4) return dv.getInt32(p, true);
    let g = 0;
    for (let i = 0; i < this.q; i++) g |= b[p + i]! << (8 * i);
    return g;
  }

  private hash(lo: number, hi: number): number {
    return Math.imul(lo ^ Math.imul(hi, HASH2), HASH) >>> this.shift;
  }

  /** Every occurrence of every needle that lies inside buf[from, to). */
  scan(buf: Uint8Array, from: number, to: number, out: SpanList): void {
    if (this.size === 0 || to - from < this.minLen) return;
    const bits = this.bits;
    const shift = this.shift;
    const stride = this.stride;
    const last = to - this.q;
    // DataView reads of unaligned words are inlined by V8 and twice as fast as byte loads.
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (this.q === 8) {
      for (let p = from; p <= last; p += stride) {
        const lo = dv.getInt32(p, true);
        const hi = dv.getInt32(p + 4, true);
        const h = Math.imul(lo ^ Math.imul(hi, HASH2), HASH) >>> shift;
        if ((bits[h >>> 5]! & (1 << (h & 31))) !== 0) this.verify(buf, p, lo, hi, h, from, to, out);
      }
    } else if (this.q === 4) {
      for (let p = from; p <= last; p += stride) {
        const lo = dv.getInt32(p, true);
        const h = Math.imul(lo, HASH) >>> shift;
        if ((bits[h >>> 5]! & (1 << (h & 31))) !== 0) this.verify(buf, p, lo, 0, h, from, to, out);
      }
    } else {
      // Needles shorter than 4 bytes (a configured minimum below 4): every position is sampled.
      for (let p = from; p <= last; p++) {
        const lo = this.gramLo(dv, buf, p);
        const h = this.hash(lo, 0);
        if ((bits[h >>> 5]! & (1 << (h & 31))) !== 0) this.verify(buf, p, lo, 0, h, from, to, out);
      }
    }
  }

  private verify(
    buf: Uint8Array,
    p: number,
    lo: number,
    hi: number,
    h: number,
    from: number,
    to: number,
    out: SpanList,
  ): void {
    const list = this.table.get(h);
    if (list === undefined) return;
    for (const e of list) {
      if (this.entryLo[e] !== lo || this.entryHi[e] !== hi) continue;
      const id = this.entryNeedle[e]!;
      const n = this.needles[id]!;
      const start = p - this.entryOffset[e]!;
      const end = start + n.length;
      if (start < from || end > to) continue;
      let k = 0;
      while (k < n.length && buf[start + k] === n[k]) k++;
      if (k === n.length) {
        out.starts.push(start);
        out.ends.push(end);
        out.ids.push(id);
      }
    }
  }

  /**
   * How many bytes at the end of buf[from, to) may be the start of a needle that continues in
   * later input: the longest suffix that is a proper prefix of some needle.
   */
  openDepth(buf: Uint8Array, from: number, to: number): number {
    if (this.size === 0) return 0;
    for (let s = Math.max(from, to - (this.maxLen - 1)); s < to; s++) {
      if (to - s >= 2) {
        const k = buf[s]! | (buf[s + 1]! << 8);
        if ((this.firstTwo[k >>> 5]! & (1 << (k & 31))) === 0) continue;
      } else if (this.firstOne[buf[s]!] === 0) continue;
      if (this.isProperPrefix(buf, s, to)) return to - s;
    }
    return 0;
  }

  /** Whether buf[s, to) is a proper prefix of some needle (binary search over sorted needles). */
  private isProperPrefix(buf: Uint8Array, s: number, to: number): boolean {
    const d = to - s;
    const cmp = (n: Uint8Array): number => {
      const m = Math.min(n.length, d);
      for (let k = 0; k < m; k++) {
        const diff = n[k]! - buf[s + k]!;
        if (diff !== 0) return diff;
      }
      return n.length >= d ? 0 : -1;
    };
    // The first needle that is not below the suffix (as a prefix, "equal" means it starts with it).
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cmp(this.needles[this.sorted[mid]!]!) < 0) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.sorted.length; i++) {
      const n = this.needles[this.sorted[i]!]!;
      if (cmp(n) !== 0) return false;
      if (n.length > d) return true;
    }
    return false;
  }
}
