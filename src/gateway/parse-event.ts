// The webhook deliveries the gateway acts on, parsed into a typed union. Only the fields the
// gateway uses are validated; anything else in GitHub's payload is dropped. Every string here is
// untrusted data (branch names, labels, comment bodies): it is never interpreted as code.
import { z } from "zod";

const actor = z.object({ login: z.string().min(1), id: z.number().int(), type: z.string() });
const repo = z.object({
  id: z.number().int(),
  full_name: z.string().min(3),
  name: z.string().min(1),
  owner: z.object({ login: z.string().min(1) }),
  private: z.boolean().optional(),
});
const installationRef = z.object({ id: z.number().int() }).optional();
const sha = z.string().regex(/^[0-9a-f]{40}$/, "expected a 40-hex commit SHA");

const pullRequest = z.object({
  number: z.number().int().positive(),
  state: z.enum(["open", "closed"]),
  draft: z.boolean().optional(),
  merged: z.boolean().nullable().optional(),
  user: actor,
  labels: z.array(z.object({ name: z.string() })).default([]),
  updated_at: z.string().nullable().optional(),
  head: z.object({ sha, ref: z.string(), repo: repo.nullable() }),
  base: z.object({ sha, ref: z.string(), repo }),
});

export type Actor = { login: string; id: number; type: string };
export type RepoRef = { id: number; fullName: string; owner: string; name: string };

export interface PullRequestInfo {
  number: number;
  state: "open" | "closed";
  draft: boolean;
  merged: boolean;
  author: Actor;
  labels: string[];
  headSha: string;
  headRef: string;
  /** The repository the head branch lives in; null when a fork was deleted. */
  headRepo: RepoRef | null;
  /** True when the head is not in the base repository (a fork, or a deleted one). */
  fromFork: boolean;
  baseSha: string;
  baseRef: string;
  /**
   * GitHub's time of the PR's last change (ISO 8601): for a push, when the head arrived, on the
   * same clock as a comment's `createdAt`.
   */
  updatedAt?: string;
}

export const PULL_REQUEST_ACTIONS = [
  "opened",
  "reopened",
  "synchronize",
  "labeled",
  "unlabeled",
  "ready_for_review",
  "converted_to_draft",
  "closed",
  "edited",
] as const;
export type PullRequestAction = (typeof PULL_REQUEST_ACTIONS)[number];

interface Common {
  /** The App installation the delivery came through; null for a plain repository webhook. */
  installationId: number | null;
  sender: Actor;
}

export type GatewayEvent =
  | (Common & {
      kind: "pull_request";
      action: PullRequestAction;
      repo: RepoRef;
      pr: PullRequestInfo;
      /** The label added or removed (labeled / unlabeled). */
      label?: string;
      /** For `edited`: the base branch before the change (only base changes are handled). */
      previousBaseRef?: string;
    })
  | (Common & {
      kind: "pr_comment";
      action: "created";
      repo: RepoRef;
      prNumber: number;
      /** createdAt: when the comment was written (ISO 8601), if GitHub said. */
      comment: { id: number; body: string; author: Actor; createdAt?: string };
    })
  | (Common & {
      kind: "check_run_rerequested";
      repo: RepoRef;
      checkRun: {
        id: number;
        name: string;
        headSha: string;
        externalId: string | null;
        pullNumbers: number[];
      };
    })
  | (Common & {
      kind: "installation";
      action: string;
      account: string;
      /** Full names of the repositories listed in the delivery (GitHub may omit them). */
      repos: string[];
    })
  | (Common & {
      kind: "installation_repositories";
      action: "added" | "removed";
      added: string[];
      removed: string[];
    })
  | (Common & {
      /**
       * A change of who belongs to an organisation, a team, or a repository's collaborators:
       * any of them can change who is trusted.
       */
      kind: "membership";
      name: MembershipEventName;
      action: string;
      /** The account whose membership changed, when the payload names one. */
      login: string | null;
    })
  | { kind: "ping"; hookId: number; zen: string; installationId: null };

/** Events that report a membership change (all their actions). */
export const MEMBERSHIP_EVENTS = ["organization", "membership", "member", "team"] as const;
export type MembershipEventName = (typeof MEMBERSHIP_EVENTS)[number];

