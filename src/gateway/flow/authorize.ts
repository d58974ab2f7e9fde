// Who may do what on a PR: whether its head commit may receive secrets, and whether an event's
// sender is trusted, both by the rules of the PR's trusted base definition.
import { repoRef } from "../../forge/types.js";
import { expandJobs } from "../../pipeline/expand.js";
import { isRestricted } from "../../pipeline/types.js";
import { authorizeCommit, type CommitAuthorization } from "../../trust/authorize.js";
import type { Actor, TrustVerdict } from "../../trust/rules.js";
import type { Flow, Loaded, PrFacts } from "./types.js";

/** Whether secrets may be released to the PR's head; a draft waits until it is ready. */
export async function authorize(
  flow: Flow,
  f: PrFacts,
  loaded: Loaded,
): Promise<CommitAuthorization> {
  if (f.draft) {
    return {
      authorized: false,
      by: null,
      reason: "the pull request is a draft: restricted jobs run once it is ready for review",
    };
  }
  return authorizeCommit({
    repo: repoRef(f.repo),
    pr: f.number,
    sha: f.headSha,
    author: f.author,
    headRepo: f.headRepo,
    rules: loaded.base.trust,
    trust: flow.trustOf(f.installationId),
    approvals: flow.o.approvals,
    restricted: expandJobs(loaded.defs.config)
      .filter(isRestricted)
      .map((j) => ({ id: j.id, template: j.template, secrets: j.secrets })),
    changes: () => flow.changes(f),
  });
}

/** Whether an event's sender is trusted, by the rules of the PR's base definition. */
export function senderTrust(
  flow: Flow,
  f: PrFacts,
  loaded: Loaded,
  sender: Actor,
): Promise<TrustVerdict> {
  return flow.trustOf(f.installationId).check(sender, repoRef(f.repo), loaded.base.trust);
}
