// How Airlock finds the GitLab pipelines of its runs: GitLab keeps no link between a trigger and
// the run that sent it, so pipelines are matched by the variables they were triggered with.
import type { GitLabClient, GitLabPipeline } from "./client.js";

/** How far GitLab's clock may be behind ours when looking for a run's pipeline. */
export const CLOCK_SKEW_MS = 5 * 60_000;
/** Pipelines whose variables are read when looking for a run's pipeline (newest first). */
const MAX_CANDIDATES = 20;

/**
 * The pipelines triggered on `ref` and updated after `since`, newest first, with their variables
 * (read for at most MAX_CANDIDATES of them, leaving out those `skip` rules out): how Airlock finds
 * the pipelines of its runs, since GitLab keeps no other link between a trigger and its run.
 */
export async function* triggeredPipelines(
  client: GitLabClient,
  ref: string,
  since: number,
  skip: (p: GitLabPipeline) => boolean = () => false,
): AsyncGenerator<{ pipeline: GitLabPipeline; variables: Record<string, string> }> {
  const candidates = await client.listPipelines({
    ref,
    source: "trigger",
    updatedAfter: new Date(since),
  });
  for (const pipeline of candidates.filter((p) => !skip(p)).slice(0, MAX_CANDIDATES)) {
    yield { pipeline, variables: await client.pipelineVariables(pipeline.id) };
  }
}
