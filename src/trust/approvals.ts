// The rules that turn an `/ok-to-test` comment or an `ok-to-test` label into an approval of one
// commit. Pure: the caller supplies who sent it, what it names, and the PR's current head.

export const APPROVE_LABEL = "ok-to-test";

export type ApprovalDecision =
  | { ok: true; sha: string }
  | { ok: false; reason: string /** True when the sender should be told why. */; reply: boolean };

export interface Head {
  sha: string;
  /** When Airlock learned of this head (ms). */
  seenAt: number;
}

const FULL_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/**
 * `/ok-to-test` binds the current head; `/ok-to-test <sha>` binds that SHA, which must be the full
 * head SHA. A short prefix is refused: 7 hex digits are 28 bits, few enough that a contributor can
 * craft a commit with the same prefix and push it before the comment is processed.
 * A bare `/ok-to-test` written before Airlock learned of the current head is refused too: the
 * commenter may have reviewed an older commit.
 */
export function approveByComment(input: {
  senderTrusted: boolean;
  sender: string;
  requestedSha?: string;
  head: Head | undefined;
  commentCreatedAt: number;
}): ApprovalDecision {
  const { senderTrusted, sender, requestedSha, head } = input;
  if (!senderTrusted) {
    return { ok: false, reason: `${sender} is not trusted to approve`, reply: false };
  }
  if (!head) return { ok: false, reason: "the pull request's head is not known yet", reply: true };
  if (requestedSha !== undefined) {
    const want = requestedSha.toLowerCase();
    if (!FULL_SHA.test(want)) {
      return {
        ok: false,
        // The argument is untrusted text: it is not echoed back.
        reason: `\`/ok-to-test <sha>\` must name the full 40-character head SHA (${head.sha})`,
        reply: true,
      };
    }
    if (want !== head.sha.toLowerCase()) {
      return {
        ok: false,
        reason: `${want.slice(0, 12)} is not the head of this pull request (the head is ${head.sha.slice(0, 12)}): review the new commits and approve again`,
        reply: true,
      };
    }
    return { ok: true, sha: head.sha };
  }
  if (input.commentCreatedAt < head.seenAt) {
    // Airlock learned of the head after the comment was written (a push, a reopen, or its first
    // sight of the PR): the commenter may have reviewed an older commit, so the bare command
    // binds nothing. Only what is known is said, with the SHA to approve explicitly.
    return {
      ok: false,
      reason: `Airlock cannot tell that ${head.sha} was the head when this comment was written (it learned of that commit afterwards), so the comment approves nothing. If it is the commit you reviewed, comment \`/ok-to-test ${head.sha}\``,
      reply: true,
    };
  }
  return { ok: true, sha: head.sha };
}

/**
 * The label binds the head the PR had when it was labeled (the event's `pull_request.head.sha`),
 * and only while that is still the head.
 */
export function approveByLabel(input: {
  senderTrusted: boolean;
  sender: string;
  labeledSha: string;
  head: Head | undefined;
}): ApprovalDecision {
  if (!input.senderTrusted) {
    return { ok: false, reason: `${input.sender} is not trusted to approve`, reply: false };
  }
  if (!input.head || input.head.sha !== input.labeledSha) {
    return {
      ok: false,
      reason: `the label was added to ${input.labeledSha.slice(0, 12)}, which is no longer the head: remove and add it again`,
      reply: true,
    };
  }
  return { ok: true, sha: input.labeledSha };
}
