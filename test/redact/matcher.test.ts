// The needle matcher against a brute-force reference: its sampled filter must never drop an
// occurrence, and the held-back depth must be exactly the longest open prefix.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { NeedleMatcher, newSpanList } from "../../src/redact/matcher.js";

/** A small alphabet makes needles share prefixes, overlap each other and recur in the text. */
const bytesOver = (alphabet: string, min: number, max: number) =>
  fc
    .string({ unit: fc.constantFrom(...alphabet), minLength: min, maxLength: max })
    .map((s) => Buffer.from(s, "latin1"));

const needlesArb = fc.oneof(
  fc.array(bytesOver("ab", 4, 12), { minLength: 1, maxLength: 6 }),
  fc.array(bytesOver("abc", 8, 40), { minLength: 1, maxLength: 12 }),
  fc.array(bytesOver("abcd\x1b", 1, 6), { minLength: 1, maxLength: 4 }),
);

function bruteOccurrences(needles: Buffer[], text: Buffer, from: number, to: number): string[] {
  const out: string[] = [];
  needles.forEach((n, id) => {
    for (let s = from; s + n.length <= to; s++) {
      if (text.subarray(s, s + n.length).equals(n)) out.push(`${s}:${s + n.length}:${id}`);
    }
  });
  return out.sort();
}

function bruteOpenDepth(needles: Buffer[], text: Buffer, from: number, to: number): number {
  for (let s = from; s < to; s++) {
    const suffix = text.subarray(s, to);
    if (
      needles.some((n) => n.length > suffix.length && n.subarray(0, suffix.length).equals(suffix))
    )
      return to - s;
  }
  return 0;
}

describe("needle matcher", () => {
  it("finds exactly the occurrences a brute-force search finds", () => {
    fc.assert(
      fc.property(
        needlesArb,
        fc.array(fc.oneof(bytesOver("abcd\x1b\n", 0, 30), fc.constant(Buffer.alloc(0))), {
          maxLength: 8,
        }),
        fc.nat(10),
        fc.nat(10),
        (needles, pieces, cutFront, cutBack) => {
          // Plant the needles so that the rare long ones occur too.
          const text = Buffer.concat(pieces.flatMap((p, i) => [p, needles[i % needles.length]!]));
          const from = Math.min(cutFront, text.length);
          const to = Math.max(from, text.length - cutBack);
          const m = new NeedleMatcher(needles);
          const list = newSpanList();
          m.scan(text, from, to, list);
          const got = list.starts.map((s, k) => `${s}:${list.ends[k]}:${list.ids[k]}`).sort();
          // Duplicate needles: the reference lists both ids, so compare as sets of spans.
          const spans = (xs: string[]) => [
            ...new Set(xs.map((x) => x.split(":").slice(0, 2).join(":"))),
          ];
          assert.deepEqual(spans(got), spans(bruteOccurrences(needles, text, from, to)));
          assert.deepEqual(got, [...new Set(got)], "no occurrence reported twice");
        },
      ),
      { numRuns: 400 },
    );
  });

  it("reports as open exactly the longest suffix that is a proper prefix of a needle", () => {
    fc.assert(
      fc.property(
        needlesArb,
        bytesOver("abcd\x1b", 0, 60),
        fc.nat(),
        fc.nat(),
        fc.nat(60),
        (needles, text, which, depth, cut) => {
          // End the text with the start of a needle, most of the time.
          const n = needles[which % needles.length]!;
          const buf = Buffer.concat([text, n.subarray(0, depth % (n.length + 1))]);
          const m = new NeedleMatcher(needles);
          const from = Math.min(cut, buf.length);
          assert.equal(
            m.openDepth(buf, from, buf.length),
            bruteOpenDepth(needles, buf, Math.max(from, buf.length - (m.maxLen - 1)), buf.length),
          );
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("finds needles anywhere in a buffer that is a view at an odd offset", () => {
    const needles = ["0123456789abcdefghij", "klmnopqrstuvwxyz0123"].map((s) => Buffer.from(s));
    const m = new NeedleMatcher(needles);
    for (let offset = 0; offset < 8; offset++) {
      for (let at = 0; at < 40; at++) {
        const backing = Buffer.alloc(offset + 100, 0x2e);
        needles[at % 2]!.copy(backing, offset + at);
        const view = backing.subarray(offset);
        const list = newSpanList();
        m.scan(view, 0, view.length, list);
        assert.deepEqual(list.starts, [at], `offset ${offset}, at ${at}`);
      }
    }
  });
});
