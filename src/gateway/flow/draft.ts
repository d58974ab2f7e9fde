// A PR was converted to a draft. A draft runs public jobs only: runs that carry restricted jobs
// stop (a running job is killed; finished public results stand), and the head's decision reports
// the draft's checks.
import { onHead } from "./head.js";
import type { PrEvent, UseCase } from "./types.js";

export const onConvertedToDraft: UseCase<PrEvent> = async (flow, ev, ctx) => {
  const repo = ev.repo.fullName;
  const n = ev.pr.number;
  const why = "the pull request was converted to a draft";
  flow.supervisor.cancel((r) => r.repo === repo && r.pr === n && r.kind !== "public", why);
  ctx.atCompletion((tx) => tx.requests.askToStop(repo, n, why, { restrictedOnly: true }));
  return onHead(flow, ev, ctx);
};
