// Whether secrets may be released for one commit of a pull request (DESIGN.md invariants 1 and
// 10, docs/security.md). The commit must be the PR's current head, and either
// - the trusted-author path: the author is trusted, the head branch lives in a repository trusted
//   people control (the base repository, or a fork a trusted user owns), and Airlock holds
//   evidence that a trusted person pushed exactly this commit (recorded on the head: see
//   store/approvals.ts); or
// - a trusted member approved exactly this SHA, and is still trusted now.
// Missing evidence never counts as trust: such a commit waits for an approval.
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

/** The repository a PR's head branch lives in. */
export interface HeadRepo {
  fullName: string;
  owner: Actor;
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * Why the head repository is not one only trusted people push to, or null when it is: the base
 * repository itself, or a fork owned by a trusted user. A fork owned by an organisation, or by
 * anyone not trusted, or one that was deleted, is not.
 */
async function headRepoProblem(
  headRepo: HeadRepo | null,
  repo: RepoRef,
  rules: TrustRules,
  trust: TrustEvaluator,
): Promise<string | null> {
  if (!headRepo) return "the head branch's repository is unknown or was deleted";
  if (same(headRepo.fullName, `${repo.owner}/${repo.repo}`)) return null;
  if (headRepo.owner.type === "Organization") {
    return `the head branch is in ${headRepo.fullName}, a fork owned by an organisation`;
  }
  const owner = await trust.check(headRepo.owner, repo, rules);
  return owner.trusted
    ? null
    : `the head branch is in ${headRepo.fullName}, a fork whose owner ${headRepo.owner.login} is not trusted`;
}

export async function authorizeCommit(args: {
  repo: RepoRef;
  pr: number;
  sha: string;
  author: Actor;
  headRepo: HeadRepo | null;
  rules: TrustRules;
  trust: TrustEvaluator;
  approvals: ApprovalStore;
}): Promise<CommitAuthorization> {
  const { repo, pr, sha, author, rules, trust, approvals } = args;
  const fullName = `${repo.owner}/${repo.repo}`;
  const at = sha.slice(0, 12);
  const head = await approvals.head(fullName, pr);
  if (!head || head.sha !== sha) {
    return {
      authorized: false,
      by: null,
      reason: `${at} is not the current head of the pull request`,
    };
  }
  const authorVerdict = await trust.check(author, repo, rules);
  // Why the trusted-author path does not apply (when the author is trusted).
  let notTrustedPath: string | null = null;
  if (authorVerdict.trusted) {
    notTrustedPath = await headRepoProblem(args.headRepo, repo, rules, trust);
    if (notTrustedPath === null) {
      if (head.pushedBy === null) {
        notTrustedPath = `Airlock has no evidence of who pushed ${at} (no push of it was delivered from a trusted sender)`;
      } else {
        const pusher = same(head.pushedBy, author.login)
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
        notTrustedPath = `${head.pushedBy} pushed ${at} and is not trusted`;
      }
    }
  }
  const approval = await approvals.approvalFor(fullName, pr, sha);
  if (approval) {
    // The approver must still be trusted now: a member removed since approving vouches for
    // nothing (checked at every release, so also when an approved run starts).
    const approver = await trust.check({ login: approval.approvedBy }, repo, rules);
    if (approver.trusted) {
      return {
        authorized: true,
        by: approval.approvedBy,
        kind: "approval",
        reason: `${approval.approvedBy} approved ${at}`,
      };
    }
    return {
      authorized: false,
      by: null,
      reason: `${approval.approvedBy} approved ${at} but is no longer trusted (${approver.reason}): a trusted member must approve it again`,
    };
  }
  return {
    authorized: false,
    by: null,
    reason: `${notTrustedPath ?? authorVerdict.reason}: a trusted member must approve ${at}`,
  };
}
