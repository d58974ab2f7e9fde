// A new comment on a PR: the commands in it (`/ok-to-test`, `/test`, `/retest`, `/cancel`,
// `/mirror`) are carried out when its author is trusted, each on the PR's current head.
import type { PrHead } from "../../store/index.js";
import { type Command, parseComment } from "../commands.js";
import { testSelection } from "../decide.js";
import type { HandlerContext } from "../events.js";
import { approveByCommand } from "./approve.js";
import { senderTrust } from "./authorize.js";
import { facts } from "./facts.js";
import { load } from "./load.js";
import { mirror } from "./mirror.js";
import { failedJobs, runOnDemand } from "./on-demand.js";
import { cancelPr } from "./requests.js";
import { reply, reportGate } from "./status.js";
import {
  type CommentEvent,
  type Flow,
  type Loaded,
  type PrFacts,
  short,
  type UseCase,
} from "./types.js";

export const onComment: UseCase<CommentEvent> = async (flow, ev, ctx) => {
  const { commands, problems } = parseComment(ev.comment.body);
  if (commands.length === 0 && problems.length === 0) return;
  const repo = ev.repo.fullName;
  const f = await facts(flow, repo, ev.installationId!, ev.prNumber);
  if (!f.open) return;
  const loaded = await load(flow, f);
  if (!loaded) return;
  const verdict = await senderTrust(flow, f, loaded, ev.sender);
  if (!verdict.trusted) {
    // Commands from untrusted commenters are ignored, silently: a reply would invite spam.
    flow.o.log?.info(
      { delivery: ctx.deliveryId, repo, pr: f.number, sender: ev.sender.login },
      "command from an untrusted commenter ignored",
    );
    return;
  }
  if (problems.length > 0) await reply(flow, f, ctx, problems.join("\n\n"), "problems");
  let head = await flow.o.approvals.head(repo, f.number);
  if (!head) {
    // First sight of this PR (Airlock was installed after it was opened, or its events were
    // lost): nothing says who pushed the head, so only an approval of that SHA authorizes it.
    await flow.o.approvals.setHead(repo, f.number, f.headSha, null);
    head = await flow.o.approvals.head(repo, f.number);
  }
  if (!head || head.sha !== f.headSha) {
    await reply(
      flow,
      f,
      ctx,
      `The pull request moved to ${short(f.headSha)} and Airlock has not processed that push yet: try again in a moment.`,
    );
    return;
  }
  for (const [i, cmd] of commands.entries()) {
    await command(flow, f, loaded, ctx, ev, cmd, `${i}`, head);
  }
};

async function command(
  flow: Flow,
  f: PrFacts,
  loaded: Loaded,
  ctx: HandlerContext,
  ev: CommentEvent,
  cmd: Command,
  key: string,
  head: PrHead,
): Promise<void> {
  const sender = ev.sender.login;
  switch (cmd.kind) {
    case "ok-to-test":
      return approveByCommand(flow, f, loaded, ctx, ev, cmd, key, head);
    case "test": {
      const selection = cmd.all ? null : testSelection(loaded.defs.config, cmd.names);
      return runOnDemand(flow, f, loaded, ctx, selection, sender, key);
    }
    case "retest": {
      const failed = await failedJobs(flow, f);
      if (failed.length === 0) {
        await reply(flow, f, ctx, `No job failed on ${short(f.headSha)}: nothing to retest.`, key);
        return;
      }
      return runOnDemand(flow, f, loaded, ctx, { jobs: failed }, sender, key, "rerun");
    }
    case "cancel": {
      const why = `cancelled by ${sender}`;
      // Queued requests end now, not only with the event, so that the gate counts them out.
      await flow.o.requests.cancelQueued(f.repo, f.number, why);
      cancelPr(flow, f.repo, f.number, ctx, why);
      return reportGate(flow, f, loaded);
    }
    case "mirror":
      return mirror(flow, f, loaded, ctx, key);
  }
}
