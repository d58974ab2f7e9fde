// A hostile `.airlock.yml` is refused before it is parsed, in one sentence with its position:
// one size cap and one nesting cap, whatever the path (text, file, a worker thread). Parsing in
// the worker leaves the event loop free.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { MAX_CONFIG_BYTES, MAX_CONFIG_NESTING } from "../../src/config/guard.js";
import { ConfigError, loadConfig, parseConfig } from "../../src/config/loader.js";
import { OffThreadParser } from "../../src/config/parse-off-thread.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "airlock-guard-"));
// A parse's time limit is not what this file tests: a busy machine may take longer than the
// default 20 s over the large file below.
const parser = new OffThreadParser(10 * 60_000);
after(async () => {
  await parser.close();
  rmSync(dir, { recursive: true, force: true });
});

const VALID = "version: 1\njobs:\n  a:\n    run: echo hi\n";
/** A pipeline whose job's env value is `n` nested flow mappings: n + 4 levels in all. */
const nestedMap = (n: number) =>
  `version: 1\njobs:\n  a:\n    run: x\n    env:\n      X: ${"{k: ".repeat(n)}v${"}".repeat(n)}\n`;
const blockNest = (n: number) =>
  `version: 1\nx:\n${Array.from({ length: n }, (_, i) => `${" ".repeat(i + 1)}k${i}:`).join("\n")} v\n`;

function refusal(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `a ConfigError, not ${String(e)}`);
    return e;
  }
  assert.fail("expected a refusal");
}

test("2,000 levels of nesting, block or flow, are refused at their position, never a stack overflow", () => {
  // 2,000 indented levels need 2 MB and meet the size cap first (below); 1,000 fit under it.
  for (const text of [blockNest(1000), `version: 1\njobs: ${"[".repeat(2000)}`, nestedMap(2000)]) {
    const e = refusal(() => parseConfig(text, ".airlock.yml"));
    assert.equal(e.issues.length, 1);
    assert.match(
      e.message,
      /^\.airlock\.yml:\d+:\d+: configuration rejected: nested deeper than 64 levels$/,
    );
  }
});

test("the nesting cap counts mappings and lists: 64 levels pass it, 65 do not", () => {
  // Under the cap the file reaches the schema (whose complaint is about the field, not the depth).
  const at = (n: number) => refusal(() => parseConfig(nestedMap(n), ".airlock.yml")).message;
  assert.doesNotMatch(at(MAX_CONFIG_NESTING - 4), /nested deeper/);
  assert.match(at(MAX_CONFIG_NESTING - 3), /nested deeper than 64 levels/);
  assert.match(refusal(() => parseConfig(blockNest(2000), "x.yml")).message, /over the limit/);
});

test("one size cap for text and files; a file over it is refused before it is read", () => {
  const big = `${VALID}# ${"x".repeat(MAX_CONFIG_BYTES)}\n`;
  const e = refusal(() => parseConfig(big, ".airlock.yml"));
  assert.match(
    e.message,
    /configuration rejected: the file is \d+ bytes, over the limit of 1048576/,
  );
  const file = path.join(dir, "huge.yml");
  // 17.5 MB, like the file that once overflowed a read buffer.
  writeFileSync(file, `${VALID}${`# ${"y".repeat(98)}\n`.repeat(175_000)}`);
  assert.match(
    refusal(() => loadConfig(file)).message,
    /the file is 17\d{6} bytes, over the limit/,
  );
  assert.deepEqual(Object.keys(parseConfig(VALID, "ok.yml").jobs), ["a"]);
});

test("the worker thread gives the same answers, and the event loop turns while it parses", async () => {
  assert.deepEqual(await parser.parse(VALID, "ok.yml"), parseConfig(VALID, "ok.yml"));
  await assert.rejects(parser.parse(blockNest(1000), ".airlock.yml"), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /:\d+:\d+: configuration rejected: nested deeper than 64 levels/);
    return true;
  });
  await assert.rejects(parser.parse("version: 1\njobs:\n  a: 3\n", "p.yml"), /p\.yml:3:6: jobs\.a/);
  // A large valid file: thousands of jobs, just under the size cap.
  const jobs = Array.from({ length: 9000 }, (_, i) => `  j${i}:\n    run: echo ${i}\n`).join("");
  const large = `version: 1\njobs:\n${jobs}`;
  assert.ok(Buffer.byteLength(large) < MAX_CONFIG_BYTES);
  let done = false;
  let turns = 0;
  const parsing = parser.parse(large, "large.yml").finally(() => {
    done = true;
  });
  while (!done) {
    await new Promise((r) => setImmediate(r));
    turns++;
  }
  assert.equal(Object.keys((await parsing).jobs).length, 9000);
  // Parsed on this thread, the loop would not have turned at all until it was done.
  assert.ok(turns > 10, `the event loop turned ${turns} times during the parse`);
});
