// A request a dead process left running. A run that finished is reported again; an interrupted
// one is recorded as such and requested again as a new attempt. Its gateway dying is the
// infrastructure's failure, not the run's: it spends none of the request's attempts (maxAttempts,
// for executions that fail), but a run whose gateway died under it maxLost times in a row is given
// up, its unfinished jobs failing with that reason, so that a job that brings its gateway down
// cannot loop for ever. Every way out settles the request in the transaction that reports its
// gate, so that every run reaches a final state and every check its final conclusion.
import { newRequestId, type RunRequestRow } from "../../store/index.js";
import { factsOfRequest } from "./facts.js";
import { load } from "./load.js";
import { reportGate, type Settle } from "./status.js";
import type { Flow } from "./types.js";

const FINAL_RUN = new Set(["passed", "failed", "cancelled", "error"]);

/** Times a request is taken up again after its gateway died under it, by default. */
export const DEFAULT_MAX_LOST = 5;

/** Why the unfinished jobs of a run given up after its gateway died `times` times fail. */
export const gaveUpAfter = (times: number) =>
  `Interrupted: the gateway running it stopped ${times} times (${times} attempts), so Airlock gave up. The job itself did not fail: comment /retest to run it again.`;

export async function recover(flow: Flow, req: RunRequestRow): Promise<void> {
  const { o } = flow;
  const run = await o.runs.get(req.id);
  // Still queued or running, it died with its gateway ("interrupted": an earlier takeover recorded
  // it so and died too); no run at all, it died before starting one.
  const finished = run !== undefined && FINAL_RUN.has(run.status);
  const head = await o.approvals.head(req.repo, req.pr);
  const current = head?.sha === req.headSha;
  const lost = finished ? 0 : (await o.requests.attemptsLost(req)) + 1;
  let settle: Settle;
  if (req.stopReason && !finished) {
    // Asked to stop (/cancel, a closed PR) while its gateway died: it is not taken up again.
    await o.runs.markInterrupted([req.id]);
    settle = (tx) => tx.requests.finish(req.id, "cancelled", req.stopReason!);
  } else if (finished || !current) {
    await o.runs.markInterrupted([req.id]);
    settle = (tx) => tx.requests.finish(req.id, "done", finished ? undefined : "interrupted");
  } else if (lost >= (o.maxLost ?? DEFAULT_MAX_LOST)) {
    const why = gaveUpAfter(lost);
    await o.runs.markInterrupted([req.id], why);
    settle = (tx) => tx.requests.finish(req.id, "done", why);
  } else {
    await o.runs.markInterrupted([req.id]);
    const why = "interrupted: the gateway running it stopped";
    settle = (tx) => tx.requests.requeue(req, newRequestId(), Date.now(), why, "lost");
  }
  // The interrupted jobs' checks end now (cancelled; a next attempt's run reports its own).
  if (run) await flow.reporter.jobs(req.repo, req.installationId, run.id);
  if (current) await gateOfRequest(flow, req, settle);
  else await o.store.transaction(settle);
}

/**
 * Settles a request outside its run's own end (taken up again, or given up) in the transaction
 * that reports the gate of its commit: a queued retry keeps it pending, a request given up lets
 * it conclude. Without the base's definition (the forge failing), the request is settled alone.
 */
export async function gateOfRequest(flow: Flow, req: RunRequestRow, settle: Settle): Promise<void> {
  const f = factsOfRequest(req);
  const loaded = await load(flow, f).catch(() => undefined);
  await flow.o.store.transaction(async (tx) => {
    await settle(tx);
    if (loaded) await reportGate(flow, f, loaded, tx);
  });
}
