// Whether secrets may be released for one commit of a pull request (DESIGN.md invariants 1 and
// 10, docs/security.md). The commit must be the PR's current head, and either
// - the trusted-author path: the author is trusted, the head branch lives in a repository trusted
//   people control (the base repository, or a fork a trusted user owns), and Airlock holds
//   evidence that a trusted person pushed exactly this commit (recorded on the head: see
//   ApprovalRepo.setHead); or
// - trusted members approved exactly this SHA as the rules its changes bring in ask (policy.ts),
//   each still trusted now.
// Missing evidence never counts as trust: such a commit waits for an approval. A bot's pull
// request may run the restricted jobs its scope in `trust.bots` covers, and only those.
import type { Comparison, RepoRef } from "../forge/types.js";
import type { ApprovalRepo } from "../store/index.js";
import {
  botScope,
  DEFAULT_REQUIREMENT,
  describeRequirement,
  distinct,
  type Requirement,
  requirementsFor,
  type ScopedJob,
  type Standing,
  scopeCovers,
  scopeIsEmpty,
  tally,
} from "./policy.js";
import { type Actor, isBot, type TrustEvaluator, type TrustRules } from "./rules.js";

export interface CommitAuthorization {
  /** Every restricted job may receive its secrets. */
  authorized: boolean;
  /** Login of who vouched: the trusted author, the approvers ("alice, bob"), or the bot. */
  by: string | null;
  /** How: the author (and pusher) is trusted, or a trusted member approved the SHA. */
  kind?: "trusted-author" | "approval";
  reason: string;
  /** Not authorized, yet a bot's scope lets these restricted jobs (ids) run without approval. */
  scoped?: { bot: string; jobs: string[] };
  /** Where the approvals of the commit stand (absent when the author's trust decided). */
  approval?: Standing;
  /** Said on the approval check beside the reason (a bot listed without a scope). */
  note?: string;
}

/** The repository a PR's head branch lives in. */
export interface HeadRepo {
  fullName: string;
  owner: Actor;
}

/** Whether the authorization lets restricted job `jobId` receive its secrets. */
export const allows = (auth: CommitAuthorization, jobId: string): boolean =>
  auth.authorized || (auth.scoped?.jobs.includes(jobId) ?? false);

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
  approvals: ApprovalRepo;
  /** The restricted jobs of the trusted definition, for a bot's scope. */
  restricted: ScopedJob[];
  /** What the commit changes against the PR's base (asked only when rules need it). */
  changes(): Promise<Comparison>;
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
  const changes = rules.rules.length > 0 ? await args.changes() : undefined;
  const approval = await standing(
    args,
    changes ? requirementsFor(rules.rules, changes) : [DEFAULT_REQUIREMENT],
    changes ? !changes.complete : false,
  );
  if (approval.met) {
    const by = distinct(approval.requirements.flatMap((r) => r.by));
    return {
      authorized: true,
      by: by.join(", "),
      kind: "approval",
      reason: `${by.join(" and ")} approved ${sha.slice(0, 12)}${rulesWord(approval)}`,
      approval,
    };
  }
  // An approver removed since approving vouches for nothing (checked at every release).
  const counted = new Set(approval.requirements.flatMap((r) => r.by));
  const lapsed = approval.approvers.filter((a) => !counted.has(a));
  const waiting = lapsed.length
    ? `${lapsed.join(", ")} approved ${at} but ${lapsed.length > 1 ? "are" : "is"} no longer trusted: ${needs(approval, sha)} again`
    : `${notTrustedPath ?? authorVerdict.reason}: ${needs(approval, sha)}`;
  const denied = { authorized: false, by: null, reason: waiting, approval } as const;
  if (!isBot(author)) return denied;
  const bot = await botPath(args, head.pushedBy, approval);
  return bot.authorized
    ? { authorized: true, by: author.login, reason: bot.note ?? "", approval }
    : { ...denied, ...bot };
}

