// Whether secrets may be released for one commit of a pull request (DESIGN.md invariant 1): the
// commit must be the PR's current head, and either its author and its pusher are both trusted, or
// a trusted member approved exactly that SHA.
import type { RepoRef } from "../forge/types.js";
import type { ApprovalStore } from "../store/approvals.js";
import type { Actor, TrustEvaluator, TrustRules } from "./rules.js";

export interface CommitAuthorization {
  authorized: boolean;
  /** Login of who vouched: the trusted author, or the approver. */
  by: string | null;
  /** How: the author (and pusher) is trusted, or a trusted member approved the SHA. */
  kind?: "trusted-author" | "approval";
  reason: string;
}

export async function authorizeCommit(args: {
  repo: RepoRef;
  pr: number;
  sha: string;
  author: Actor;
  rules: TrustRules;
  trust: TrustEvaluator;
  approvals: ApprovalStore;
}): Promise<CommitAuthorization> {
  const { repo, pr, sha, author, rules, trust, approvals } = args;
  const fullName = `${repo.owner}/${repo.repo}`;
  const head = await approvals.head(fullName, pr);
  if (!head || head.sha !== sha) {
    return {
      authorized: false,
      by: null,
      reason: `${sha.slice(0, 12)} is not the current head of the pull request`,
    };
  }
  const authorVerdict = await trust.check(author, repo, rules);
  if (authorVerdict.trusted) {
    const pusher =
      head.pushedBy.toLowerCase() === author.login.toLowerCase()
        ? authorVerdict
        : await trust.check({ login: head.pushedBy }, repo, rules);
    if (pusher.trusted) {
      return {
        authorized: true,
        by: author.login,
        kind: "trusted-author",
        reason: authorVerdict.reason,
      };
    }
  }
  const approval = await approvals.approvalFor(fullName, pr, sha);
  if (approval) {
    return {
      authorized: true,
      by: approval.approvedBy,
      kind: "approval",
      reason: `${approval.approvedBy} approved ${sha.slice(0, 12)}`,
    };
  }
  return {
    authorized: false,
    by: null,
    reason: authorVerdict.trusted
      ? `${head.pushedBy} pushed ${sha.slice(0, 12)} and is not trusted: a trusted member must approve it`
      : `${authorVerdict.reason}: a trusted member must approve ${sha.slice(0, 12)}`,
  };
}
