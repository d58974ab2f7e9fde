// Routes each event to its use case by `name.action`, GitHub's own names for it, or by `name`
// for every action of an event (as octokit/webhooks does): one entry per event the flow acts on,
// so what happens on, say, `pull_request.reopened` is found in one place.
import type { HandlerContext } from "../events.js";
import type { GatewayEvent, MembershipEventName, PullRequestAction } from "../parse-event.js";
import { onBaseChanged } from "./base-changed.js";
import { onClosed } from "./closed.js";
import { onComment } from "./comment.js";
import { onConvertedToDraft } from "./draft.js";
import { onHead } from "./head.js";
import { onLabel } from "./label.js";
import { onMembershipChanged } from "./membership.js";
import { onRerequest } from "./rerequest.js";
import type {
  CommentEvent,
  Flow,
  MembershipEvent,
  PrEvent,
  RerequestEvent,
  UseCase,
} from "./types.js";

export type Routes = { [A in PullRequestAction as `pull_request.${A}`]: UseCase<PrEvent> } & {
  "issue_comment.created": UseCase<CommentEvent>;
  "check_run.rerequested": UseCase<RerequestEvent>;
} & { [N in MembershipEventName]: UseCase<MembershipEvent> };

export const ROUTES: Routes = {
  "pull_request.opened": onHead,
  "pull_request.reopened": onHead,
  "pull_request.synchronize": onHead,
  "pull_request.ready_for_review": onHead,
  "pull_request.converted_to_draft": onConvertedToDraft,
  // Parsing keeps `edited` only when the base changed.
  "pull_request.edited": onBaseChanged,
  "pull_request.closed": onClosed,
  "pull_request.labeled": onLabel,
  "pull_request.unlabeled": onLabel,
  "issue_comment.created": onComment,
  "check_run.rerequested": onRerequest,
  organization: onMembershipChanged,
  membership: onMembershipChanged,
  member: onMembershipChanged,
  team: onMembershipChanged,
};

/** The event's `name.action` (`name` alone for an event without an action). */
export function eventKey(ev: GatewayEvent): string {
  if (ev.kind === "membership") return `${ev.name}.${ev.action}`;
  switch (ev.kind) {
    case "pull_request":
      return `pull_request.${ev.action}`;
    case "pr_comment":
      return `issue_comment.${ev.action}`;
    case "check_run_rerequested":
      return "check_run.rerequested";
    case "installation":
      return `installation.${ev.action}`;
    case "installation_repositories":
      return `installation_repositories.${ev.action}`;
    case "ping":
      return "ping";
  }
}

/** Hands an event to its use case; events the flow does not act on are logged. */
export function route(flow: Flow, ev: GatewayEvent, ctx: HandlerContext): Promise<void> {
  const key = eventKey(ev);
  const routes = ROUTES as Record<string, UseCase<GatewayEvent> | undefined>;
  const useCase = routes[key] ?? routes[key.split(".")[0]!];
  if (!useCase || ev.installationId === null) {
    flow.o.log?.info({ delivery: ctx.deliveryId, event: key }, "no use case for this event");
    return Promise.resolve();
  }
  return useCase(flow, ev, ctx);
}
