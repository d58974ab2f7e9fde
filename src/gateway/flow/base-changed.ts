// A PR's base branch changed (`edited` with a base change; other edits are not acted on). A new
// base means new trusted definitions: approvals and runs of the old comparison no longer count.
import { onHead } from "./head.js";
import { cancelPr } from "./requests.js";
import type { PrEvent, UseCase } from "./types.js";

export const onBaseChanged: UseCase<PrEvent> = async (flow, ev, ctx) => {
  const repo = ev.repo.fullName;
  const n = ev.pr.number;
  await flow.o.approvals.voidAll(repo, n, "the base branch changed");
  cancelPr(flow, repo, n, ctx, "the base branch changed");
  // Completed before the head's decision reports it pending: GitHub keeps a completed check's
  // conclusion, and a green gate must not outlive the base it was earned on.
  await flow.reporter.gateEnded(repo, ev.installationId!, ev.pr.headSha, {
    title: "The base branch changed",
    summary: `Runs against the old base do not count: the gate waits for a full run of ${ev.pr.headSha} against the new base's definition.`,
  });
  return onHead(flow, ev, ctx);
};
