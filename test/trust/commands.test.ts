import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { parseComment } from "../../src/gateway/commands.js";

const cmds = (body: string) => parseComment(body).commands;

test("each command is recognised at the start of its own line", () => {
  assert.deepEqual(
    cmds(
      "thanks!\n/ok-to-test\n/test aws-infra,scw-all\n/test all\n/retest\n/cancel\n/mirror\r\n/OK-TO-TEST",
    ),
    [
      { kind: "ok-to-test" },
      { kind: "test", all: false, names: ["aws-infra", "scw-all"] },
      { kind: "test", all: true },
      { kind: "retest" },
      { kind: "cancel" },
      { kind: "mirror" },
      { kind: "ok-to-test" },
    ],
  );
  assert.deepEqual(cmds(`/ok-to-test ${"a".repeat(40)}`), [
    { kind: "ok-to-test", sha: "a".repeat(40) },
  ]);
  assert.deepEqual(cmds("/test a, b c,a"), [{ kind: "test", all: false, names: ["a", "b", "c"] }]);
});

test("commands in fenced blocks, inline code, quotes, indented lines and HTML comments are prose", () => {
  const body = [
    "````sh",
    "/ok-to-test",
    "```",
    "/test all",
    "````",
    "~~~",
    "/retest",
    "~~~",
    "> /ok-to-test",
    ">/ok-to-test",
    "    /ok-to-test",
    " /ok-to-test",
    "`/ok-to-test`",
    "/ok-to-test `x`",
    "<!--",
    "/ok-to-test",
    "-->",
    "please /ok-to-test",
  ].join("\n");
  assert.deepEqual(cmds(body), []);
  // A fence closed properly ends the block.
  assert.deepEqual(cmds("```\ncode\n```\n/retest"), [{ kind: "retest" }]);
});

test("malformed commands are reported, other bots' commands ignored", () => {
  const r = parseComment("/test\n/retest now\n/ok-to-test abc; rm -rf /\n/test ../x\n/assign @me");
  assert.deepEqual(r.commands, []);
  assert.equal(r.problems.length, 4);
  assert.match(r.problems[0]!, /\/test all/);
  for (const p of r.problems)
    assert.doesNotMatch(p, /rm -rf|\.\.\/x/, "untrusted text is not echoed");
});

test("no input crashes the parser or yields an argument outside the strict patterns", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), (s) => {
      for (const c of cmds(s)) {
        if (c.kind === "test" && !c.all) {
          for (const n of c.names) assert.match(n, /^[A-Za-z0-9][A-Za-z0-9_.-]*$/);
        }
        if (c.kind === "ok-to-test" && c.sha) assert.match(c.sha, /^[0-9A-Fa-f]+$/);
      }
    }),
  );
});
