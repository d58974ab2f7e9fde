import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  GITLAB_STATUSES,
  type GitLabJob,
  jobOutcome,
  mapToSelectedJobs,
  pipelineOutcome,
  pipelinePhase,
} from "../../../src/executors/gitlab/index.js";

const job = (status: string, over: Partial<GitLabJob> = {}): GitLabJob => ({
  id: 1,
  name: "aws-infra",
  stage: "test",
  status,
  allowFailure: false,
  duration: 2,
  failureReason: status === "failed" ? "script_failure" : null,
  webUrl: "https://gitlab.example.com/j/1",
  ...over,
});

describe("GitLab statuses", () => {
  it("classifies every documented pipeline status, and nothing else", () => {
    for (const s of GITLAB_STATUSES) assert.notEqual(pipelinePhase(s), "unknown", s);
    for (const s of ["", "SUCCESS", "succeeded", "blocked", "exploded"])
      assert.equal(pipelinePhase(s), "unknown");
    assert.equal(pipelinePhase("manual"), "final", "manual never finishes by itself");
    assert.equal(pipelinePhase("scheduled"), "active", "a delayed job starts by itself");
    assert.equal(pipelinePhase("canceling"), "active");
    assert.equal(pipelineOutcome("weird", 5).status, "error");
  });

  it("maps every job status to an Airlock outcome", () => {
    const want: Record<string, string> = {
      success: "passed",
      failed: "failed",
      canceled: "cancelled",
      canceling: "cancelled",
      skipped: "skipped",
      manual: "skipped",
      created: "error",
      waiting_for_resource: "error",
      preparing: "error",
      pending: "error",
      running: "error",
      scheduled: "error",
    };
    for (const s of GITLAB_STATUSES) assert.equal(jobOutcome(job(s), "failed").status, want[s], s);
    assert.equal(jobOutcome(job("running"), "canceled").status, "cancelled");
    const unknown = jobOutcome(job("mystery"), "success");
    assert.equal(unknown.status, "error");
    assert.match(unknown.note!, /unknown GitLab job status "mystery"/);
    assert.equal(
      jobOutcome(job("failed", { failureReason: "job_execution_timeout" }), "failed").status,
      "timed_out",
    );
    assert.match(
      jobOutcome(job("failed", { failureReason: "runner_system_failure" }), "failed").note!,
      /runner_system_failure/,
    );
    assert.equal(jobOutcome(job("success", { duration: 1.2345 }), "success").durationMs, 1235);
  });

  it("turns GitLab jobs into one result per selected test", () => {
    const jobs = [
      jobOutcome(job("success"), "failed"),
      jobOutcome(job("failed", { name: "do-managed" }), "failed"),
    ];
    const r = mapToSelectedJobs(["aws-infra", "do-managed", "scw-infra"], jobs, {
      status: "failed",
    });
    assert.deepEqual(Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.status])), {
      "aws-infra": "passed",
      "do-managed": "failed",
      "scw-infra": "failed",
    });
    assert.match(r["scw-infra"]!.error!, /ended before running scw-infra/);
    for (const v of Object.values(r)) assert.deepEqual(v.reports, [], "no GitLab output is copied");
  });
});
