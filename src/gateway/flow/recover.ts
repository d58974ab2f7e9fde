// A request a dead process left running. A run that finished is reported again; an interrupted
// one (recorded as an error at start-up) is requested again as a new run, up to maxAttempts, so
// that every run reaches a final state and every check its final conclusion.
import { newRequestId, type RunRequestRow } from "../../store/index.js";
import { factsOfRequest } from "./facts.js";
import { load } from "./load.js";
import { reportGate } from "./status.js";
import type { Flow } from "./types.js";

const FINAL_RUN = new Set(["passed", "failed", "cancelled", "error"]);

export async function recover(flow: Flow, req: RunRequestRow): Promise<void> {
  const { o } = flow;
  const run = await o.runs.get(req.id);
  const finished = run && FINAL_RUN.has(run.status) && !flow.interrupted.has(run.id);
  const head = await o.approvals.head(req.repo, req.pr);
  const current = head?.sha === req.headSha;
  if (req.stopReason && !finished) {
    // Asked to stop (/cancel, a closed PR) while its gateway died: it is not taken up again.
    if (run) await flow.reporter.jobs(req.repo, req.installationId, run.id);
    await o.requests.finish(req.id, "cancelled", req.stopReason);
  } else if (
    finished ||
    !current ||
    (await o.requests.attemptsSpent(req)) >= (o.maxAttempts ?? 3)
  ) {
    if (run) await flow.reporter.jobs(req.repo, req.installationId, run.id);
    await o.requests.finish(req.id, "done", finished ? undefined : "interrupted");
  } else {
    await o.requests.requeue(req, newRequestId());
  }
  if (current) await gateOfRequest(flow, req);
}

/**
 * The gate of a request's commit, after the request was settled outside a run's own end (taken up
 * again, or given up): a queued retry keeps it pending, a request given up lets it conclude.
 */
export async function gateOfRequest(flow: Flow, req: RunRequestRow): Promise<void> {
  const f = factsOfRequest(req);
  const loaded = await load(flow, f).catch(() => undefined);
  if (loaded) await reportGate(flow, f, loaded);
}
