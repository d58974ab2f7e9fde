// The log budget: a log file never grows past it, closing lines included; what was not kept is
// counted exactly; a log within its budget is stored whole, closing lines after it.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { after, describe, it } from "node:test";
import { LogWriter } from "../../src/store/log-writer.js";

const dir = mkdtempSync(path.join(tmpdir(), "airlock-logw-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = () => path.join(dir, `${++n}.log`);

/** Writes `chunks` through a LogWriter and returns the file and the writer. */
async function write(chunks: (string | Buffer)[], budget: number, closing: string[] = []) {
  const f = file();
  const w = new LogWriter(f, { budget, closing: () => closing });
  await pipeline(Readable.from(chunks.map((c) => Buffer.from(c))), w);
  return { f, w, text: readFileSync(f, "utf8") };
}

describe("LogWriter", () => {
  it("keeps a log within its budget whole, closing lines after it", async () => {
    const { f, w, text } = await write(["one\n", "two"], 64 * 1024, ["killed: out of memory"]);
    assert.equal(text, "one\ntwo\nairlock: killed: out of memory\n");
    assert.equal(w.dropped, 0);
    assert.equal(w.truncation, null);
    assert.equal(statSync(f).size, Buffer.byteLength(text));
  });

  it("past the budget: exactly the budget, the notice last, every byte not kept counted", async () => {
    const budget = 64 * 1024;
    const line = `${"x".repeat(99)}\n`;
    const chunks = Array.from({ length: 2000 }, () => line); // 200,000 bytes
    const { f, w, text } = await write(chunks, budget, ["killed: out of memory (limit 2 GiB)"]);
    assert.equal(statSync(f).size, budget, "the file is exactly the budget");
    const m =
      /\nairlock: killed: out of memory \(limit 2 GiB\)\nairlock: log truncated at 64 KiB: (\d+) bytes not kept\n$/.exec(
        text,
      );
    assert.ok(m, text.slice(-200));
    const kept = text.slice(0, m.index); // then the line break the closing lines start with
    assert.equal(kept, chunks.join("").slice(0, kept.length), "what is kept is the output's start");
    assert.equal(Number(m[1]), 200_000 - Buffer.byteLength(kept));
    assert.equal(w.dropped, Number(m[1]));
    assert.equal(w.truncation, `log truncated at 64 KiB: ${m[1]} bytes not kept`);
  });

  it("output that fits but leaves no room for the closing lines is cut to make room", async () => {
    const budget = 64 * 1024;
    const { f, w, text } = await write(["a".repeat(budget - 10)], budget, ["the job timed out"]);
    assert.equal(statSync(f).size, budget);
    assert.match(
      text,
      /^a+\nairlock: the job timed out\nairlock: log truncated at 64 KiB: \d+ bytes not kept\n$/,
    );
    assert.ok(w.dropped > 0);
  });

  it("counts a budget as including what the file already held", async () => {
    const f = file();
    writeFileSync(f, "x".repeat(60 * 1024));
    const w = new LogWriter(f, { budget: 64 * 1024 });
    await pipeline(Readable.from([Buffer.alloc(8192, 0x61)]), w);
    assert.equal(statSync(f).size, 64 * 1024);
    assert.match(readFileSync(f, "utf8"), /log truncated at 64 KiB: \d+ bytes not kept\n$/);
  });

  it("endWith adds a closing line after the output, outside the budget's output share", async () => {
    const f = file();
    const w = new LogWriter(f, { budget: 64 * 1024 });
    w.write("partial output\n");
    w.endWith(["could not grant the secrets"]);
    await new Promise((r) => w.on("finish", r));
    assert.equal(readFileSync(f, "utf8"), "partial output\nairlock: could not grant the secrets\n");
  });
});
