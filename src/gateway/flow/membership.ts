// Someone joined or left an organisation or a team, or a repository's collaborators changed:
// every cached trust answer is forgotten at once (the console's too), so a removed member cannot
// approve, start or receive anything on a cached "trusted". Approvals they gave are checked again
// whenever secrets would be released (trust/authorize.ts).
import type { MembershipEvent, UseCase } from "./types.js";

export const onMembershipChanged: UseCase<MembershipEvent> = async (flow, ev, ctx) => {
  flow.o.trust.forgetAll();
  flow.o.log?.info(
    { delivery: ctx.deliveryId, event: `${ev.name}.${ev.action}`, login: ev.login },
    "membership changed: trust answers forgotten",
  );
};
