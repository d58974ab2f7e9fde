// A PR was closed: its runs stop, its approvals are void (reopening asks for a new one), it leaves
// the approval inbox, its gate ends, and its mirror branch goes.
import { deleteMirrorOf } from "./mirror.js";
import { cancelPr } from "./requests.js";
import { CLOSED } from "./status.js";
import type { PrEvent, UseCase } from "./types.js";
import { endWaits } from "./waits.js";

export const onClosed: UseCase<PrEvent> = async (flow, ev, ctx) => {
  const repo = ev.repo.fullName;
  const n = ev.pr.number;
  cancelPr(flow, repo, n, ctx, "the pull request was closed");
  await flow.o.approvals.voidAll(repo, n, "the pull request was closed");
  endWaits({ repo, number: n }, ctx);
  await flow.reporter.gateEnded(repo, ev.installationId!, ev.pr.headSha, CLOSED);
  await deleteMirrorOf(flow, ev, ctx);
};
