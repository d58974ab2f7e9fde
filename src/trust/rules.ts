// Who is trusted: the `trust:` section of the configuration evaluated against GitHub. A person is
// trusted by name, organisation membership, team membership, or a repository role at least as
// high as the configured one. A bot is never trusted as a person (it neither approves nor sends
// commands): what its pull requests may run is its scope in `trust.bots` (policy.ts).
import type { Config } from "../config/schema.js";
import type { Permission, RepoRef } from "../forge/types.js";
import { TtlCache } from "./cache.js";

export type TrustRules = Config["trust"];

/** The GitHub lookups trust needs; GitHubClient provides them. */
export interface TrustLookups {
  isOrgMember(org: string, username: string): Promise<boolean>;
  isTeamMember(org: string, teamSlug: string, username: string): Promise<boolean>;
  permission(repo: RepoRef, username: string): Promise<Permission>;
}

export interface Actor {
  login: string;
  /** GitHub's account type: "User", "Bot", "Organization". */
  type?: string;
}

export interface TrustVerdict {
  trusted: boolean;
  /** Why, in words fit for a check run or the audit log. */
  reason: string;
}

const RANK: Record<Permission, number> = {
  none: 0,
  read: 1,
  triage: 2,
  write: 3,
  maintain: 4,
  admin: 5,
};

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

export const isBot = (a: Actor): boolean => a.type === "Bot" || a.login.endsWith("[bot]");

export interface TrustOptions {
  /**
   * How long an answer is reused when no membership event says it changed (default 60 s): the
   * most a removed member keeps trust if GitHub's event about it is lost.
   */
  ttlMs?: number;
  now?: () => number;
}

export class TrustEvaluator {
  private readonly cache: TtlCache<TrustVerdict>;
  /** Bumped by forget(): an answer looked up before it is not cached after it. */
  private generation = 0;
  private readonly teams: TtlCache<boolean>;

  constructor(
    private readonly lookups: TrustLookups,
    opts: TrustOptions = {},
  ) {
    this.cache = new TtlCache(opts.ttlMs ?? 60_000, opts.now);
    this.teams = new TtlCache(opts.ttlMs ?? 60_000, opts.now);
  }

  /** Forgets every cached answer: a membership changed. */
  forget(): void {
    this.generation++;
    this.cache.clear();
    this.teams.clear();
  }

  /**
   * Evaluates one actor on one repository. A failed lookup throws and is not cached: the caller
   * retries the event later rather than deciding on missing facts.
   */
  async check(actor: Actor, repo: RepoRef, rules: TrustRules): Promise<TrustVerdict> {
    const key = JSON.stringify([
      repo.owner,
      repo.repo,
      actor.login.toLowerCase(),
      isBot(actor),
      rules,
    ]);
    const hit = this.cache.get(key);
    if (hit) return hit;
    const generation = this.generation;
    const verdict = await this.evaluate(actor, repo, rules);
    if (generation === this.generation) this.cache.set(key, verdict);
    return verdict;
  }

  /**
   * The first of `teams` ("org/team-slug", or a bare slug of the repository owner's team) the
   * person is an active member of, or undefined. Answers are cached like `check`'s.
   */
  async memberOf(login: string, teams: string[], repo: RepoRef): Promise<string | undefined> {
    for (const team of teams) {
      const [org, slug] = team.includes("/") ? team.split("/", 2) : [repo.owner, team];
      if (!org || !slug) continue;
      const key = JSON.stringify([
        "team",
        org.toLowerCase(),
        slug.toLowerCase(),
        login.toLowerCase(),
      ]);
      let member = this.teams.get(key);
      if (member === undefined) {
        const generation = this.generation;
        member = await this.lookups.isTeamMember(org, slug, login);
        if (generation === this.generation) this.teams.set(key, member);
      }
      if (member) return `${org}/${slug}`;
    }
    return undefined;
  }

  private async evaluate(actor: Actor, repo: RepoRef, rules: TrustRules): Promise<TrustVerdict> {
    const login = actor.login;
    if (!login) return { trusted: false, reason: "the event has no sender" };
    if (isBot(actor)) {
      return {
        trusted: false,
        reason: `${login} is a bot, whose code comes from elsewhere: trust.bots says what its pull requests may run without an approval`,
      };
    }
    if (rules.users.some((u) => same(u, login))) {
      return { trusted: true, reason: `${login} is listed in trust.users` };
    }
    for (const org of rules.orgs) {
      if (await this.lookups.isOrgMember(org, login)) {
        return { trusted: true, reason: `${login} is a member of ${org}` };
      }
    }
    for (const team of rules.teams) {
      const t = await this.memberOf(login, [team], repo);
      if (t) return { trusted: true, reason: `${login} is a member of team ${t}` };
    }
    const role = await this.lookups.permission(repo, login);
    if (RANK[role] >= RANK[rules.permission]) {
      return { trusted: true, reason: `${login} has ${role} permission on the repository` };
    }
    return {
      trusted: false,
      reason: `${login} is not trusted (no listed org or team membership, permission ${role})`,
    };
  }
}
