// Typed GitHub operations for one installation. Reads retry briefly in memory; writes are sent
// once and retried by the outbox, which stores them first (DESIGN.md invariant 6).
import {
  type ChangedFile,
  type CheckRun,
  type CheckRunState,
  type CommitStatus,
  type Comparison,
  type FileChange,
  FileTooLargeError,
  type Forge,
  type IssueComment,
  type Permission,
  type PullRequest,
  type RepoRef,
} from "../types.js";
import type { TokenSource } from "./app-auth.js";
import { GitHubError } from "./errors.js";
import type { GitHubHttp } from "./http.js";
import { api, filePath, query } from "./path.js";

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
const READ_RETRIES = 2;
/** GitHub lists at most this many changed files in a comparison. */
export const COMPARE_MAX_FILES = 300;

interface DiffEntry {
  filename: string;
  status: FileChange;
  previous_filename?: string;
}

const isStatus = (e: unknown, ...codes: number[]) =>
  e instanceof GitHubError && codes.includes(e.status);

export class GitHubClient implements Forge {
  constructor(
    readonly http: GitHubHttp,
    private readonly auth: TokenSource,
  ) {}

  private async call<T>(method: string, path: string, route: string, body?: unknown) {
    return this.http.request<T>(method, path, route, {
      authorization: await this.auth.authorization(),
      body,
      retries: READ_RETRIES,
    });
  }

  /** Organisation membership (public or private, as the installation can see it). */
  async isOrgMember(org: string, username: string): Promise<boolean> {
    try {
      const res = await this.call(
        "GET",
        api`/orgs/${org}/members/${username}`,
        "GET /orgs/{org}/members/{username}",
      );
      return res.status === 204;
    } catch (e) {
      // 404: not a member. 302: the installation cannot see the org's members; fail closed.
      if (isStatus(e, 404, 302)) return false;
      throw e;
    }
  }

  /** Active (not pending) membership of a team given by its slug. */
  async isTeamMember(org: string, teamSlug: string, username: string): Promise<boolean> {
    try {
      const res = await this.call<{ state: "active" | "pending" }>(
        "GET",
        api`/orgs/${org}/teams/${teamSlug}/memberships/${username}`,
        "GET /orgs/{org}/teams/{team_slug}/memberships/{username}",
      );
      return res.data.state === "active";
    } catch (e) {
      if (isStatus(e, 404)) return false;
      throw e;
    }
  }

  /** The user's role on the repository: role_name when given (it tells maintain from write). */
  async permission({ owner, repo }: RepoRef, username: string): Promise<Permission> {
    try {
      const res = await this.call<{ permission: Permission; role_name?: string }>(
        "GET",
        api`/repos/${owner}/${repo}/collaborators/${username}/permission`,
        "GET /repos/{owner}/{repo}/collaborators/{username}/permission",
      );
      const role = res.data.role_name;
      const known: Permission[] = ["admin", "maintain", "write", "triage", "read", "none"];
      return known.includes(role as Permission) ? (role as Permission) : res.data.permission;
    } catch (e) {
      if (isStatus(e, 404)) return "none";
      throw e;
    }
  }

  /**
   * A file's text at an exact commit, or undefined when it does not exist there. The ref must be a
   * full SHA: a branch name could move between the decision and the read.
   */
  async fileAt(
    { owner, repo }: RepoRef,
    path: string,
    sha: string,
    opts: { maxBytes?: number } = {},
  ): Promise<string | undefined> {
    if (!SHA.test(sha))
      throw new Error(`fileAt needs a full commit SHA, got ${JSON.stringify(sha)}`);
    try {
      const res = await this.call<{
        type: string;
        size?: number;
        encoding?: string;
        content?: string;
      }>(
        "GET",
        `${api`/repos/${owner}/${repo}/contents/`}${filePath(path)}${query({ ref: sha })}`,
        "GET /repos/{owner}/{repo}/contents/{path}",
      );
      const d = res.data;
      if (Array.isArray(d) || d.type !== "file") {
        throw new Error(`${path} at ${sha.slice(0, 12)} is not a file`);
      }
      if (opts.maxBytes !== undefined && (d.size ?? 0) > opts.maxBytes) {
        throw new FileTooLargeError(path, d.size ?? 0);
      }
      // Files over 1 MB come without content ("encoding": "none").
      if (d.encoding !== "base64" || d.content === undefined) {
        throw new FileTooLargeError(path, d.size ?? 0);
      }
      return Buffer.from(d.content, "base64").toString("utf8");
    } catch (e) {
      if (isStatus(e, 404)) return undefined;
      throw e;
    }
  }