/** The commit's standing approvals against its requirements (the default one at least). */
async function standing(
  args: Parameters<typeof authorizeCommit>[0],
  requirements: Requirement[],
  incomplete: boolean,
): Promise<Standing> {
  const { repo, pr, sha, rules, trust } = args;
  const given = (await args.approvals.history(`${repo.owner}/${repo.repo}`, pr))
    .filter((a) => a.sha === sha && a.voidedAt === null)
    .map((a) => a.approvedBy);
  // An approver counts while trusted now (and, for a team rule, while in one of its teams).
  const counts = async (login: string, teams: string[]) =>
    (await trust.check({ login, type: "User" }, repo, rules)).trusted &&
    (teams.length === 0 || (await trust.memberOf(login, teams, repo)) !== undefined);
  return tally(requirements, given, counts, incomplete);
}

const rulesWord = (s: Standing) => {
  const names = s.requirements.filter((r) => r.name !== "default").map((r) => r.name);
  return names.length ? ` (rules: ${names.join(", ")})` : "";
};

/**
 * What is still needed, in words: "a trusted member must approve <sha>", or with rules "it needs
 * 2 approvals from distinct trusted members for rule "pipeline" (1 more; approved by alice)".
 */
export function needs(s: Standing, sha: string): string {
  const open = s.requirements.filter((r) => r.missing > 0);
  if (open.every((r) => r.name === "default")) {
    return `a trusted member must approve ${sha.slice(0, 12)}`;
  }
  const parts = open.map((r) => {
    const rule = r.name === "default" ? "" : ` for rule "${r.name}"`;
    const more = r.by.length ? ` (${r.missing} more; approved by ${r.by.join(", ")})` : "";
    return `${describeRequirement(r)}${rule}${more}`;
  });
  return `${sha.slice(0, 12)} needs ${parts.join("; ")}`;
}

/**
 * A bot's pull request: the restricted jobs its scope covers run without approval, when the bot
 * (or a trusted person) pushed the commit and no rule applies to what it changes.
 */
async function botPath(
  args: Parameters<typeof authorizeCommit>[0],
  pushedBy: string | null,
  approval: Standing,
): Promise<{ authorized: boolean; scoped?: CommitAuthorization["scoped"]; note?: string }> {
  const { author, rules, trust, repo, restricted } = args;
  const none = { authorized: false } as const;
  const scope = botScope(rules, author.login);
  if (!scope) return { ...none, note: `${author.login} is not in trust.bots: public jobs only.` };
  if (scopeIsEmpty(scope)) {
    return {
      ...none,
      note: `${author.login} is listed in trust.bots by its login alone, which means public jobs only: give its entry the \`jobs\` or \`secrets\` it may use without an approval.`,
    };
  }
  if (pushedBy === null) {
    return {
      ...none,
      note: `Airlock has no evidence of who pushed this commit: the scope of ${author.login} does not apply.`,
    };
  }
  const pusherOk =
    same(pushedBy, author.login) ||
    (!isBot({ login: pushedBy }) && (await trust.check({ login: pushedBy }, repo, rules)).trusted);
  if (!pusherOk) {
    return {
      ...none,
      note: `${pushedBy} pushed this commit: the scope of ${author.login} does not apply.`,
    };
  }
  const ruled = approval.requirements.filter((r) => r.name !== "default").map((r) => r.name);
  if (ruled.length > 0) {
    return {
      ...none,
      note: `The commit changes paths under ${ruled.map((n) => `"${n}"`).join(", ")}: the scope of ${author.login} does not cover it.`,
    };
  }
  const jobs = restricted.filter((j) => scopeCovers(scope, j)).map((j) => j.id);
  if (jobs.length > 0 && jobs.length === restricted.length) {
    return {
      authorized: true,
      note: `${author.login} may run every restricted job without an approval (its scope in trust.bots)`,
    };
  }
  return jobs.length > 0 ? { ...none, scoped: { bot: author.login, jobs } } : none;
}
