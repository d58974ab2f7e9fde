// Line timestamps beside a log: each line's start time is recorded as it is written, read back
// for any range of lines, kept right when the log is cut to its budget, bounded in size, and
// absent (never wrong) for logs written before timestamps existed or past the file's cap.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { LineTimes, lineTimes, timesPathOf } from "../../src/store/log-times.js";
import { LogWriter } from "../../src/store/log-writer.js";

const dir = mkdtempSync(path.join(tmpdir(), "airlock-logtimes-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = () => path.join(dir, `${++n}.log`);

const all = async (f: string, to = 100) => Object.fromEntries(await lineTimes(f, 1, to));

describe("log line times", () => {
  it("records when each line started, chunk by chunk, and reads any range back", async () => {
    const f = file();
    const t = new LineTimes(f, 1 << 20);
    t.wrote(Buffer.from("one\ntwo\nthr"), 1000);
    t.wrote(Buffer.from("ee\nfour\n"), 2000); // "three" started at 1000
    t.wrote(Buffer.from("five\n"), 2000); // same millisecond: no record of its own
    t.wrote(Buffer.from("six\n"), 3500);
    t.close();
    assert.deepEqual(await all(f, 6), { 1: 1000, 2: 1000, 3: 1000, 4: 2000, 5: 2000, 6: 3500 });
    assert.deepEqual(Object.fromEntries(await lineTimes(f, 4, 5)), { 4: 2000, 5: 2000 });
    assert.deepEqual(Object.fromEntries(await lineTimes(f, 6, 6)), { 6: 3500 });
    // Three records of 12 bytes: one per new millisecond, not one per line.
    assert.equal(statSync(timesPathOf(f)).size, 36);
  });

  it("a log without a times file (written before timestamps) has no times", async () => {
    const f = file();
    writeFileSync(f, "old\nlog\n");
    assert.deepEqual(await all(f), {});
  });

  it("past its cap, lines get no time rather than a wrong one", async () => {
    const f = file();
    const t = new LineTimes(f, 0); // the smallest cap: 64 records
    for (let i = 1; i <= 100; i++) t.wrote(Buffer.from(`line ${i}\n`), i * 10);
    t.close();
    const got = await all(f, 100);
    assert.equal(got[1], 10);
    assert.equal(got[63], 630);
    for (let i = 64; i <= 100; i++) assert.equal(got[i], undefined, `line ${i}`);
    assert.equal(statSync(timesPathOf(f)).size, 64 * 12);
  });

  it("through the LogWriter: closing lines get their own time, also after a cut to the budget", async () => {
    const budget = 64 * 1024;
    const f = file();
    const w = new LogWriter(f, { budget, closing: () => ["the job timed out"] });
    const line = `${"x".repeat(99)}\n`;
    for (let i = 0; i < 700; i++) w.write(line); // 70,000 bytes: past the budget
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
    await new Promise<void>((resolve, reject) =>
      w.end((e?: Error | null) => (e ? reject(e) : resolve())),
    );
    const text = (await import("node:fs")).readFileSync(f, "utf8");
    const lines = text.split("\n").length - 1;
    const times = await lineTimes(f, 1, lines);
    assert.equal(times.size, lines, "every line of the log has a time");
    const closing =
      text.split("\n").findIndex((l) => l.startsWith("airlock: the job timed out")) + 1;
    assert.ok(closing > 600, text.slice(-300));
    assert.ok(times.get(closing)! >= times.get(1)!);
  });

  it("appending to a log written before starts no times, and forgets the earlier ones", async () => {
    const f = file();
    const first = new LogWriter(f, {});
    await new Promise<void>((resolve, reject) =>
      first.end("earlier\n", (e?: Error | null) => (e ? reject(e) : resolve())),
    );
    assert.equal((await lineTimes(f, 1, 1)).size, 1);
    const w = new LogWriter(f, {});
    await new Promise<void>((resolve, reject) =>
      w.end("more\n", (e?: Error | null) => (e ? reject(e) : resolve())),
    );
    assert.deepEqual(await all(f), {});
  });
});
