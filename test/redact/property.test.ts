// Property tests: random secrets in every encoding, in random text, split at random chunk
// boundaries (and one byte at a time), never come out; text without a secret comes out unchanged.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { encodingsOf, needlesOf } from "../../src/redact/encodings.js";
import { createRedactor } from "../../src/redact/redactor.js";
import type { RegisteredSecret } from "../../src/redact/types.js";
import { leaks, oneByteChunks, splitAt, through } from "./helpers.js";

const token = fc.stringMatching(/^[A-Za-z0-9+/=_-]{6,40}$/);
const printable = fc.string({ unit: "grapheme-ascii", minLength: 6, maxLength: 30 });
const unicode = fc.string({ unit: "grapheme", minLength: 6, maxLength: 20 });
const multiLine = fc
  .array(fc.stringMatching(/^[A-Za-z0-9+/= ]{6,30}$/), { minLength: 2, maxLength: 4 })
  .map((lines) => lines.join("\n"));
const secretValue = fc.oneof(token, token, printable, unicode, multiLine);

const secretsArb = fc
  .array(secretValue, { minLength: 1, maxLength: 4 })
  .map((values) => values.map((value, i): RegisteredSecret => ({ name: `S${i}`, value })));

const filler = fc.oneof(
  fc.string({ unit: "grapheme-ascii", maxLength: 20 }),
  fc.constantFrom("\n", "\r\n", " ", "\x1b[0m", "\x1b[1;32m", "", "export X=", '{"k":"', "'"),
);

/** A text made of filler and secret encodings, some with a colour escape inserted inside. */
const scenario = secretsArb.chain((secrets) =>
  fc
    .record({
      secrets: fc.constant(secrets),
      parts: fc.array(
        fc.tuple(
          filler,
          fc.nat(secrets.length - 1),
          fc.nat(200),
          fc.option(fc.nat(200), { nil: undefined }),
        ),
        { minLength: 1, maxLength: 6 },
      ),
      cuts: fc.array(fc.nat(2000), { maxLength: 8 }),
      oneByte: fc.boolean(),
    })
    .map(({ secrets, parts, cuts, oneByte }) => {
      let text = "";
      for (const [fill, which, kind, colourAt] of parts) {
        const encodings = encodingsOf(secrets[which]!.value);
        let enc = encodings[kind % encodings.length]!.text;
        if (colourAt !== undefined) {
          // Between characters (code points): job output is bytes, never half a surrogate pair.
          const chars = Array.from(enc);
          const at = colourAt % (chars.length + 1);
          enc = `${chars.slice(0, at).join("")}\x1b[31m${chars.slice(at).join("")}`;
        }
        text += fill + enc;
      }
      return { secrets, text, cuts: [...cuts].sort((a, b) => a - b), oneByte };
    }),
);

describe("redactor properties", () => {
  it("never leaks any encoding of a registered value, whatever the chunking", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ secrets, text, cuts, oneByte }) => {
        const r = createRedactor({ secrets });
        const buf = Buffer.from(text, "utf8");
        const chunks = oneByte ? oneByteChunks(buf) : splitAt(buf, cuts);
        const streamed = (await through(r.stream(), chunks)).toString("utf8");
        const whole = r.redact(text);
        // Escape sequences are invisible: compare what a terminal would show.
        const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "");
        assert.deepEqual(
          leaks(visible(streamed), secrets),
          [],
          `streamed: ${JSON.stringify(streamed)}`,
        );
        assert.deepEqual(leaks(visible(whole), secrets), [], `whole: ${JSON.stringify(whole)}`);
      }),
      { numRuns: 300 },
    );
  });

  it("never alters text that holds no secret", async () => {
    // No uppercase, `_`, `-` or `x`: the text cannot form a known token format either.
    const plain = fc.string({
      unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwyz0123456789 .,:;!?'\"()[]{}/=+\n\t\x1bm€é"),
      maxLength: 300,
    });
    await fc.assert(
      fc.asyncProperty(
        secretsArb,
        plain,
        fc.array(fc.nat(300), { maxLength: 6 }),
        fc.boolean(),
        async (secrets, text, cuts, oneByte) => {
          const needles = secrets.flatMap((s) => needlesOf(s.value));
          const visible = text.replace(/\x1b\[[0-9;]*[@-~]/g, "");
          fc.pre(!needles.some((n) => text.includes(n) || visible.includes(n)));
          const r = createRedactor({ secrets });
          assert.equal(r.redact(text), text);
          const buf = Buffer.from(text, "utf8");
          const chunks = oneByte
            ? oneByteChunks(buf)
            : splitAt(
                buf,
                [...cuts].sort((a, b) => a - b),
              );
          const out = await through(r.stream(), chunks);
          assert.ok(out.equals(buf), `changed: ${JSON.stringify(out.toString("utf8"))}`);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("catches each encoding split at every boundary, and one byte at a time", async () => {
    const secrets: RegisteredSecret[] = [
      { name: "TOKEN", value: "s3cr3t-Value/with+odd=chars" },
      { name: "QUOTED", value: `it's a "quoted" $HOME & <xml>` },
      { name: "KEY", value: "line-one-of-key\nline-two-of-key\n  indented-line-3" },
    ];
    const r = createRedactor({ secrets });
    for (const s of secrets) {
      for (const e of encodingsOf(s.value)) {
        const buf = Buffer.from(`before ${e.text} after\n`, "utf8");
        for (let cut = 1; cut < buf.length; cut++) {
          const out = (
            await through(r.stream(), [buf.subarray(0, cut), buf.subarray(cut)])
          ).toString();
          assert.deepEqual(leaks(out, secrets), [], `${s.name} ${e.kind} cut at ${cut}: ${out}`);
        }
        const out = (await through(r.stream(), oneByteChunks(buf))).toString();
        assert.deepEqual(leaks(out, secrets), [], `${s.name} ${e.kind} one byte at a time: ${out}`);
      }
    }
  });
});
