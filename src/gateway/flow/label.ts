// A label was added to or removed from a PR. Only a trusted sender's labels count: the approval
// label approves the head it was added to; test labels change which restricted jobs run.
import { APPROVE_LABEL, approveByLabel } from "../../trust/approvals.js";
import { testLabels } from "../decide.js";
import { authorize, senderTrust } from "./authorize.js";
import { decideHead } from "./decide-head.js";
import { facts } from "./facts.js";
import { load } from "./load.js";
import {
  checkSelection,
  currentTrustedLabels,
  publicDone,
  request,
  runsRestricted,
  selectionUnder,
} from "./requests.js";
import { reply, reportGate } from "./status.js";
import type { PrEvent, UseCase } from "./types.js";

export const onLabel: UseCase<PrEvent> = async (flow, ev, ctx) => {
  const repo = ev.repo.fullName;
  const n = ev.pr.number;
  const label = ev.label ?? "";
  if (ev.action === "unlabeled") {
    ctx.atCompletion((tx) => tx.labels.remove(repo, n, label));
  }
  const f = await facts(flow, repo, ev.installationId!, n);
  if (!f.open) return;
  const loaded = await load(flow, f);
  if (!loaded) return;
  const verdict = await senderTrust(flow, f, loaded, ev.sender);
  const isTest = testLabels(loaded.base, [label]).length > 0;
  if (!verdict.trusted) {
    // A label only counts when its sender is trusted: this one changes nothing.
    flow.o.log?.info(
      { delivery: ctx.deliveryId, repo, pr: n, sender: ev.sender.login },
      "label from an untrusted sender ignored",
    );
    return;
  }
  const head = await flow.o.approvals.head(repo, n);
  if (!head || head.sha !== f.headSha) {
    // Airlock has not seen this head yet; its pull_request event will decide.
    return;
  }
  if (ev.action === "labeled" && label === APPROVE_LABEL) {
    const d = approveByLabel({
      senderTrusted: true,
      sender: ev.sender.login,
      labeledSha: ev.pr.headSha,
      head: { sha: head.sha, seenAt: head.seenAt },
    });
    if (!d.ok) {
      if (d.reply) await reply(flow, f, ctx, d.reason);
      return;
    }
    await flow.o.approvals.approve(repo, n, d.sha, ev.sender.login, "label");
    return decideHead(flow, f, loaded, ctx, {
      trustedLabels: await currentTrustedLabels(flow, f, loaded.base),
    });
  }
  if (!isTest) return;
  // A trusted sender changed the test selection: run the restricted jobs it now selects.
  const labels =
    ev.action === "labeled"
      ? [...new Set([...(await currentTrustedLabels(flow, f, loaded.base)), label])]
      : (await currentTrustedLabels(flow, f, loaded.base)).filter((l) => l !== label);
  if (ev.action === "labeled") {
    ctx.atCompletion((tx) => tx.labels.add(repo, n, label, ev.sender.login));
  }
  const auth = await authorize(flow, f, loaded);
  const selection = labels.length > 0 ? { labels } : null;
  if (!runsRestricted(auth) || loaded.restricted.length === 0) {
    await reportGate(flow, f, loaded);
    return;
  }
  if (!checkSelection(flow, f, loaded, selection, ctx)) return;
  const kind = (await publicDone(flow, f)) ? "restricted" : "full";
  request(flow, f, ctx, kind, selectionUnder(auth, selection), ev.sender.login);
  await reportGate(flow, f, loaded);
};
