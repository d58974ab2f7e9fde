// Log paging, search and rendering: pages by line from a sparse index, lines escaped with colours
// as classes only, group markers, and a big log read in pieces.
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { stripAnsi } from "../../src/store/log-text.js";
import { ansiToHtml } from "../../src/web/console/ansi.js";
import { lineHtml } from "../../src/web/console/lines.js";
import { MAX_LINE_CHARS, readPage, searchLog } from "../../src/web/console/log-reader.js";

describe("log reader", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), "airlock-logread-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("pages by line number across index checkpoints, and follows a growing file", async () => {
    const file = path.join(dir, "a.log");
    writeFileSync(file, Array.from({ length: 5000 }, (_, i) => `line ${i + 1}\n`).join(""));
    const p = await readPage(file, 2500, 10, { final: true });
    assert.deepEqual(
      p.lines.map((l) => l.text),
      Array.from({ length: 10 }, (_, i) => `line ${2500 + i}`),
    );
    assert.equal(p.lines[0]?.n, 2500);
    assert.equal(p.nextLine, 2510);
    assert.equal(p.totalLines, 5000);
    const tail = await readPage(file, 4999, 10, { final: false });
    assert.deepEqual(
      tail.lines.map((l) => l.n),
      [4999, 5000],
    );
    assert.equal(tail.endByte, tail.size);
    // A partial line is held back while the job runs and shown once it has finished.
    appendFileSync(file, "line 5001\npartial");
    const live = await readPage(file, 5000, 10, { final: false });
    assert.deepEqual(
      live.lines.map((l) => l.text),
      ["line 5000", "line 5001"],
    );
    assert.ok(live.endByte < live.size);
    const done = await readPage(file, 5000, 10, { final: true });
    assert.deepEqual(
      done.lines.map((l) => l.text),
      ["line 5000", "line 5001", "partial"],
    );
  });

  it("a page of a big log reads only the piece around it", async () => {
    const file = path.join(dir, "big.log");
    const line = `${"x".repeat(90)}\n`;
    const block = line.repeat(10_000); // ~0.9 MB
    writeFileSync(file, "");
    for (let i = 0; i < 24; i++) appendFileSync(file, block); // ~22 MB, 240k lines
    const size = line.length * 240_000;
    await readPage(file, 1, 1, { final: true }); // builds the index once
    const p = await readPage(file, 200_000, 500, { final: true });
    assert.equal(p.lines.length, 500);
    assert.equal(p.lines[0]?.n, 200_000);
    assert.equal(p.totalLines, 240_000);
    // From the checkpoint before line 200,000: one chunk of at most 1 MiB, not the 22 MB file.
    assert.ok(p.readBytes > 0 && p.readBytes <= 1 << 20, `read ${p.readBytes} of ${size} bytes`);
    // Reading on from where the page ended costs about what the next page holds.
    const next = await readPage(file, p.nextLine, 500, { final: true });
    assert.equal(next.lines[0]?.n, 200_500);
    assert.ok(next.readBytes <= 1 << 20, `read ${next.readBytes} bytes`);
  });

  it("cuts overlong lines for display", async () => {
    const file = path.join(dir, "long.log");
    writeFileSync(file, `short\n${"y".repeat(3 * 1024 * 1024)}\nafter\n`);
    const p = await readPage(file, 1, 10, { final: true });
    assert.deepEqual(
      p.lines.map((l) => l.n),
      [1, 2, 3],
    );
    assert.equal(p.lines[1]?.cut, true);
    assert.ok((p.lines[1]?.text.length ?? 0) <= MAX_LINE_CHARS);
    assert.equal(p.lines[2]?.text, "after");
  });

  it("searches case-insensitively in visible text, paged with a cursor", async () => {
    const file = path.join(dir, "s.log");
    writeFileSync(
      file,
      Array.from({ length: 300 }, (_, i) =>
        i % 10 === 0 ? `\x1b[31mFAIL\x1b[0m case ${i + 1}\n` : `ok ${i + 1}\n`,
      ).join(""),
    );
    const first = await searchLog(
      file,
      "fail case",
      { line: 1, byte: 0 },
      { limit: 20, normalize: stripAnsi },
    );
    assert.equal(first.matches.length, 20);
    assert.equal(first.matches[0]?.n, 1);
    assert.equal(first.matches[1]?.n, 11);
    assert.ok(first.next);
    const rest = await searchLog(file, "fail case", first.next, {
      limit: 20,
      normalize: stripAnsi,
    });
    assert.deepEqual(
      rest.matches.map((m) => m.n),
      Array.from({ length: 10 }, (_, i) => 201 + i * 10),
    );
    assert.equal(rest.next, null);
  });
});

describe("log rendering", () => {
  it("escapes text and turns SGR colours into classes only", () => {
    const out = ansiToHtml('\x1b[1;31m<img src=x onerror="alert(1)">\x1b[0m & done');
    assert.equal(
      out,
      '<span class="f1 bo">&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</span> &amp; done',
    );
  });

  it("drops other escape sequences: OSC hyperlinks and titles, cursor moves, control bytes", () => {
    const out = ansiToHtml(
      "a\x1b]8;;https://evil.example/\x07link\x1b]8;;\x07b\x1b]0;title\x07c\x1b[2Kd\x07e\x00f",
    );
    assert.equal(out, "alinkbcdef");
    assert.ok(!out.includes("evil"));
  });

  it("ignores truecolour and 256-colour parameters it cannot map to a class", () => {
    assert.equal(ansiToHtml("\x1b[38;2;255;0;0mred\x1b[m"), "red");
    assert.equal(ansiToHtml("\x1b[38;5;200mpink"), "pink");
    assert.equal(ansiToHtml("\x1b[38;5;9mx"), '<span class="f9">x</span>');
  });

  it("renders group markers as foldable headers, with escaped titles", () => {
    const start = lineHtml({ n: 3, text: "::group::Build <b>" });
    assert.match(start, /data-group="start"/);
    assert.match(start, /aria-expanded="true"/);
    assert.match(start, /Build &lt;b&gt;/);
    assert.match(lineHtml({ n: 4, text: "##[group]Other" }), /data-group="start"/);
    assert.match(lineHtml({ n: 5, text: "::endgroup::" }), /data-group="end"/);
    assert.match(lineHtml({ n: 6, text: "##[endgroup]" }), /data-group="end"/);
    assert.match(lineHtml({ n: 7, text: "plain" }), /id="L7"/);
  });
});
