// Cancels the GitLab pipelines of a run that no attempt follows any more (a run cancelled or
// superseded while Airlock was restarting, or while its retry had not yet adopted the pipeline).
// They are found the way the executor finds a run's pipeline: triggered pipelines on the ref,
// matched by AIRLOCK_RUN_ID. A pipeline that already ended is left alone.
import type { GitLabClient } from "./client.js";
import { CLOCK_SKEW_MS, triggeredPipelines } from "./lookup.js";
import { pipelinePhase } from "./status.js";
import { GITLAB_VARIABLES as V } from "./variables.js";

export interface AbandonedPipeline {
  id: number;
  webUrl: string;
  /** The run (attempt) that triggered it. */
  runId: string;
  /** Its status when found, or the one GitLab answered to the cancel. */
  status: string;
  /** cancelled: Airlock cancelled it now; ended: it had finished or was being cancelled already. */
  outcome: "cancelled" | "ended";
}

/** Raised when a pipeline was found but could not be cancelled. */
export class PipelineCancelError extends Error {
  constructor(
    readonly pipelineId: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Cancels every pipeline on `refs` that one of `runIds` triggered and that is still active.
 * `requestedAt` is when the run was first requested: no older pipeline is one of its own.
 */
export async function cancelAbandonedPipelines(o: {
  client: GitLabClient;
  refs: string[];
  runIds: string[];
  requestedAt: number;
}): Promise<AbandonedPipeline[]> {
  const out: AbandonedPipeline[] = [];
  for (const ref of new Set(o.refs)) {
    for await (const { pipeline: p, variables } of triggeredPipelines(
      o.client,
      ref,
      o.requestedAt - CLOCK_SKEW_MS,
    )) {
      const runId = variables[V.runId] ?? "";
      if (!o.runIds.includes(runId)) continue;
      const found = { id: p.id, webUrl: p.webUrl, runId };
      if (pipelinePhase(p.status) === "final" || p.status === "canceling") {
        out.push({ ...found, status: p.status, outcome: "ended" });
        continue;
      }
      try {
        const after = await o.client.cancelPipeline(p.id);
        out.push({ ...found, status: after.status, outcome: "cancelled" });
      } catch (e) {
        throw new PipelineCancelError(
          p.id,
          `cancelling GitLab pipeline ${p.id} (${p.status}) failed: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    }
  }
  return out;
}
