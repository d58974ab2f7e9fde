// What an outbox item asks GitHub to do, and the pure helpers that shape it: kept apart from the
// delivery loop so that modules which only store items (a transaction's comment) need nothing else.
import { createHash } from "node:crypto";
import type { CheckRunState, CommitStatus, StatusState } from "../../forge/types.js";
import type { NewOutboxItem } from "../../store/index.js";

export type OutboxMessage =
  | {
      kind: "check_run";
      state: CheckRunState;
      /** It stands in for an unsent state that was not completed: it reopens the check. */
      reopens?: boolean;
    }
  | { kind: "status"; sha: string; status: CommitStatus }
  | { kind: "comment"; issue: number; body: string }
  | { kind: "remove_label"; issue: number; label: string };

const STATUS_DESCRIPTION_MAX = 140;

/** A marker hidden in each comment, so a retried post can tell that the first one arrived. */
export const commentMarker = (key: string) =>
  `<!-- airlock:${createHash("sha256").update(key).digest("hex").slice(0, 24)} -->`;

/** The commit status that stands in for a check run where checks are not permitted. */
export function statusFromCheck(state: CheckRunState): CommitStatus {
  let s: StatusState = "pending";
  if (state.status === "completed") {
    const c = state.conclusion;
    s =
      c === "success" || c === "neutral" || c === "skipped"
        ? "success"
        : c === "cancelled"
          ? "error"
          : "failure";
  }
  const title = state.output?.title ?? state.status.replace("_", " ");
  const description =
    title.length > STATUS_DESCRIPTION_MAX
      ? `${title.slice(0, STATUS_DESCRIPTION_MAX - 1)}…`
      : title;
  return {
    state: s,
    context: state.name,
    description,
    ...(state.details_url ? { target_url: state.details_url } : {}),
  };
}

/** The item of a comment posted once per key (stored by `Outbox.comment`, or in a transaction). */
export function commentItem(
  repo: string,
  installationId: number,
  issue: number,
  body: string,
  key: string,
): NewOutboxItem {
  const k = `comment:${key}`;
  return {
    kind: "comment",
    key: k,
    orderingKey: k,
    repo,
    installationId,
    payload: {
      kind: "comment",
      issue,
      body: `${body}\n\n${commentMarker(k)}`,
    } satisfies OutboxMessage,
  };
}
