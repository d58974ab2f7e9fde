// A PR was opened, reopened, pushed to or made ready for review (and, after their own steps, made
// a draft or given a new base): Airlock records its head, voiding approvals of any other commit,
// and decides what runs on it.
//
// Who pushed the head is recorded only from an event that proves it (docs/security.md, "Who
// pushed a commit"): `synchronize` is GitHub's report of a push to the head branch, sent by the
// pusher; `opened` is sent by the author who proposed that exact head. Every other action (a
// reopen, ready for review, a new base, a label) is sent by whoever clicked, who may never have
// seen a commit pushed meanwhile: it proves nothing about the head, and neither does a late
// delivery or the order deliveries arrive in.
import { APPROVE_LABEL } from "../../trust/approvals.js";
import { testLabels } from "../decide.js";
import { superseded } from "../report.js";
import { senderTrust } from "./authorize.js";
import { decideHead } from "./decide-head.js";
import { facts } from "./facts.js";
import { load } from "./load.js";
import { currentTrustedLabels, stopHere, stopStored } from "./requests.js";
import { type PrEvent, short, type UseCase } from "./types.js";

/** The actions whose sender pushed, or proposed, exactly the head the event names. */
const PUSH_EVIDENCE = new Set<PrEvent["action"]>(["opened", "synchronize"]);

export const onHead: UseCase<PrEvent> = async (flow, ev, ctx) => {
  const repo = ev.repo.fullName;
  const inst = ev.installationId!;
  const n = ev.pr.number;
  const f = await facts(flow, repo, inst, n);
  // The event may be old: the API says where the PR is now, and only that head is acted on.
  if (!f.open || f.headSha !== ev.pr.headSha) {
    flow.o.log?.info({ delivery: ctx.deliveryId, repo, pr: n }, "stale pull_request event");
    return;
  }
  // GitHub's time of the change, on the clock of comments' created_at (bare /ok-to-test).
  const at = ev.pr.updatedAt ? Date.parse(ev.pr.updatedAt) : Number.NaN;
  const why = `superseded by ${short(f.headSha)}`;
  // The new head, the end of the old head's gate, the stop of its runs and the label's removal
  // commit together: a gateway dying in between leaves none of them, and the event, taken up
  // again, finds the head still to move (a head recorded alone left the old gate in progress).
  const moved = await flow.o.store.transaction(async (tx) => {
    const m = await tx.approvals.setHead(
      repo,
      n,
      f.headSha,
      PUSH_EVIDENCE.has(ev.action) ? ev.sender.login : null,
      Number.isFinite(at) ? at : undefined,
    );
    if (m.changed && m.previous) {
      await stopStored(tx, repo, n, why, f.headSha);
      await flow.reporter.gateEnded(repo, inst, m.previous, superseded(f.headSha), tx);
      if (f.labels.includes(APPROVE_LABEL)) {
        // The label approved the old head; a trusted member adds it again for this one.
        const key = `${ctx.deliveryId}:label`;
        await flow.o.outbox.removeLabel(repo, inst, n, APPROVE_LABEL, key, tx);
      }
    }
    return m;
  });
  if (moved.changed && moved.previous) stopHere(flow, repo, n, why, f.headSha);
  const loaded = await load(flow, f);
  if (!loaded) return;
  if (ev.action === "opened") {
    // Labels given at creation were set by whoever opened the PR.
    const senderTrusted = (await senderTrust(flow, f, loaded, ev.sender)).trusted;
    const labels = testLabels(loaded.base, f.labels);
    if (senderTrusted && labels.length > 0) {
      ctx.atCompletion(async (tx) => {
        for (const l of labels) await tx.labels.add(repo, n, l, ev.sender.login);
      });
    }
  }
  await decideHead(flow, f, loaded, ctx, {
    voidedSha: moved.voided > 0 ? moved.previous : undefined,
    trustedLabels: await currentTrustedLabels(
      flow,
      f,
      loaded.base,
      ev.action === "opened" ? f.labels : [],
    ),
  });
};
