// The Forge port: what the gateway, the outbox and trust ask of the code forge, and the shapes
// they exchange (GitHub's, the subset Airlock uses). forge/github/ implements it; nothing outside
// forge/ imports that implementation except the composition root (gateway/wiring.ts).

export type CheckStatus = "queued" | "in_progress" | "completed";
export type CheckConclusion =
  | "success"
  | "failure"
  | "neutral"
  | "cancelled"
  | "skipped"
  | "timed_out"
  | "action_required";

export interface CheckOutput {
  /** Kept under 255 characters. */
  title: string;
  /** Markdown, at most 65,535 characters. */
  summary: string;
  /** Markdown, at most 65,535 characters. */
  text?: string;
}

/** The full desired state of one check run; each update carries all of it. */
export interface CheckRunState {
  name: string;
  head_sha: string;
  status: CheckStatus;
  conclusion?: CheckConclusion;
  started_at?: string;
  completed_at?: string;
  details_url?: string;
  external_id?: string;
  output?: CheckOutput;
}

export interface CheckRun {
  id: number;
  name: string;
  head_sha: string;
  status: CheckStatus;
  conclusion: CheckConclusion | null;
  app?: { id: number } | null;
}

export type StatusState = "error" | "failure" | "pending" | "success";

export interface CommitStatus {
  state: StatusState;
  target_url?: string;
  /** At most 140 characters. */
  description?: string;
  context: string;
}

export type Permission = "admin" | "maintain" | "write" | "triage" | "read" | "none";

export interface PullRequest {
  number: number;
  state: "open" | "closed";
  /** The author's text. */
  title?: string;
  draft?: boolean;
  user: { login: string; type?: string } | null;
  /** `repo` is null when the head repository (a fork) was deleted. */
  head: {
    sha: string;
    ref: string;
    repo: { full_name: string; owner: { login: string; type?: string } } | null;
  };
  base: { sha: string; ref: string; repo: { full_name: string } };
  labels: { name: string }[];
}

/** How a file changed between two commits (GitHub's words). */
export type FileChange =
  | "added"
  | "removed"
  | "modified"
  | "renamed"
  | "copied"
  | "changed"
  | "unchanged";

export interface ChangedFile {
  /** The path after the change. */
  path: string;
  change: FileChange;
  /** For a rename or a copy: the path before it. */
  previousPath?: string;
}

/** What a head commit changes against a base, as the forge compares them. */
export interface Comparison {
  /** "ahead": base is an ancestor of head; "diverged": history was rewritten or merged. */
  status: "ahead" | "behind" | "diverged" | "identical";
  /** Commits head has that base has not. */
  aheadBy: number;
  /** Files changed from the merge base of the two commits to head. */
  files: ChangedFile[];
  /** False when the forge listed fewer files than changed (GitHub lists at most 300). */
  complete: boolean;
  /** The forge's page showing the comparison. */
  url: string;
}

export interface IssueComment {
  id: number;
  body?: string;
  user: { login: string } | null;
  created_at: string;
}

/** "owner/name", split and checked. */
export interface RepoRef {
  owner: string;
  repo: string;
}

export function repoRef(fullName: string): RepoRef {
  const parts = fullName.split("/");
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new Error(`not a repository name (owner/name): ${JSON.stringify(fullName)}`);
  }
  return { owner: parts[0], repo: parts[1] };
}

/**
 * An unsuccessful answer from the forge, with what a caller needs to decide on a retry. A forge's
 * own error (GitHubError) extends it.
 */
export class ForgeError extends Error {
  constructor(
    /** The HTTP status; 0 when no answer came. */
    readonly status: number,
    message: string,
    /** How long the forge asked to wait before trying again, when it said. */
    readonly retryAfterMs: number | undefined,
    /** True when the forge refused for a rate limit (primary or secondary). */
    readonly rateLimited: boolean,
  ) {
    super(message);
    this.name = "ForgeError";
  }

  /** Worth trying again later: rate limits, server errors, and network failures (status 0). */
  get transient(): boolean {
    return this.rateLimited || this.status === 0 || this.status >= 500 || this.status === 408;
  }
}

/** A file larger than its reader accepts, refused before its content was read. */
export class FileTooLargeError extends Error {
  constructor(
    readonly path: string,
    readonly bytes: number,
  ) {
    super(`${path} is ${bytes} bytes, too large to read`);
    this.name = "FileTooLargeError";
  }
}

/**
 * One installation's view of the forge. Reads may retry briefly; writes are sent once (the outbox
 * stores and retries them). Failures reject with a ForgeError.
 */
export interface Forge {
  /** Organisation membership (public or private, as the installation can see it). */
  isOrgMember(org: string, username: string): Promise<boolean>;
  /** Active (not pending) membership of a team given by its slug. */
  isTeamMember(org: string, teamSlug: string, username: string): Promise<boolean>;
  /** The user's role on the repository. */
  permission(repo: RepoRef, username: string): Promise<Permission>;
  /**
   * A file's text at an exact commit (a full SHA), or undefined when it does not exist there.
   * Rejects with FileTooLargeError, without reading it, when it is over `maxBytes`.
   */
  fileAt(
    repo: RepoRef,
    path: string,
    sha: string,
    opts?: { maxBytes?: number },
  ): Promise<string | undefined>;
  pull(repo: RepoRef, number: number): Promise<PullRequest>;
  /**
   * What `head` changes against `base` (two full SHAs): the files changed from their merge base to
   * `head`, as the forge computes them from the commits themselves.
   */
  compare(repo: RepoRef, base: string, head: string): Promise<Comparison>;
  createCheckRun(repo: RepoRef, state: CheckRunState): Promise<CheckRun>;
  updateCheckRun(repo: RepoRef, id: number, state: CheckRunState): Promise<CheckRun>;
  /** Check runs of one name on a commit, newest first, optionally only those of one app. */
  checkRunsNamed(repo: RepoRef, sha: string, name: string, appId?: number): Promise<CheckRun[]>;
  createStatus(repo: RepoRef, sha: string, status: CommitStatus): Promise<void>;
  /** Posts a comment on an issue or PR; returns its id. */
  createComment(repo: RepoRef, issue: number, body: string): Promise<number>;
  /** Comments on an issue or PR updated since a time (ISO 8601), oldest first; one page. */
  commentsSince(repo: RepoRef, issue: number, since: string): Promise<IssueComment[]>;
  /** Removes a label from a PR; a label already gone is not an error. */
  removeLabel(repo: RepoRef, issue: number, label: string): Promise<void>;
}
