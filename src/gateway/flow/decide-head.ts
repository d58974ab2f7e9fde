// The automatic decision for a PR's head: public jobs once for everyone, restricted jobs once the
// commit is authorized; the approval and gate checks say where things stand.
import type { HandlerContext } from "../events.js";
import { authorize } from "./authorize.js";
import {
  checkSelection,
  liveRequests,
  request,
  runsRestricted,
  selectionUnder,
} from "./requests.js";
import { reportApproval, reportGate } from "./status.js";
import type { Flow, Loaded, PrFacts } from "./types.js";
import { noteWait } from "./waits.js";

export async function decideHead(
  flow: Flow,
  f: PrFacts,
  loaded: Loaded,
  ctx: HandlerContext,
  o: { voidedSha?: string | undefined; trustedLabels: string[] },
): Promise<void> {
  const auth = await authorize(flow, f, loaded);
  const existing = await liveRequests(flow, f);
  const publicDone = existing.some((r) => r.kind === "public" || r.kind === "full");
  // A run under a bot's scope ran part of the restricted jobs: an approval still runs them all.
  const restricted = existing.filter((r) => r.kind === "full" || r.kind === "restricted");
  const restrictedDone = restricted.some((r) => !r.selection?.scope);
  const scopedDone = restricted.length > 0;
  const hasRestricted = loaded.restricted.length > 0;
  const selection = o.trustedLabels.length > 0 ? { labels: o.trustedLabels } : null;

  let queued: string | undefined;
  if (
    hasRestricted &&
    runsRestricted(auth) &&
    !restrictedDone &&
    (auth.authorized || !scopedDone)
  ) {
    if (checkSelection(flow, f, loaded, selection, ctx)) {
      const kind = publicDone ? "restricted" : "full";
      const by = auth.by ?? auth.scoped?.bot ?? "";
      queued = request(flow, f, ctx, kind, selectionUnder(auth, selection), by);
    } else if (!publicDone) {
      queued = request(flow, f, ctx, "public", null, f.author.login);
    }
  } else if (!publicDone) {
    queued = request(flow, f, ctx, hasRestricted ? "public" : "full", null, f.author.login);
  }
  const view = await reportApproval(flow, f, loaded, auth, {
    runId: queued ?? existing.at(-1)?.id,
    voidedSha: o.voidedSha,
  });
  await noteWait(flow, f, loaded, view, ctx);
  await reportGate(flow, f, loaded);
}
