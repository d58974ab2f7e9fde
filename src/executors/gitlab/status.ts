// What each GitLab pipeline and job status means to Airlock, and how a finished pipeline's
// jobs become Airlock job results. An unknown status is never waited on.
import type { JobResult, JobStatus } from "../types.js";
import type { GitLabJob } from "./client.js";

/** Every status GitLab documents for pipelines and jobs. */
export const GITLAB_STATUSES = [
  "created",
  "waiting_for_resource",
  "preparing",
  "pending",
  "running",
  "success",
  "failed",
  "canceled",
  "canceling",
  "skipped",
  "manual",
  "scheduled",
] as const;
export type GitLabStatus = (typeof GITLAB_STATUSES)[number];

export const isGitLabStatus = (s: string): s is GitLabStatus =>
  (GITLAB_STATUSES as readonly string[]).includes(s);

/**
 * "active": GitLab will move on by itself, so keep polling (`scheduled` is a delayed job that
 * starts on its own; `canceling` ends in `canceled`).
 * "final": nothing more will happen without a person (`manual` blocks until someone plays it).
 */
export function pipelinePhase(status: string): "active" | "final" | "unknown" {
  switch (status) {
    case "created":
    case "waiting_for_resource":
    case "preparing":
    case "pending":
    case "running":
    case "scheduled":
    case "canceling":
      return "active";
    case "success":
    case "failed":
    case "canceled":
    case "skipped":
    case "manual":
      return "final";
    default:
      return "unknown";
  }
}

/** The run's overall outcome for a pipeline that reached a final status. */
export function pipelineOutcome(
  status: string,
  pipelineId: number,
): { status: JobStatus; error?: string } {
  switch (status) {
    case "success":
      return { status: "passed" };
    case "failed":
      return { status: "failed" };
    case "canceled":
      return { status: "cancelled", error: `GitLab pipeline ${pipelineId} was cancelled` };
    case "skipped":
      return {
        status: "error",
        error: `GitLab skipped pipeline ${pipelineId} entirely: no job matched its rules`,
      };
    case "manual":
      return {
        status: "error",
        error: `GitLab pipeline ${pipelineId} is blocked on a manual job: Airlock does not play manual jobs`,
      };
    default:
      return {
        status: "error",
        error: `GitLab pipeline ${pipelineId} ended in status ${JSON.stringify(status)}`,
      };
  }
}

/** One GitLab job as Airlock reports it (private: web URLs point into the private project). */
export interface PipelineJobResult {
  gitlabId: number;
  name: string;
  stage: string;
  gitlabStatus: string;
  /** "skipped" for jobs GitLab skipped or left as manual. */
  status: JobStatus | "skipped";
  allowFailure: boolean;
  durationMs: number | null;
  /** Built by Airlock from status and failure_reason; never job output. */
  note?: string;
  webUrl: string;
}

/** Maps one GitLab job of a pipeline whose own status is `pipelineStatus`. */
export function jobOutcome(job: GitLabJob, pipelineStatus: string): PipelineJobResult {
  const base = {
    gitlabId: job.id,
    name: job.name,
    stage: job.stage,
    gitlabStatus: job.status,
    allowFailure: job.allowFailure,
    durationMs: job.duration === null ? null : Math.round(job.duration * 1000),
    webUrl: job.webUrl,
  };
  switch (job.status) {
    case "success":
      return { ...base, status: "passed" };
    case "failed":
      if (
        job.failureReason === "job_execution_timeout" ||
        job.failureReason === "stuck_or_timeout_failure"
      ) {
        return { ...base, status: "timed_out", note: `timed out on GitLab (${job.failureReason})` };
      }
      return {
        ...base,
        status: "failed",
        ...(job.failureReason && job.failureReason !== "script_failure"
          ? { note: `failed on GitLab: ${job.failureReason}` }
          : {}),
        ...(job.allowFailure ? { note: "failed (allowed to fail)" } : {}),
      };
    case "canceled":
    case "canceling":
      return { ...base, status: "cancelled" };
    case "skipped":
      return { ...base, status: "skipped", note: "skipped by GitLab" };
    case "manual":
      return { ...base, status: "skipped", note: "manual job, not played" };
    default:
      if (isGitLabStatus(job.status)) {
        // Still waiting or running although the pipeline ended (or we stopped following it).
        return pipelineStatus === "canceled"
          ? { ...base, status: "cancelled" }
          : { ...base, status: "error", note: `left in status ${job.status}` };
      }
      return {
        ...base,
        status: "error",
        note: `unknown GitLab job status ${JSON.stringify(job.status)}`,
      };
  }
}

/**
 * One JobResult per selected test (Airlock job id), from the GitLab job of the same name.
 * A selected test without a GitLab job is an error: the pipeline did not run it.
 */
export function mapToSelectedJobs(
  tests: string[],
  jobs: PipelineJobResult[],
  fallback: { status: JobStatus; error?: string },
): Record<string, JobResult> {
  const out: Record<string, JobResult> = {};
  for (const id of tests) {
    const j = jobs.find((x) => x.name === id);
    if (!j) {
      out[id] = {
        status: fallback.status === "passed" ? "error" : fallback.status,
        exitCode: null,
        durationMs: 0,
        reports: [],
        error:
          fallback.status === "passed"
            ? `the GitLab pipeline has no job named ${id}`
            : (fallback.error ?? `the GitLab pipeline ended before running ${id}`),
      };
      continue;
    }
    const status: JobStatus = j.status === "skipped" ? "cancelled" : j.status;
    out[id] = {
      status,
      exitCode: status === "passed" ? 0 : null,
      durationMs: j.durationMs ?? 0,
      reports: [],
      ...(j.note
        ? { error: j.note }
        : status !== "passed" && status !== "failed"
          ? { error: `GitLab job status ${j.gitlabStatus}` }
          : {}),
    };
  }
  return out;
}
