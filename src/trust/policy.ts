// Approvals that scale with risk (pure): which `trust.rules` a commit's changed paths bring in,
// whether the approvals of that exact commit meet them, and what a bot's scope lets run without
// one. The changed paths come from the forge's comparison of the commit with its base, never
// from anything the pull request says about itself.
import ignore from "ignore";
import type { ApprovalRule, BotScope, TrustConfig } from "../config/trust-schema.js";
import type { Comparison } from "../forge/types.js";

/** What one commit's approvals must include. */
export interface Requirement {
  /** The rule's name, or "default" for the one trusted approval every commit needs. */
  name: string;
  /** Distinct approvers needed. */
  approvals: number;
  /** When not empty, approvers must be members of one of these teams. */
  teams: string[];
  /** Changed paths that brought the rule in (a few), for people to read. */
  paths: string[];
  /** How many changed paths the rule matched. */
  matched: number;
}

/** A requirement against the approvals given so far. */
export interface RequirementStatus extends Requirement {
  /** Approvers who count for it. */
  by: string[];
  /** Approvals still needed (0: met). */
  missing: number;
}

export interface Standing {
  requirements: RequirementStatus[];
  /** Every requirement is met. */
  met: boolean;
  /** Distinct approvers of the commit, as given (voided approvals excluded). */
  approvers: string[];
  /** The forge listed only part of the changed files: every rule applies. */
  incomplete: boolean;
}

export const DEFAULT_REQUIREMENT: Requirement = {
  name: "default",
  approvals: 1,
  teams: [],
  paths: [],
  matched: 0,
};

const SHOWN_PATHS = 5;

export const ruleName = (rule: ApprovalRule): string =>
  rule.name ?? `changes to ${rule.paths.join(", ")}`.slice(0, 100);

/** Every path a change touches: a rename moves a file out of one place and into another. */
export function changedPaths(c: Comparison): string[] {
  const out = new Set<string>();
  for (const f of c.files) {
    out.add(f.path);
    if (f.previousPath) out.add(f.previousPath);
  }
  return [...out];
}

/** Whether a pattern list (CODEOWNERS / .gitignore syntax) matches a path; case is ignored. */
function matcher(patterns: string[]): (path: string) => boolean {
  const ig = ignore({ ignorecase: true }).add(patterns);
  return (path) => {
    try {
      return ig.ignores(path);
    } catch {
      // A path the matcher cannot read ("./x", "/abs"): counted as matching, the stricter side.
      return true;
    }
  };
}

/**
 * The requirements of a commit: the default one, and each rule whose paths the comparison
 * changes. A comparison the forge cut short brings in every rule.
 */
export function requirementsFor(rules: ApprovalRule[], c: Comparison): Requirement[] {
  const paths = changedPaths(c);
  const out: Requirement[] = [DEFAULT_REQUIREMENT];
  for (const rule of rules) {
    const matches = paths.filter(matcher(rule.paths));
    if (matches.length === 0 && c.complete) continue;
    out.push({
      name: ruleName(rule),
      approvals: rule.approvals,
      teams: rule.teams,
      paths: matches.slice(0, SHOWN_PATHS),
      matched: matches.length,
    });
  }
  return out;
}

/** Logins once each, the first spelling kept (GitHub logins are case-insensitive). */
export function distinct(logins: string[]): string[] {
  const seen = new Map<string, string>();
  for (const l of logins) if (!seen.has(l.toLowerCase())) seen.set(l.toLowerCase(), l);
  return [...seen.values()];
}

/**
 * The requirements against the approvers of the commit. `counts(login, teams)` says whether an
 * approver counts for a requirement now: trusted today (not only when they approved), and a
 * member of one of `teams` when it names any. A person counts once however often they approved.
 */
export async function tally(
  requirements: Requirement[],
  approvers: string[],
  counts: (login: string, teams: string[]) => Promise<boolean>,
  incomplete = false,
): Promise<Standing> {
  const people = distinct(approvers);
  const statuses: RequirementStatus[] = [];
  for (const r of requirements) {
    const by: string[] = [];
    for (const login of people) if (await counts(login, r.teams)) by.push(login);
    statuses.push({ ...r, by, missing: Math.max(0, r.approvals - by.length) });
  }
  return {
    requirements: statuses,
    met: statuses.every((s) => s.missing === 0),
    approvers: people,
    incomplete,
  };
}

/** What a requirement asks for, in words: "2 approvals from distinct trusted members". */
export function describeRequirement(r: Requirement): string {
  const one = r.approvals === 1;
  const count = one ? "an approval" : `${r.approvals} approvals`;
  const who = r.teams.length
    ? `${one ? "a member" : "members"} of ${r.teams.join(" or ")}`
    : one
      ? "a trusted member"
      : "distinct trusted members";
  return `${count} from ${who}`;
}

// ---- bots ----------------------------------------------------------------------------------------

/** A restricted job as a bot's scope sees it. */
export interface ScopedJob {
  id: string;
  template: string;
  secrets: string[];
}

/** The bot's entry in `trust.bots`, if listed. */
export function botScope(trust: TrustConfig, login: string): BotScope | undefined {
  return trust.bots.find((b) => b.login.toLowerCase() === login.toLowerCase());
}

/** Whether the scope lets a restricted job run without an approval. */
export function scopeCovers(scope: BotScope, job: ScopedJob): boolean {
  if (scope.jobs.includes(job.id) || scope.jobs.includes(job.template)) return true;
  return job.secrets.length > 0 && job.secrets.every((s) => scope.secrets.includes(s));
}

/** A scope that widens nothing: the bot is listed by its login alone. */
export const scopeIsEmpty = (scope: BotScope): boolean =>
  scope.jobs.length === 0 && scope.secrets.length === 0;
