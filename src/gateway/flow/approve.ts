// `/ok-to-test [sha]`: a trusted member approves the PR's head commit, and only that commit.
import type { PrHead } from "../../store/index.js";
import { approveByComment } from "../../trust/approvals.js";
import type { Command } from "../commands.js";
import type { HandlerContext } from "../events.js";
import { decideHead } from "./decide-head.js";
import { currentTrustedLabels } from "./requests.js";
import { reply } from "./status.js";
import { type CommentEvent, type Flow, type Loaded, type PrFacts, short } from "./types.js";

export async function approveByCommand(
  flow: Flow,
  f: PrFacts,
  loaded: Loaded,
  ctx: HandlerContext,
  ev: CommentEvent,
  cmd: Extract<Command, { kind: "ok-to-test" }>,
  key: string,
  head: PrHead,
): Promise<void> {
  const sender = ev.sender.login;
  const created = ev.comment.createdAt;
  const d = approveByComment({
    senderTrusted: true,
    sender,
    ...(cmd.sha !== undefined ? { requestedSha: cmd.sha } : {}),
    head,
    commentCreatedAt: created ? Date.parse(created) : Date.now(),
  });
  if (!d.ok) {
    if (d.reply) await reply(flow, f, ctx, d.reason, key);
    return;
  }
  if (!(await flow.o.approvals.approve(f.repo, f.number, d.sha, sender, "comment"))) {
    await reply(flow, f, ctx, `${short(d.sha)} is no longer the head: approve again.`, key);
    return;
  }
  return decideHead(flow, f, loaded, ctx, {
    trustedLabels: await currentTrustedLabels(flow, f, loaded.base),
  });
}