export type GatewayEventKind = GatewayEvent["kind"];

export type ParseResult =
  | { status: "handled"; event: GatewayEvent }
  /** An event or action the gateway does not act on. */
  | { status: "ignored"; reason: string }
  /** A handled event whose payload lacks fields the gateway needs. */
  | { status: "rejected"; reason: string };

export const HANDLED_EVENTS = new Set<string>([
  "pull_request",
  "issue_comment",
  "check_run",
  "installation",
  "installation_repositories",
  "ping",
  ...MEMBERSHIP_EVENTS,
]);

function repoRef(r: z.infer<typeof repo>): RepoRef {
  return { id: r.id, fullName: r.full_name, owner: r.owner.login, name: r.name };
}

function explain(name: string, err: z.ZodError): string {
  const first = err.issues
    .slice(0, 3)
    .map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`)
    .join("; ");
  return `${name} payload is missing fields the gateway needs: ${first}`;
}

const prPayload = z.object({
  action: z.string(),
  pull_request: pullRequest,
  repository: repo,
  sender: actor,
  installation: installationRef,
  label: z.object({ name: z.string() }).optional(),
  changes: z
    .object({ base: z.object({ ref: z.object({ from: z.string() }) }).optional() })
    .optional(),
});

const commentPayload = z.object({
  action: z.string(),
  issue: z.object({ number: z.number().int().positive(), pull_request: z.unknown().optional() }),
  comment: z.object({
    id: z.number().int(),
    body: z.string().nullable(),
    user: actor,
    created_at: z.string().nullable().optional(),
  }),
  repository: repo,
  sender: actor,
  installation: installationRef,
});

const checkRunPayload = z.object({
  action: z.string(),
  check_run: z.object({
    id: z.number().int(),
    name: z.string(),
    head_sha: sha,
    external_id: z.string().nullable().optional(),
    pull_requests: z.array(z.object({ number: z.number().int() })).default([]),
  }),
  repository: repo,
  sender: actor,
  installation: installationRef,
});

const installationPayload = z.object({
  action: z.string(),
  installation: z.object({ id: z.number().int(), account: z.object({ login: z.string() }) }),
  repositories: z.array(z.object({ full_name: z.string() })).optional(),
  sender: actor,
});

const installationReposPayload = z.object({
  action: z.enum(["added", "removed"]),
  installation: z.object({ id: z.number().int() }),
  repositories_added: z.array(z.object({ full_name: z.string() })),
  repositories_removed: z.array(z.object({ full_name: z.string() })),
  sender: actor,
});

const pingPayload = z.object({ zen: z.string(), hook_id: z.number().int() });

const login = z.object({ login: z.string() }).nullable().optional();
const membershipPayload = z.object({
  action: z.string(),
  sender: actor,
  installation: installationRef,
  // member: the collaborator; membership: the team member; organization: membership.user.
  member: login,
  membership: z.object({ user: login }).optional(),
  user: login,
});

function parsePullRequest(payload: unknown): ParseResult {
  const action = (payload as { action?: unknown })?.action;
  if (!PULL_REQUEST_ACTIONS.includes(action as PullRequestAction)) {
    return { status: "ignored", reason: `pull_request action ${String(action)} is not acted on` };
  }
  const r = prPayload.safeParse(payload);
  if (!r.success) return { status: "rejected", reason: explain("pull_request", r.error) };
  const p = r.data;
  if (p.action === "edited" && !p.changes?.base) {
    return { status: "ignored", reason: "pull_request edited without a base change" };
  }
  if ((p.action === "labeled" || p.action === "unlabeled") && !p.label) {
    return { status: "rejected", reason: `pull_request ${p.action} payload has no label` };
  }
  const pr = p.pull_request;
  const headRepo = pr.head.repo ? repoRef(pr.head.repo) : null;
  return {
    status: "handled",
    event: {
      kind: "pull_request",
      action: p.action as PullRequestAction,
      installationId: p.installation?.id ?? null,
      sender: p.sender,
      repo: repoRef(p.repository),
      pr: {
        number: pr.number,
        state: pr.state,
        draft: pr.draft ?? false,
        merged: pr.merged ?? false,
        author: pr.user,
        labels: pr.labels.map((l) => l.name),
        headSha: pr.head.sha,
        headRef: pr.head.ref,
        headRepo,
        fromFork: headRepo === null || headRepo.id !== p.repository.id,
        baseSha: pr.base.sha,
        baseRef: pr.base.ref,
        ...(pr.updated_at ? { updatedAt: pr.updated_at } : {}),
      },
      ...(p.label ? { label: p.label.name } : {}),
      ...(p.changes?.base ? { previousBaseRef: p.changes.base.ref.from } : {}),
    },
  };
}

/** Parses a delivery by its X-GitHub-Event name. Never throws on payload content. */
export function parseEvent(name: string, payload: unknown): ParseResult {
  const action = (payload as { action?: unknown } | null)?.action;
  switch (name) {
    case "pull_request":
      return parsePullRequest(payload);
    case "issue_comment": {
      if (action !== "created") {
        return { status: "ignored", reason: "only new comments carry commands" };
      }
      const r = commentPayload.safeParse(payload);
      if (!r.success) return { status: "rejected", reason: explain(name, r.error) };
      const p = r.data;
      if (p.issue.pull_request === undefined || p.issue.pull_request === null) {
        return { status: "ignored", reason: "comment on an issue, not a pull request" };
      }
      return {
        status: "handled",
        event: {
          kind: "pr_comment",
          action: "created",
          installationId: p.installation?.id ?? null,
          sender: p.sender,
          repo: repoRef(p.repository),
          prNumber: p.issue.number,
          comment: {
            id: p.comment.id,
            body: p.comment.body ?? "",
            author: p.comment.user,
            ...(p.comment.created_at ? { createdAt: p.comment.created_at } : {}),
          },
        },
      };
    }
    case "check_run": {
      if (action !== "rerequested") {
        return { status: "ignored", reason: `check_run action ${String(action)} is not acted on` };
      }
      const r = checkRunPayload.safeParse(payload);
      if (!r.success) return { status: "rejected", reason: explain(name, r.error) };
      const p = r.data;
      return {
        status: "handled",
        event: {
          kind: "check_run_rerequested",
          installationId: p.installation?.id ?? null,
          sender: p.sender,
          repo: repoRef(p.repository),
          checkRun: {
            id: p.check_run.id,
            name: p.check_run.name,
            headSha: p.check_run.head_sha,
            externalId: p.check_run.external_id ?? null,
            pullNumbers: p.check_run.pull_requests.map((x) => x.number),
          },
        },
      };
    }
    case "installation": {
      const r = installationPayload.safeParse(payload);
      if (!r.success) return { status: "rejected", reason: explain(name, r.error) };
      const p = r.data;
      return {
        status: "handled",
        event: {
          kind: "installation",
          action: p.action,
          installationId: p.installation.id,
          sender: p.sender,
          account: p.installation.account.login,
          repos: (p.repositories ?? []).map((x) => x.full_name),
        },
      };
    }
    case "installation_repositories": {
      const r = installationReposPayload.safeParse(payload);
      if (!r.success) return { status: "rejected", reason: explain(name, r.error) };
      const p = r.data;
      return {
        status: "handled",
        event: {
          kind: "installation_repositories",
          action: p.action,
          installationId: p.installation.id,
          sender: p.sender,
          added: p.repositories_added.map((x) => x.full_name),
          removed: p.repositories_removed.map((x) => x.full_name),
        },
      };
    }
    case "organization":
    case "membership":
    case "member":
    case "team": {
      const r = membershipPayload.safeParse(payload);
      if (!r.success) return { status: "rejected", reason: explain(name, r.error) };
      const p = r.data;
      return {
        status: "handled",
        event: {
          kind: "membership",
          name,
          action: p.action,
          installationId: p.installation?.id ?? null,
          sender: p.sender,
          login: p.member?.login ?? p.membership?.user?.login ?? p.user?.login ?? null,
        },
      };
    }
    case "ping": {
      const r = pingPayload.safeParse(payload);
      if (!r.success) return { status: "rejected", reason: explain(name, r.error) };
      return {
        status: "handled",
        event: { kind: "ping", hookId: r.data.hook_id, zen: r.data.zen, installationId: null },
      };
    }
    default:
      return { status: "ignored", reason: `event ${name} is not acted on` };
  }
}
