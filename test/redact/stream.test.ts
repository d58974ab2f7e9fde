// The streaming redactor: overlaps, prefixes, self-overlap, ANSI, multi-line values, short
// values, and how promptly output flows.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { describe, it } from "node:test";
import fc from "fast-check";
import { base64Inner, encodingsOf } from "../../src/redact/encodings.js";
import { createRedactor, RELEASE_MAX } from "../../src/redact/redactor.js";
import { oneByteChunks, through } from "./helpers.js";

const plain = (secrets: { name: string; value: string }[], minLength?: number) =>
  createRedactor({ secrets, minLength, detectors: false });

describe("encodings", () => {
  it("base64 inner runs are stable wherever the value sits in a larger stream", () => {
    const value = Buffer.from("correct horse battery staple");
    for (const offset of [0, 1, 2] as const) {
      const inner = base64Inner(value, offset);
      for (const pre of [0, 3, 6].map((n) => n + offset)) {
        for (const post of [0, 1, 2, 5]) {
          const all = Buffer.concat([Buffer.alloc(pre, 0x41), value, Buffer.alloc(post, 0x7a)]);
          assert.ok(
            all.toString("base64").includes(inner),
            `offset ${offset} pre ${pre} post ${post}`,
          );
        }
      }
    }
  });

  it("lists every kind the redactor must catch", () => {
    const kinds = new Set(
      [...encodingsOf("a'b\"c$d\ne f&g<h>"), ...encodingsOf("a'b c$d")].map((e) => e.kind),
    );
    for (const k of [
      "raw",
      "base64@0",
      "base64@1",
      "base64@2",
      "base64url@1",
      "base64",
      "base64-nopad",
      "hex",
      "hex-upper",
      "url",
      "url-form",
      "json",
      "shell-single",
      "shell-double",
      "shell-printf-q",
      "url-userinfo",
      "xml",
      "spaced",
      "whitespace-normalised",
      "crlf",
    ]) {
      assert.ok(kinds.has(k), k);
    }
  });

  it("writes a value as bash's printf %q does", () => {
    const values = fc.sample(
      fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 24 }),
      300,
    );
    values.push("~home", "a=~b", "#hash", "x#y", "tab\there", "Pa55 w0rd/\"q'<&>$x\\y");
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
    values.forEach((v, i) => {
      env[`V${i}`] = v;
    });
    const script = values.map((_, i) => `printf '%q\\0' "$V${i}"`).join("\n");
    const byBash = execFileSync("bash", ["--norc", "--noprofile", "-c", script], { env })
      .toString("latin1")
      .split("\0");
    values.forEach((v, i) => {
      const ours = encodingsOf(v).find((e) => e.kind === "shell-printf-q");
      // Values with control characters are written as $'...' by bash; there is no such form.
      if (/[^\x20-\x7e]/.test(v)) assert.equal(ours, undefined);
      else assert.equal(ours?.text, byBash[i], JSON.stringify(v));
    });
  });
});

