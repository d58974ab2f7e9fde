import assert from "node:assert/strict";
import { test } from "node:test";
import {
  block,
  code,
  fitOutput,
  OUTPUT_MAX_CHARS,
  renderGateCheck,
  renderJobCheck,
} from "../../src/gateway/checks.js";
import type { JobRow, RunRow } from "../../src/store/index.js";

const HEAD = "c".repeat(40);
const run: RunRow = {
  id: "r-1",
  source: "github",
  repo: "acme/app",
  ref: "feature",
  sha: HEAD,
  pr: 7,
  status: "failed",
  selection: null,
  authorized_by: "alice",
  created_at: 1_000,
  started_at: 1_000,
  finished_at: 200_000,
  notes: "{}",
};

function job(over: Partial<JobRow> = {}): JobRow {
  return {
    run_id: "r-1",
    job_id: "functional-aws-infra",
    template: "functional",
    state: "failed",
    reason: "",
    needs: "[]",
    secrets: '["functional-tests"]',
    restricted: 1,
    exit_code: 1,
    started_at: 10_000,
    finished_at: 10_000 + 192_000,
    tests_passed: 1,
    tests_failed: 1,
    tests_skipped: 0,
    tests: JSON.stringify([
      { suite: "dns", name: "creates a record", status: "passed", durationMs: 1200 },
      {
        suite: "dns",
        name: "deletes ![x](https://evil.example/p.png) @everyone",
        status: "failed",
        durationMs: 300,
        message: "expected 200, got 403 for token [redacted:AWS_KEY]\n```\n# heading",
      },
    ]),
    grants: "{}",
    error: "sandbox said: line with AKIA-looking log text",
    notes: "[]",
    egress: null,
    seq: 1,
    ...over,
  };
}

test("a finished job's check carries status, duration, counts and redacted test results", () => {
  const c = renderJobCheck(run, job(), { publicUrl: "https://airlock.example.org/" });
  assert.equal(c.name, "airlock/functional-aws-infra");
  assert.equal(c.head_sha, HEAD);
  assert.equal(c.status, "completed");
  assert.equal(c.conclusion, "failure");
  assert.equal(c.details_url, "https://airlock.example.org/runs/r-1#job-functional-aws-infra");
  assert.equal(c.output?.title, "Failed in 3m 12s — 1 passed, 1 failed, 0 skipped");
  assert.match(c.output!.summary, /restricted \(uses secrets\)/);
  assert.match(c.output!.text!, /Failed tests \(1\)/);
  assert.match(c.output!.text!, /\[redacted:AWS_KEY\]/);
  assert.match(c.output!.text!, /creates a record/);
  assert.equal(c.completed_at, new Date(202_000).toISOString());
});

test("a restricted job's check names the companion suite it ran against; a public job's does not", () => {
  const withSuite = {
    ...run,
    notes: JSON.stringify({ suite: { ref: "feature/x", sha: "ab".repeat(20) } }),
  };
  assert.match(
    renderJobCheck(withSuite, job()).output!.summary,
    /\*\*Suite:\*\* ` feature\/x ` at ` abababababab `/,
  );
  assert.doesNotMatch(renderJobCheck(withSuite, job({ restricted: 0 })).output!.summary, /Suite/);
  assert.doesNotMatch(renderJobCheck(run, job()).output!.summary, /Suite/);
});

test("never log lines: the executor error is not shown", () => {
  const c = renderJobCheck(run, job({ state: "error" }));
  const all = `${c.output?.title}${c.output?.summary}${c.output?.text}`;
  assert.doesNotMatch(all, /sandbox said|AKIA/);
  assert.match(c.output!.summary, /could not run this job/);
});

test("Airlock's closing notes (a limit that ended the job, a truncated log) are in the summary", () => {
  const notes = [
    "killed: out of memory (limit 2 GiB)",
    "log truncated at 100 MiB: 12 bytes not kept",
  ];
  const c = renderJobCheck(run, job({ notes: JSON.stringify(notes) }));
  assert.match(
    c.output!.summary,
    /\*\*Airlock:\*\*\n- killed: out of memory \(limit 2 GiB\)\n- log truncated at 100 MiB: 12 bytes not kept/,
  );
  assert.doesNotMatch(renderJobCheck(run, job()).output!.summary, /Airlock:/);
});

test("untrusted test names and messages cannot render markdown, links or mentions", () => {
  const c = renderJobCheck(run, job());
  const text = c.output!.text!;
  // The name sits in a code span, the message in a fence longer than any backtick run inside.
  assert.match(text, /` dns › deletes !\[x\]\(https:\/\/evil\.example\/p\.png\) @everyone `/);
  assert.match(text, /````text\nexpected 200[\s\S]*```\n# heading\n````/);
  assert.equal(code("a`b``c"), "``` a`b``c ```");
  assert.equal(code("two\nlines"), "` two lines `");
  assert.equal(block("x"), "```text\nx\n```");
});

test("the redactor is applied once more to names and messages", () => {
  const c = renderJobCheck(run, job(), { redact: (s) => s.replaceAll("403", "[redacted:N]") });
  assert.doesNotMatch(c.output!.text!, /403/);
});

test("output stays within GitHub's limit however many tests there are", () => {
  const many = Array.from({ length: 5000 }, (_, i) => ({
    suite: "s",
    name: `test number ${i} ${"x".repeat(40)}`,
    status: "failed",
    durationMs: 1,
    message: "m".repeat(500),
  }));
  const c = renderJobCheck(run, job({ tests: JSON.stringify(many), tests_failed: 5000 }), {
    publicUrl: "https://a.example",
  });
  assert.ok(c.output!.text!.length <= OUTPUT_MAX_CHARS);
  assert.match(
    c.output!.text!,
    /cut to fit GitHub's limit\. The full results are on the \[private run page\]/,
  );
  const fences = c.output!.text!.match(/^`{3,}/gm) ?? [];
  assert.equal(fences.length % 2, 0, "no code fence left open");
  assert.equal(fitOutput("short", "x"), "short");
});

test("queued and running jobs are shown as such", () => {
  assert.equal(renderJobCheck(run, job({ state: "pending" })).status, "queued");
  const r = renderJobCheck(run, job({ state: "running", finished_at: null }));
  assert.equal(r.status, "in_progress");
  assert.equal(r.started_at, new Date(10_000).toISOString());
  assert.equal(r.conclusion, undefined);
  assert.equal(renderJobCheck(run, job({ state: "timed_out" })).conclusion, "timed_out");
  assert.equal(renderJobCheck(run, job({ state: "passed" })).conclusion, "success");
});

test("the gate check is in progress while pending and fails unless the gate is green", () => {
  const g = (state: "pending" | "success" | "failure") =>
    renderGateCheck(HEAD, { state, title: "t", summary: "s" });
  assert.equal(g("pending").status, "in_progress");
  assert.equal(g("pending").conclusion, undefined);
  assert.equal(g("success").conclusion, "success");
  assert.equal(g("failure").conclusion, "failure");
  assert.equal(g("success").name, "airlock/all-tests");
});
