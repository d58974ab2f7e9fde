import assert from "node:assert/strict";
import { test } from "node:test";
import { decideGate } from "../../src/gateway/gate.js";
import type { JobRow, RunRow } from "../../src/store/runs.js";

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