describe("stream redactor", () => {
  it("masks secrets sharing a prefix: the longest match names the span", () => {
    const r = plain([
      { name: "SHORT", value: "abcdef123" },
      { name: "LONG", value: "abcdef123456" },
    ]);
    assert.equal(
      r.redact("x abcdef123456 y abcdef123 z"),
      "x [redacted:LONG] y [redacted:SHORT] z",
    );
  });

  it("masks overlapping secrets as one span", () => {
    const r = plain([
      { name: "A", value: "111222333" },
      { name: "B", value: "333444555666" },
    ]);
    assert.equal(r.redact("<111222333444555666>"), "<[redacted:B]>");
  });

  it("catches a self-overlapping secret written as aa|ab", async () => {
    const r = plain([{ name: "S", value: "aab" }], 3);
    assert.equal((await through(r.stream(), ["aa", "ab"])).toString(), "a[redacted:S]");
    assert.equal((await through(r.stream(), ["a", "a", "a", "b"])).toString(), "a[redacted:S]");
    const r2 = plain([{ name: "S", value: "abababc" }]);
    assert.equal((await through(r2.stream(), ["ababab", "abc!"])).toString(), "ab[redacted:S]!");
  });

  it("sees through colour escapes inside a secret and keeps the colours", async () => {
    const r = plain([{ name: "TOKEN", value: "hunter2secret" }]);
    const text = "pw=\x1b[31mhunter\x1b[1m2sec\x1b[0mret ok";
    const out = r.redact(text);
    assert.equal(out, "pw=\x1b[31m[redacted:TOKEN]\x1b[1m\x1b[0m ok");
    const streamed = (await through(r.stream(), oneByteChunks(Buffer.from(text)))).toString();
    assert.equal(streamed, out);
  });

  it("catches a multi-line value whole, line by line, on one line, and with CRLF", () => {
    const value = "first-line-of-it\nsecond-line-here\nthird-line-too";
    const r = plain([{ name: "CERT", value }]);
    assert.equal(r.redact(`>${value}<`), ">[redacted:CERT]<");
    assert.equal(r.redact("x second-line-here y"), "x [redacted:CERT] y");
    assert.equal(r.redact(`echo ${value.replace(/\n/g, " ")}`), "echo [redacted:CERT]");
    assert.equal(r.redact(value.replace(/\n/g, "\r\n")), "[redacted:CERT]");
  });

  it("refuses short values with a warning that names the secret, never the value", () => {
    const r = createRedactor({ secrets: [{ name: "PIN", value: "1234" }] });
    assert.equal(r.warnings.length, 1);
    assert.match(r.warnings[0]!, /PIN/);
    assert.match(r.warnings[0]!, /shorter than 6/);
    assert.ok(!r.warnings[0]!.includes("1234"));
    assert.equal(r.redact("pin 1234"), "pin 1234");
    const lowered = createRedactor({ secrets: [{ name: "PIN", value: "1234" }], minLength: 4 });
    assert.deepEqual(lowered.warnings, []);
    assert.equal(lowered.redact("pin 1234"), "pin [redacted:PIN]");
  });

  it("a public job's redactor knows no values: it masks token formats only (no oracle)", () => {
    const r = createRedactor({ secrets: [] });
    assert.equal(r.redact("guess hunter2secret"), "guess hunter2secret");
    assert.equal(r.redact("AKIAIOSFODNN7EXAMPLE"), "[redacted:aws-access-key-id]");
  });

  it("writes a line with no open match at once, without waiting for more input", async () => {
    const r = createRedactor({ secrets: [{ name: "S", value: "hunter2secret" }], flushMs: 10_000 });
    const s = r.stream();
    s.write("building step 1\n");
    const [first] = (await once(s, "data")) as [Buffer];
    assert.equal(first.toString(), "building step 1\n");
    s.write("progress 50% ");
    const [second] = (await once(s, "data")) as [Buffer];
    assert.equal(second.toString(), "progress 50% ");
    s.end();
  });

  it("holds back an open prefix of a secret past the flush timer until it resolves", async () => {
    const r = createRedactor({ secrets: [{ name: "S", value: "hunter2secret" }], flushMs: 100 });
    const s = r.stream();
    const got: string[] = [];
    s.on("data", (d: Buffer) => got.push(d.toString()));
    s.write("user=admin pass=hunt");
    await new Promise((res) => setImmediate(res));
    assert.equal(got.join(""), "user=admin pass=");
    // A slow writer cannot show the secret piece by piece: four bytes stay held.
    await new Promise((res) => setTimeout(res, 400));
    assert.equal(got.join(""), "user=admin pass=");
    s.end("er2secret done\n");
    await once(s, "end");
    assert.equal(got.join(""), "user=admin pass=[redacted:S] done\n");
  });

  it("releases a held prefix too short to tell anything after a quiet spell after the last input", async () => {
    const r = createRedactor({ secrets: [{ name: "S", value: "hunter2secret" }], flushMs: 400 });
    const s = r.stream();
    const got: string[] = [];
    s.on("data", (d: Buffer) => got.push(d.toString()));
    const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));
    s.write("a=h");
    await sleep(200);
    s.write("u");
    // 440 ms after the first input but 240 ms after the last: still held.
    await sleep(240);
    assert.equal(got.join(""), "a=");
    await sleep(700);
    assert.equal(got.join(""), `a=hu`);
    assert.ok(RELEASE_MAX > 2, "two held bytes are released by the timer");
    // The rest of the value arriving later is still masked.
    s.end("nter2secret\n");
    await once(s, "end");
    assert.equal(got.join(""), "a=hu[redacted:S]\n");
  });

  it("never holds back more than the longest needle minus one byte", async () => {
    const value = "0123456789abcdefghij";
    const r = plain([{ name: "S", value }]);
    const s = r.stream();
    let out = "";
    s.on("data", (d: Buffer) => {
      out += d.toString();
    });
    const longest = Math.max(...encodingsOf(value).map((e) => Buffer.byteLength(e.text)));
    const input = `${"x".repeat(50)}${value.slice(0, 19)}`;
    s.write(input);
    await new Promise((res) => setImmediate(res));
    assert.ok(input.length - out.length <= longest - 1);
    assert.equal(out, "x".repeat(50));
    s.end();
  });

  it("passes binary and invalid UTF-8 through unchanged", async () => {
    const r = plain([{ name: "S", value: "hunter2secret" }]);
    const bytes = Buffer.from([0xff, 0xfe, 0x00, 0x1b, 0x5b, 0x80, 0xc3, 0x28, 0x0a]);
    const out = await through(r.stream(), oneByteChunks(bytes));
    assert.ok(out.equals(bytes));
  });
});

