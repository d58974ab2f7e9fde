// The shapes of the GitHub API that Airlock sends and reads (the subset it uses).

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
  draft?: boolean;
  user: { login: string; type?: string } | null;
  head: { sha: string; ref: string; repo: { full_name: string } | null };
  base: { sha: string; ref: string; repo: { full_name: string } };
  labels: { name: string }[];
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
