import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { JUnitError, MAX_MESSAGE, parseJUnit } from "../../src/pipeline/junit.js";

// What `node --test --test-reporter=junit` writes (Node 20), trimmed: top-level tests sit
// directly in <testsuites>, and a failed case has both a failure="…" attribute and <failure>.
const NODE_REPORT = `<?xml version="1.0" encoding="utf-8"?>
<testsuites>
	<testsuite name="math" time="0.001848" disabled="0" errors="0" tests="3" failures="1" skipped="1" hostname="vm">
		<testcase name="adds" time="0.000424" classname="test"/>
		<testcase name="fails" time="0.000583" classname="test" failure="2 == 3">
			<failure type="testCodeFailure" message="2 == 3">
Error [ERR_TEST_FAILURE]: 2 == 3
    at TestContext.&lt;anonymous> (file:///src/s.test.mjs:5:30)
			</failure>
		</testcase>
		<testcase name="skipped" time="0.000115" classname="test">
			<skipped type="skipped" message="not today"/>
		</testcase>
	</testsuite>
	<testcase name="top" time="1.5" classname="test"/>
	<!-- tests 4 -->
</testsuites>`;

describe("parseJUnit", () => {
  it("reads Node's reporter output", () => {
    assert.deepEqual(parseJUnit(NODE_REPORT), [
      { suite: "test", name: "top", status: "passed", durationMs: 1500 },
      { suite: "math", name: "adds", status: "passed", durationMs: 0 },
      {
        suite: "math",
        name: "fails",
        status: "failed",
        durationMs: 1,
        message: "testCodeFailure: 2 == 3",
      },
      { suite: "math", name: "skipped", status: "skipped", durationMs: 0, message: "not today" },
    ]);
  });

  it("reads a bare <testsuite> with nested suites, errors and CDATA bodies", () => {
    const xml = `<testsuite name="outer" tests="3">
      <testcase classname="pkg.A" name="ok" time="1,234.5"/>
      <testcase name="boom"><error><![CDATA[java.lang.NullPointerException
        at pkg.A.boom(A.java:3)]]></error></testcase>
      <testsuite name="inner"><testcase name="deep"><skipped/></testcase></testsuite>
      <testsuite><testcase name="anon"/></testsuite>
    </testsuite>`;
    assert.deepEqual(parseJUnit(xml), [
      { suite: "outer", name: "ok", status: "passed", durationMs: 1_234_500 },
      {
        suite: "outer",
        name: "boom",
        status: "failed",
        durationMs: 0,
        message: "java.lang.NullPointerException\n        at pkg.A.boom(A.java:3)",
      },
      { suite: "inner", name: "deep", status: "skipped", durationMs: 0 },
      { suite: "outer", name: "anon", status: "passed", durationMs: 0 },
    ]);
  });

  it("a type already in the message is not repeated; an empty <failure/> still fails", () => {
    const xml = `<testsuites><testsuite name="s">
      <testcase name="a"><failure type="AssertionError" message="AssertionError: 1 != 2"/></testcase>
      <testcase name="b"><failure/></testcase>
    </testsuite></testsuites>`;
    const [a, b] = parseJUnit(xml);
    assert.equal(a!.message, "AssertionError: 1 != 2");
    assert.equal(b!.status, "failed");
    assert.equal(b!.message, undefined);
  });

  it("clips long messages and names", () => {
    const long = "x".repeat(50_000);
    const [r] = parseJUnit(
      `<testsuite name="s"><testcase name="${long}"><failure message="${long}"/></testcase></testsuite>`,
    );
    assert.equal(r!.message!.length, MAX_MESSAGE);
    assert.ok(r!.message!.endsWith("…"));
    assert.ok(r!.name.length <= 300);
  });

  it("an empty <testsuites/> has no results", () => {
    assert.deepEqual(parseJUnit('<?xml version="1.0"?><testsuites/>'), []);
  });

  it("counts the skipped tests a suite declares but leaves out (mocha-junit-reporter's pending)", () => {
    // mocha-junit-reporter: 3 pending tests counted in skipped="3", none listed.
    const mocha = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="Mocha Tests" tests="5" failures="0" skipped="3">
  <testsuite name="Root Suite" tests="0" failures="0" skipped="0"/>
  <testsuite name="app.router" tests="5" failures="0" skipped="3">
    <testcase name="routes GET" classname="routes GET" time="0.01"/>
    <testcase name="routes POST" classname="routes POST" time="0.02"/>
  </testsuite>
</testsuites>`;
    const r = parseJUnit(mocha);
    assert.deepEqual(
      r.map((t) => [t.suite, t.status]),
      [
        ["app.router", "passed"],
        ["app.router", "passed"],
        ["app.router", "skipped"],
        ["app.router", "skipped"],
        ["app.router", "skipped"],
      ],
    );
    // A suite that lists its skipped tests is not counted twice, nor is the root's total.
    const listed = `<testsuites skipped="2"><testsuite name="a" skipped="1"><testcase name="x"><skipped/></testcase></testsuite>
<testsuite name="b" skipped="1"><testsuite name="b1" skipped="1"><testcase name="y"><skipped/></testcase></testsuite></testsuite></testsuites>`;
    assert.equal(parseJUnit(listed).filter((t) => t.status === "skipped").length, 2);
    // A nonsense count adds nothing.
    assert.equal(parseJUnit(`<testsuite skipped="-4"><testcase name="x"/></testsuite>`).length, 1);
    assert.equal(
      parseJUnit(`<testsuite skipped="lots"><testcase name="x"/></testsuite>`).length,
      1,
    );
  });

  it("throws a JUnitError naming the problem for text that is not a report", () => {
    assert.throws(() => parseJUnit(""), { name: "JUnitError", message: "the report is empty" });
    assert.throws(() => parseJUnit("<testsuite><testcase></testsuite>"), {
      name: "JUnitError",
      message: /^not well-formed XML at line 1, column \d+: /,
    });
    assert.throws(() => parseJUnit("<html><body/></html>"), {
      name: "JUnitError",
      message:
        "not a JUnit report: the root element is <html>, expected <testsuites> or <testsuite>",
    });
    assert.throws(() => parseJUnit("Segmentation fault (core dumped)"), JUnitError);
  });

  it("does not read external entities", () => {
    const xml = `<?xml version="1.0"?><!DOCTYPE t [<!ENTITY e SYSTEM "file:///etc/passwd">]>
      <testsuite name="s"><testcase name="&e;"/></testsuite>`;
    let results: ReturnType<typeof parseJUnit> = [];
    try {
      results = parseJUnit(xml);
    } catch (e) {
      assert.ok(e instanceof JUnitError);
    }
    for (const r of results) assert.doesNotMatch(r.name, /root:/);
  });

  it("never throws anything but JUnitError, whatever the text", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc
            .array(
              fc.constantFrom(
                "<testsuite",
                "<testcase",
                ">",
                "/>",
                "</testsuite>",
                'name="a"',
                " ",
                "<failure",
                "&amp;",
                "<![CDATA[",
                "]]>",
              ),
            )
            .map((parts) => parts.join("")),
        ),
        (text) => {
          try {
            const results = parseJUnit(text);
            for (const r of results) assert.ok(["passed", "failed", "skipped"].includes(r.status));
          } catch (e) {
            assert.ok(e instanceof JUnitError, String(e));
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