describe("base64 of a long value, in lines", () => {
  // A service-account key or a PEM file put through `base64` comes out wrapped: 76 columns for
  // coreutils, 64 for `openssl base64` (here `base64 -w 64`, the same lines), CRLF through a pty.
  const value = JSON.stringify({
    type: "service_account",
    private_key_id: randomBytes(20).toString("hex"),
    private_key: randomBytes(180).toString("base64"),
  });
  const tools: [string, string[]][] = [
    ["base64", []],
    ["base64", ["-w", "64"]],
  ];
  /** Every line of the tool's output that carries the value's bits alone, 16 characters or more. */
  const linesOf = (out: string) =>
    out
      .split(/\r?\n/)
      .map((l) => l.replace(/=+$/, ""))
      .filter((l) => l.length >= 16);

  for (const [tool, args] of tools) {
    for (const input of [value, `${value}\n`]) {
      for (const eol of ["\n", "\r\n"]) {
        const name = `${tool} ${args.join(" ")} of the value${input === value ? "" : " and a newline"}, ${eol === "\n" ? "LF" : "CRLF"}`;
        it(`${name}: no line survives, at any split`, async () => {
          const encoded = execFileSync(tool, args, { input }).toString().replace(/\n/g, eol);
          const text = Buffer.from(`before\n${encoded}after\n`);
          const lines = linesOf(encoded).slice(0, -1); // the last mixes in what follows the value
          assert.ok(lines.length >= 4, "the value spans several lines");
          const r = plain([{ name: "SA_KEY", value }]);
          const cuts = [1, 7, 64, 77, 100, 151, 230, text.length - 3];
          for (const chunks of [
            oneByteChunks(text),
            ...cuts.map((c) => [text.subarray(0, c), text.subarray(c)]),
          ]) {
            const out = (await through(r.stream(), chunks)).toString();
            assert.match(out, /^before\n\[redacted:SA_KEY\]/);
            for (const line of lines) assert.ok(!out.includes(line), `a line leaked: ${out}`);
            assert.ok(out.endsWith("after\n"));
          }
        });
      }
    }
  }
});
