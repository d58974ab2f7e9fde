// The GitHub double's in-memory model: what it stores, and the JSON it answers with (the fields
// clients read, in GitHub's spelling).
import type { IncomingMessage } from "node:http";

export interface Violation {
  method: string;
  url: string;
  /** "unknown-operation", "parameter", "body", "unimplemented", "auth". */
  kind: string;
  message: string;
}

export interface RecordedRequest {
  method: string;
  url: string;
  operationId: string | null;
  body: unknown;
  status: number;
}

export type Permission = "admin" | "maintain" | "write" | "triage" | "read" | "none";

export interface PullSpec {
  number: number;
  headSha: string;
  baseSha: string;
  author: string;
  headRef?: string;
  baseRef?: string;
  /** "owner/name" of the head repository; a fork when it differs from the base. */
  headRepo?: string;
  /** The fork owner's account type (default User). */
  headOwnerType?: "User" | "Organization";
  /** The fork allows pushes from the base repository's maintainers. */
  maintainerCanModify?: boolean;
  labels?: string[];
  state?: "open" | "closed";
  draft?: boolean;
  title?: string;
  body?: string;
}

export interface CheckRun {
  id: number;
  repo: string;
  name: string;
  head_sha: string;
  status: "queued" | "in_progress" | "completed" | "waiting" | "requested" | "pending";
  conclusion: string | null;
  details_url: string | null;
  external_id: string | null;
  started_at: string | null;
  completed_at: string | null;
  output: { title: string | null; summary: string | null; text: string | null };
  actions: unknown[];
  /** Every body sent for this check run, creation first. */
  history: Record<string, unknown>[];
  /** When the double created it and when it first completed, in the order of all it saw. */
  seen: { created: number; completed: number | null };
}

export interface CommitStatus {
  id: number;
  sha: string;
  state: string;
  context: string;
  description: string | null;
  target_url: string | null;
}

export interface IssueComment {
  id: number;
  repo: string;
  issue: number;
  body: string;
  history: string[];
}

/** One attempt at delivering a webhook (GitHub's "hook-delivery-item"). */
export interface HookDeliveryItem {
  id: number;
  guid: string;
  delivered_at: string;
  redelivery: boolean;
  duration: number;
  status: string;
  status_code: number;
  event: string;
  action: string | null;
  installation_id: number | null;
  repository_id: number | null;
  throttled_at: string | null;
}

export type Fault = "server-error" | "rate-limit" | "secondary-rate-limit" | "too-many-requests";

export interface Installation {
  id: number;
  account: string;
  repos: Set<string>;
}

export interface Token {
  installationId: number;
  expiresAt: number;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type Handler = (req: Ctx) => {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
};

export interface Ctx {
  params: Record<string, string>;
  query: URLSearchParams;
  body: Record<string, unknown>;
  headers: IncomingMessage["headers"];
  /** The installation of the token the request carried (repo/org endpoints). */
  installation: Installation | null;
}

export function faultAnswer(f: Fault): {
  status: number;
  body: unknown;
  headers: Record<string, string>;
} {
  const reset = String(Math.floor(Date.now() / 1000) + 1);
  switch (f) {
    case "server-error":
      return { status: 500, body: { message: "Server Error" }, headers: {} };
    case "rate-limit":
      return {
        status: 403,
        body: { message: "API rate limit exceeded for installation." },
        headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset },
      };
    case "secondary-rate-limit":
      return {
        status: 403,
        body: {
          message:
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        },
        headers: { "retry-after": "1" },
      };
    case "too-many-requests":
      return {
        status: 429,
        body: { message: "Too Many Requests" },
        headers: { "retry-after": "1" },
      };
  }
}

export function userJson(login: string) {
  return { login, id: 1, type: login.endsWith("[bot]") ? "Bot" : "User", site_admin: false };
}

export function installationJson(i: Installation) {
  return {
    id: i.id,
    account: { login: i.account, id: i.id, type: "Organization" },
    app_id: 1,
    target_type: "Organization",
    repository_selection: "selected",
    permissions: {},
    events: ["pull_request", "issue_comment", "check_run"],
  };
}

