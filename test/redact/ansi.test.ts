// The visible text (escape sequences removed) against a byte-by-byte reference: the same bytes,
// the same end, and every visible byte mapped back to where it sits in the original.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { escapeEnd, VisibleText } from "../../src/redact/ansi.js";

function reference(buf: Buffer): { bytes: Buffer; rawEnd: number; rawOf: number[] } {
  const bytes: number[] = [];
  const rawOf: number[] = [];
  let i = 0;
  while (i < buf.length) {
    if (buf[i] === 0x1b) {
      const end = escapeEnd(buf, i, buf.length);
      if (end < 0) return { bytes: Buffer.from(bytes), rawEnd: i, rawOf };
      if (end > i + 1) {
        i = end;
        continue;
      }
    }
    bytes.push(buf[i]!);
    rawOf.push(i);
    i++;
  }
  return { bytes: Buffer.from(bytes), rawEnd: buf.length, rawOf };
}

const piece = fc.oneof(
  fc.string({ unit: fc.constantFrom(..."ab \n"), maxLength: 8 }),
  fc.constantFrom(
    "\x1b[0m",
    "\x1b[1;32m",
    "\x1b[31m",
    "\x1b]0;title\x07",
    "\x1b]8;;u\x1b\\",
    "\x1bM",
  ),
  fc.constantFrom("\x1b", "\x1b[", "\x1b[1;", "\x1b]0;t", "\x1b\x1b", "\x1b[\x01m"),
);

describe("visible text", () => {
  it("strips escapes exactly as the reference does, and maps every byte back", () => {
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 12 }),
        fc.constantFrom("fresh", "scratch", "in place"),
        (pieces, mode) => {
          const original = Buffer.from(pieces.join(""), "latin1");
          const buf = Buffer.from(original);
          const scratch =
            mode === "scratch"
              ? Buffer.alloc(buf.length + 3, 0x7a)
              : mode === "in place"
                ? buf
                : undefined;
          const view = VisibleText.of(buf, scratch);
          const ref = reference(original);
          assert.deepEqual(Buffer.from(view.bytes.subarray(0, view.length)), ref.bytes);
          assert.equal(view.rawEnd, ref.rawEnd);
          for (let v = 0; v < view.length; v++) {
            assert.equal(view.toRaw(v), ref.rawOf[v], `byte ${v}`);
          }
          assert.equal(view.toRaw(view.length), ref.rawEnd);
          // Only a buffer given as its own scratch space is rewritten.
          if (mode !== "in place") assert.ok(buf.equals(original));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
