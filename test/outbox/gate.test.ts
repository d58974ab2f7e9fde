import assert from "node:assert/strict";
import { test } from "node:test";
import { decideGate } from "../../src/gateway/gate.js";
import type { JobRow, RunRow } from "../../src/store/index.js";

const HEAD = "d".repeat(40);
const OLD = "0".repeat(40);
const ALL = ["aws-infra", "scw-infra", "do-infra"];
let seq = 0;

function runOf(
  id: string,
  opts: { sha?: string; at: number; selection?: unknown; jobs: Record<string, JobRow["state"]> },
) {
  const run: RunRow = {
    id,
    source: "github",
    repo: "acme/app",
    ref: "f",
    sha: opts.sha ?? HEAD,
    pr: 7,
    status: "passed",
    selection: opts.selection === undefined ? null : JSON.stringify(opts.selection),
    authorized_by: "alice",
    created_at: opts.at,
    started_at: null,
    finished_at: null,
    notes: "{}",
  };
  const jobs = Object.entries(opts.jobs).map(
    ([jobId, state]): JobRow => ({
      run_id: id,
      job_id: jobId,
      template: "functional",
      state,
      reason: "",
      needs: "[]",
      secrets: jobId === "lint" ? "[]" : '["s"]',
      restricted: jobId === "lint" ? 0 : 1,
      exit_code: null,
      started_at: null,
      finished_at: null,
      tests_passed: 0,
      tests_failed: 0,
      tests_skipped: 0,
      tests: "[]",
      grants: "{}",
      error: null,
      notes: "[]",
      egress: null,
      seq: ++seq,
    }),
  );
  return { run, jobs };
}

const allPassed = {
  lint: "passed",
  "aws-infra": "passed",
  "scw-infra": "passed",
  "do-infra": "passed",
} as const;

test("green only after an unfiltered run on the current head succeeded", () => {
  const d = decideGate({ headSha: HEAD, runs: [runOf("r1", { at: 1, jobs: { ...allPassed } })] });
  assert.equal(d.state, "success");
  assert.match(d.title, /All 3 required jobs passed/);
});

test("a full green run on an older head does not count", () => {
  const d = decideGate({
    headSha: HEAD,
    runs: [runOf("r1", { sha: OLD, at: 1, jobs: { ...allPassed } })],
  });
  assert.equal(d.state, "pending");
  assert.match(d.summary, new RegExp(HEAD));
});

test("a filtered run never turns the gate green, and names what it left out", () => {
  const d = decideGate({
    headSha: HEAD,
    allRestricted: ALL,
    labelPrefix: "test-",
    runs: [
      runOf("r1", {
        at: 1,
        selection: { labels: ["test-aws-infra"], jobs: ["aws-infra"], tags: [["aws", "infra"]] },
        jobs: { lint: "passed", "aws-infra": "passed" },
      }),
    ],
  });
  assert.equal(d.state, "failure");
  assert.match(d.title, /Partial run: 2 jobs left out/);
  assert.match(d.summary, /Left out: `scw-infra`, `do-infra`/);
  assert.match(d.summary, /`\/test all`/);
  assert.match(d.summary, /test-…/);
});

test("a failed full run fails the gate until /retest passes the failed jobs on the same head", () => {
  const full = runOf("r1", {
    at: 1,
    jobs: { lint: "passed", "aws-infra": "passed", "scw-infra": "failed", "do-infra": "passed" },
  });
  const failing = decideGate({ headSha: HEAD, runs: [full] });
  assert.equal(failing.state, "failure");
  assert.match(failing.summary, /scw-infra \(failed\)/);
  assert.match(failing.summary, /\/retest/);
  const retest = runOf("r2", {
    at: 2,
    selection: { jobs: ["scw-infra"] },
    jobs: { "scw-infra": "passed" },
  });
  assert.equal(decideGate({ headSha: HEAD, runs: [retest, full] }).state, "success");
  // A retest on another head changes nothing.
  const elsewhere = runOf("r3", { sha: OLD, at: 3, jobs: { "scw-infra": "passed" } });
  assert.equal(decideGate({ headSha: HEAD, runs: [full, elsewhere] }).state, "failure");
});

test("running jobs keep the gate pending; the newest full run decides", () => {
  const running = runOf("r1", {
    at: 1,
    jobs: { "aws-infra": "passed", "scw-infra": "running", "do-infra": "pending" },
  });
  const p = decideGate({ headSha: HEAD, runs: [running] });
  assert.equal(p.state, "pending");
  assert.match(p.title, /1 of 3/);
  const older = runOf("r0", { at: 0, jobs: { ...allPassed } });
  const newer = runOf("r2", { at: 5, jobs: { ...allPassed, "aws-infra": "cancelled" } });
  assert.equal(decideGate({ headSha: HEAD, runs: [older, newer] }).state, "failure");
});

test("restricted jobs skipped for want of approval do not pass the gate", () => {
  const r = runOf("r1", {
    at: 1,
    jobs: { lint: "passed", "aws-infra": "skipped", "scw-infra": "skipped", "do-infra": "skipped" },
  });
  assert.notEqual(decideGate({ headSha: HEAD, runs: [r] }).state, "success");
});

test("no conclusion while an attempt is pending: an interrupted run's cancelled jobs wait for their retry", () => {
  const interrupted = runOf("r1", {
    at: 1,
    jobs: { lint: "passed", "aws-infra": "cancelled", "scw-infra": "passed", "do-infra": "passed" },
  });
  const waiting = decideGate({ headSha: HEAD, runs: [interrupted], pending: 1 });
  assert.equal(waiting.state, "pending");
  assert.match(waiting.title, /Waiting for 1 run on d{12}/);
  assert.match(waiting.summary, /So far: 1 of 3 required jobs did not pass/);
  // A green answer waits too: the pending attempt may still change it.
  const green = runOf("r2", { at: 2, jobs: { ...allPassed } });
  assert.equal(decideGate({ headSha: HEAD, runs: [green], pending: 2 }).state, "pending");
  assert.match(decideGate({ headSha: HEAD, runs: [green], pending: 2 }).title, /2 runs/);
  // Once nothing is pending, the runs decide.
  assert.equal(decideGate({ headSha: HEAD, runs: [interrupted], pending: 0 }).state, "failure");
  assert.equal(decideGate({ headSha: HEAD, runs: [green] }).state, "success");
});

test("a selection that covers every restricted job is a full run", () => {
  const all = runOf("r1", {
    at: 1,
    selection: { labels: ["test-all"] },
    jobs: { ...allPassed },
  });
  const d = decideGate({ headSha: HEAD, allRestricted: ALL, runs: [all] });
  assert.equal(d.state, "success", d.title);
  assert.match(d.title, /All 3 required jobs passed/);
  // Its failures count like a full run's, and a partial one after it is a retest.
  const failing = runOf("r1", {
    at: 1,
    selection: { labels: ["test-aws-all", "test-scw-all", "test-do-all"] },
    jobs: { ...allPassed, "do-infra": "failed" },
  });
  assert.equal(decideGate({ headSha: HEAD, allRestricted: ALL, runs: [failing] }).state, "failure");
  const retest = runOf("r2", {
    at: 2,
    selection: { jobs: ["do-infra"] },
    jobs: { "do-infra": "passed" },
  });
  assert.equal(
    decideGate({ headSha: HEAD, allRestricted: ALL, runs: [failing, retest] }).state,
    "success",
  );
  // Without the definition's list, a selection is never taken for a full run.
  assert.equal(decideGate({ headSha: HEAD, runs: [all] }).state, "failure");
});