let sequence = 0;
/** The next number in the order of what the double saw (check runs created and completed). */
export const seen = (): number => ++sequence;

export function applyCheckRun(run: CheckRun, b: Record<string, unknown>): void {
  run.history.push(structuredClone(b));
  if (typeof b.conclusion === "string" && run.seen.completed === null) run.seen.completed = seen();
  if (typeof b.name === "string") run.name = b.name;
  if (typeof b.details_url === "string") run.details_url = b.details_url;
  if (typeof b.external_id === "string") run.external_id = b.external_id;
  if (typeof b.started_at === "string") run.started_at = b.started_at;
  if (typeof b.status === "string") run.status = b.status as CheckRun["status"];
  if (typeof b.conclusion === "string") {
    // Giving a conclusion completes the run, as on GitHub.
    run.conclusion = b.conclusion;
    run.status = "completed";
    run.completed_at = (b.completed_at as string | undefined) ?? new Date().toISOString();
  }
  const out = b.output as Record<string, string> | undefined;
  if (out) {
    run.output = { title: out.title ?? null, summary: out.summary ?? null, text: out.text ?? null };
  }
  if (Array.isArray(b.actions)) run.actions = b.actions;
}

export function checkRunJson(r: CheckRun) {
  return {
    id: r.id,
    node_id: `CR_${r.id}`,
    head_sha: r.head_sha,
    external_id: r.external_id,
    url: `https://api.github.com/repos/${r.repo}/check-runs/${r.id}`,
    html_url: `https://github.com/${r.repo}/runs/${r.id}`,
    details_url: r.details_url,
    status: r.status,
    conclusion: r.conclusion,
    started_at: r.started_at,
    completed_at: r.completed_at,
    output: { ...r.output, annotations_count: 0, annotations_url: "" },
    name: r.name,
    check_suite: { id: 1 },
    app: null,
    pull_requests: [],
  };
}

function repoJson(fullName: string, id: number, ownerType = "User") {
  const [owner, name] = fullName.split("/");
  return {
    id,
    name,
    full_name: fullName,
    owner: { ...userJson(owner!), type: ownerType },
    private: false,
    fork: id !== 1,
  };
}

export function pullJson(repo: string, pr: PullSpec) {
  const headRepo = pr.headRepo ?? repo;
  return {
    number: pr.number,
    state: pr.state ?? "open",
    draft: pr.draft ?? false,
    merged: false,
    maintainer_can_modify: pr.maintainerCanModify ?? false,
    title: pr.title ?? `PR ${pr.number}`,
    body: pr.body ?? null,
    user: userJson(pr.author),
    labels: (pr.labels ?? []).map((name, i) => ({ id: i + 1, name })),
    head: {
      sha: pr.headSha,
      ref: pr.headRef ?? `feature-${pr.number}`,
      label: `${headRepo.split("/")[0]}:${pr.headRef ?? `feature-${pr.number}`}`,
      repo: repoJson(headRepo, headRepo === repo ? 1 : 2, pr.headOwnerType),
      user: userJson(headRepo.split("/")[0]!),
    },
    base: {
      sha: pr.baseSha,
      ref: pr.baseRef ?? "main",
      label: `${repo.split("/")[0]}:${pr.baseRef ?? "main"}`,
      repo: repoJson(repo, 1),
      user: userJson(repo.split("/")[0]!),
    },
  };
}

export function commentJson(base: string, c: IssueComment) {
  return {
    id: c.id,
    node_id: `IC_${c.id}`,
    body: c.body,
    user: userJson("airlock[bot]"),
    url: `${base}/repos/${c.repo}/issues/comments/${c.id}`,
    html_url: `https://github.com/${c.repo}/pull/${c.issue}#issuecomment-${c.id}`,
    created_at: new Date().toISOString(),
    updated_at: new Date().toISOString(),
  };
}
