// What a run's restricted part reports when its GitLab pipeline ends: finished on its own,
// stopped by Airlock (cancelled, timed out, lost track of), or left running at shutdown.
import type { JobStatus } from "../types.js";
import type { GitLabClient, GitLabPipeline } from "./client.js";
import type { RestrictedRunRequest, RestrictedRunResult } from "./pipeline.js";
import {
  jobOutcome,
  mapToSelectedJobs,
  type PipelineJobResult,
  pipelineOutcome,
} from "./status.js";

type Ended = Omit<RestrictedRunResult, "durationMs">;

/** The result of a pipeline that reached a final status, with each selected test's outcome. */
export async function finishedResult(
  client: GitLabClient,
  req: RestrictedRunRequest,
  pipeline: GitLabPipeline,
): Promise<Ended> {
  const outcome = pipelineOutcome(pipeline.status, pipeline.id);
  let gitlabJobs: PipelineJobResult[] = [];
  let error = outcome.error;
  try {
    const jobs = await client.listPipelineJobs(pipeline.id, req.signal);
    gitlabJobs = jobs.map((j) => jobOutcome(j, pipeline.status));
  } catch (e) {
    error = `GitLab pipeline ${pipeline.id} ended (${pipeline.status}) but its jobs could not be listed: ${messageOf(e)}`;
  }
  const jobs = mapToSelectedJobs(req.tests, gitlabJobs, outcome);
  // A green pipeline that did not run every selected test is not a pass.
  const status: JobStatus =
    outcome.status === "passed" && Object.values(jobs).some((j) => j.status !== "passed")
      ? "failed"
      : outcome.status === "passed" && error
        ? "error"
        : outcome.status;
  return {
    pipeline: { id: pipeline.id, webUrl: pipeline.webUrl, status: pipeline.status },
    status,
    jobs,
    gitlabJobs,
    ...(error
      ? { error }
      : status !== outcome.status
        ? { error: "the pipeline passed but not every selected test passed" }
        : {}),
  };
}

/**
 * Airlock is shutting down: the pipeline runs elsewhere and holds no Airlock process, so it is
 * left running (cancelling it would throw away a secret-bearing run that a restart can adopt).
 */
export function detachedResult(req: RestrictedRunRequest, pipeline: GitLabPipeline): Ended {
  const error = `Airlock shut down while GitLab pipeline ${pipeline.id} was ${pipeline.status}: the pipeline was left running, and the run's next attempt follows it`;
  return {
    pipeline: { id: pipeline.id, webUrl: pipeline.webUrl, status: pipeline.status },
    status: "cancelled",
    jobs: mapToSelectedJobs(req.tests, [], { status: "cancelled", error }),
    gitlabJobs: [],
    error,
    detached: true,
  };
}

/** Cancels the pipeline (best effort, never blocked by the run's own abort) and reports. */
export async function stoppedResult(
  client: GitLabClient,
  req: RestrictedRunRequest,
  pipeline: GitLabPipeline,
  status: JobStatus,
  error: string,
): Promise<Ended> {
  let finalStatus = pipeline.status;
  let note = "";
  try {
    finalStatus = (await client.cancelPipeline(pipeline.id)).status;
  } catch (e) {
    note = `; cancelling it failed: ${messageOf(e)}`;
  }
  let gitlabJobs: PipelineJobResult[] = [];
  try {
    gitlabJobs = (await client.listPipelineJobs(pipeline.id)).map((j) => jobOutcome(j, "canceled"));
  } catch {
    // The pipeline is stopped either way; per-job detail is a nicety here.
  }
  const jobs = mapToSelectedJobs(req.tests, [], { status, error });
  for (const j of gitlabJobs) {
    const mine = jobs[j.name];
    if (mine && (j.status === "passed" || j.status === "failed")) {
      jobs[j.name] = {
        status: j.status,
        exitCode: j.status === "passed" ? 0 : null,
        durationMs: j.durationMs ?? 0,
        reports: [],
      };
    }
  }
  return {
    pipeline: { id: pipeline.id, webUrl: pipeline.webUrl, status: finalStatus },
    status,
    jobs,
    gitlabJobs,
    error: error + note,
  };
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
