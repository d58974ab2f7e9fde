// JUnit XML reports into per-test results. Failure messages end up in public summaries (after
// the redactor), so they are cut short here: the full output stays in the private log.
import { XMLParser, XMLValidator } from "fast-xml-parser";
import type { TestResult } from "../store/index.js";

export const MAX_MESSAGE = 1000;
export const MAX_NAME = 300;
export const MAX_REPORT_BYTES = 20 * 1024 * 1024;
/** Most unlisted skipped tests one suite may add (its `skipped` count is the report's word). */
export const MAX_UNLISTED = 10_000;

/** The text is not a JUnit report we can read. */
export class JUnitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JUnitError";
  }
}

type XmlNode = Record<string, unknown>;
const LISTS = new Set(["testsuite", "testcase", "failure", "error", "skipped"]);

const parser = new XMLParser({
  ignoreAttributes: false,
  // Attributes apart from elements: Node's reporter writes both failure="…" and <failure>.
  attributeNamePrefix: "@",
  parseAttributeValue: false,
  parseTagValue: false,
  isArray: (name) => LISTS.has(name),
});

/**
 * Every <testcase> of a report, whether rooted at <testsuites> or <testsuite>, with nested
 * suites. Throws JUnitError when the text is not well-formed XML or not a JUnit report.
 */
export function parseJUnit(xml: string): TestResult[] {
  if (xml.length > MAX_REPORT_BYTES) {
    throw new JUnitError(`the report is larger than ${MAX_REPORT_BYTES} bytes`);
  }
  if (xml.trim() === "") throw new JUnitError("the report is empty");
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    const { line, col, msg } = valid.err;
    throw new JUnitError(`not well-formed XML at line ${line}, column ${col}: ${clip(msg, 200)}`);
  }
  let doc: XmlNode;
  try {
    doc = parser.parse(xml) as XmlNode;
  } catch (e) {
    throw new JUnitError(`cannot read the report: ${clip((e as Error).message, 200)}`);
  }
  const results: TestResult[] = [];
  if (doc.testsuites !== undefined) {
    // <testsuites> may hold <testcase>s directly (Node's reporter does, for top-level tests).
    for (const s of nodes(doc.testsuites)) walkSuite(s, "", results);
  } else if (doc.testsuite !== undefined) {
    for (const s of nodes(doc.testsuite)) walkSuite(s, "", results);
  } else {
    const root = Object.keys(doc).find((k) => !k.startsWith("?")) ?? "(none)";
    throw new JUnitError(
      `not a JUnit report: the root element is <${clip(root, 50)}>, expected <testsuites> or <testsuite>`,
    );
  }
  return results;
}

/**
 * Pushes a suite's test cases, and returns how many of them (nested suites included) are skipped.
 * A suite that counts more skipped tests than it lists (mocha-junit-reporter leaves pending tests
 * out) gets one entry per missing one, so the totals say what the runner said.
 */
function walkSuite(suite: XmlNode, outer: string, out: TestResult[]): number {
  const name = text(suite["@name"]) || outer;
  let skipped = 0;
  for (const tc of nodes(suite.testcase)) {
    const r = readCase(tc, name);
    if (r.status === "skipped") skipped++;
    out.push(r);
  }
  for (const inner of nodes(suite.testsuite)) skipped += walkSuite(inner, name, out);
  const declared = Math.min(count(suite["@skipped"]), MAX_UNLISTED);
  for (let i = skipped; i < declared; i++) {
    out.push({
      suite: clip(name || "tests", MAX_NAME),
      name: "(a skipped test the report does not list)",
      status: "skipped",
      durationMs: 0,
    });
  }
  return Math.max(skipped, declared);
}

/** A whole count attribute ("3"), or 0. */
function count(v: unknown): number {
  const n = Number(text(v));
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

function readCase(tc: XmlNode, suite: string): TestResult {
  const result: TestResult = {
    suite: clip(suite || text(tc["@classname"]) || "tests", MAX_NAME),
    name: clip(text(tc["@name"]) || "(unnamed)", MAX_NAME),
    status: "passed",
    durationMs: seconds(tc["@time"]),
  };
  const problem = nodes(tc.failure)[0] ?? nodes(tc.error)[0];
  const failed = tc.failure !== undefined || tc.error !== undefined;
  if (failed) {
    result.status = "failed";
    const message = problem ? describe(problem) : "";
    if (message) result.message = message;
  } else if (tc.skipped !== undefined) {
    result.status = "skipped";
    const skip = nodes(tc.skipped)[0];
    const message = skip ? text(skip["@message"]) : "";
    if (message) result.message = clip(message, MAX_MESSAGE);
  }
  return result;
}

/** "type: message", falling back to the element's text (often a stack trace) when no message. */
function describe(el: XmlNode): string {
  const type = text(el["@type"]);
  const msg = text(el["@message"]) || text(el["#text"]);
  const full = type && msg && !msg.startsWith(type) ? `${type}: ${msg}` : msg || type;
  return clip(full, MAX_MESSAGE);
}

/** Elements as nodes: an empty element parses as "" and a text-only one as its text. */
function nodes(v: unknown): XmlNode[] {
  const list = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return list.map((n) => (isNode(n) ? n : { "#text": typeof n === "string" ? n : "" }));
}

function isNode(v: unknown): v is XmlNode {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function text(v: unknown): string {
  return typeof v === "string" || typeof v === "number" ? String(v).trim() : "";
}

/** JUnit times are seconds, sometimes written with thousands separators ("1,234.5"). */
function seconds(v: unknown): number {
  const s = Number.parseFloat(text(v).replace(/,/g, ""));
  return Number.isFinite(s) && s > 0 ? Math.round(s * 1000) : 0;
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}