  async pull({ owner, repo }: RepoRef, number: number): Promise<PullRequest> {
    const res = await this.call<PullRequest>(
      "GET",
      api`/repos/${owner}/${repo}/pulls/${number}`,
      "GET /repos/{owner}/{repo}/pulls/{pull_number}",
    );
    return res.data;
  }

  /**
   * What `head` changes against `base`, both full SHAs (a branch name could move meanwhile).
   * One page of one commit: the files come with the first page whatever its size, and the commits
   * themselves are not needed. A list of 300 files may have been cut: it is marked incomplete.
   */
  async compare({ owner, repo }: RepoRef, base: string, head: string): Promise<Comparison> {
    for (const s of [base, head]) {
      if (!SHA.test(s)) throw new Error(`compare needs full commit SHAs, got ${JSON.stringify(s)}`);
    }
    const res = await this.call<{
      status: Comparison["status"];
      ahead_by: number;
      html_url: string;
      files?: DiffEntry[];
    }>(
      "GET",
      `${api`/repos/${owner}/${repo}/compare/${`${base}...${head}`}`}${query({ per_page: 1 })}`,
      "GET /repos/{owner}/{repo}/compare/{basehead}",
    );
    const entries = res.data.files ?? [];
    const files: ChangedFile[] = entries.map((f) => ({
      path: f.filename,
      change: f.status,
      ...(f.previous_filename ? { previousPath: f.previous_filename } : {}),
    }));
    return {
      status: res.data.status,
      aheadBy: res.data.ahead_by,
      files,
      complete: entries.length < COMPARE_MAX_FILES,
      url: res.data.html_url,
    };
  }

  async createCheckRun({ owner, repo }: RepoRef, state: CheckRunState): Promise<CheckRun> {
    const res = await this.call<CheckRun>(
      "POST",
      api`/repos/${owner}/${repo}/check-runs`,
      "POST /repos/{owner}/{repo}/check-runs",
      state,
    );
    return res.data;
  }

  async updateCheckRun(
    { owner, repo }: RepoRef,
    id: number,
    state: CheckRunState,
  ): Promise<CheckRun> {
    // head_sha cannot be changed on update; the check run is already bound to it.
    const { head_sha: _, ...body } = state;
    const res = await this.call<CheckRun>(
      "PATCH",
      api`/repos/${owner}/${repo}/check-runs/${id}`,
      "PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}",
      body,
    );
    return res.data;
  }

  /** Check runs of one name on a commit, newest first, optionally only those of one app. */
  async checkRunsNamed(
    { owner, repo }: RepoRef,
    sha: string,
    name: string,
    appId?: number,
  ): Promise<CheckRun[]> {
    const res = await this.call<{ total_count: number; check_runs: CheckRun[] }>(
      "GET",
      `${api`/repos/${owner}/${repo}/commits/${sha}/check-runs`}${query({
        check_name: name,
        filter: "all",
        app_id: appId,
        per_page: 100,
      })}`,
      "GET /repos/{owner}/{repo}/commits/{ref}/check-runs",
    );
    return res.data.check_runs.filter((c) => c.name === name && c.head_sha === sha);
  }

  async createStatus({ owner, repo }: RepoRef, sha: string, status: CommitStatus): Promise<void> {
    await this.call(
      "POST",
      api`/repos/${owner}/${repo}/statuses/${sha}`,
      "POST /repos/{owner}/{repo}/statuses/{sha}",
      status,
    );
  }

  async createComment({ owner, repo }: RepoRef, issue: number, body: string): Promise<number> {
    const res = await this.call<IssueComment>(
      "POST",
      api`/repos/${owner}/${repo}/issues/${issue}/comments`,
      "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
      { body },
    );
    return res.data.id;
  }

  /** Comments on an issue or PR updated since a time (ISO 8601), oldest first; one page. */
  async commentsSince(
    { owner, repo }: RepoRef,
    issue: number,
    since: string,
  ): Promise<IssueComment[]> {
    const res = await this.call<IssueComment[]>(
      "GET",
      `${api`/repos/${owner}/${repo}/issues/${issue}/comments`}${query({ since, per_page: 100 })}`,
      "GET /repos/{owner}/{repo}/issues/{issue_number}/comments",
    );
    return res.data;
  }

  /** Removes a label from a PR; a label already gone is not an error. */
  async removeLabel({ owner, repo }: RepoRef, issue: number, label: string): Promise<void> {
    try {
      await this.call(
        "DELETE",
        api`/repos/${owner}/${repo}/issues/${issue}/labels/${label}`,
        "DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
      );
    } catch (e) {
      if (!isStatus(e, 404)) throw e;
    }
  }
}
