import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDotenv } from "../../src/secrets/dotenv.js";

const parse = (text: string) => parseDotenv(text, "f.env").map((e) => [e.key, e.value, e.line]);

describe("dotenv", () => {
  it("reads the common dialect", () => {
    assert.deepEqual(
      parse(
        [
          "# comment",
          "",
          "A=1",
          "export B = two words ",
          "C='lit $X \\n # kept'",
          'D="esc \\"q\\" \\\\ \\n end" # trailing comment',
          'E="multi',
          'line"',
          "F=url#fragment",
          "G=value # comment",
          "H=",
        ].join("\r\n"),
      ),
      [
        ["A", "1", 3],
        ["B", "two words", 4],
        ["C", "lit $X \\n # kept", 5],
        ["D", 'esc "q" \\ \n end', 6],
        ["E", "multi\nline", 7],
        ["F", "url#fragment", 9],
        ["G", "value", 10],
        ["H", "", 11],
      ],
    );
  });

  it("names the line of a problem and never quotes a value", () => {
    assert.throws(() => parse("A=1\nnot a pair"), /f\.env:2: expected KEY=value/);
    assert.throws(() => parse("1A=x"), /f\.env:1: "1A" is not a variable name/);
    assert.throws(
      () => parse('A="hunter2-secret'),
      (e: Error) => {
        assert.match(e.message, /f\.env:1: the value of A opens a " quote that is never closed/);
        assert.ok(!e.message.includes("hunter2"));
        return true;
      },
    );
    assert.throws(
      () => parse("A='x' junk-secret"),
      (e: Error) => !e.message.includes("junk-secret"),
    );
    assert.throws(() => parse("A=1\nA=2"), /f\.env:2: A is also set on line 1/);
  });
});
