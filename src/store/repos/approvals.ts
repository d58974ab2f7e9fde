// Approvals, pull-request labels and heads, and the approval inbox. Part of the Store interface
// (../types.ts).

/** Test labels of each PR that a trusted sender set. */
export interface PrLabelRepo {
  add(repo: string, pr: number, label: string, by: string, now?: number): Promise<void>;
  remove(repo: string, pr: number, label: string): Promise<void>;
  trusted(repo: string, pr: number): Promise<string[]>;
}

export interface PrHead {
  sha: string;
  /** Who an event proves pushed this head; null when no event did (never taken for trust). */
  pushedBy: string | null;
  seenAt: number;
}

export interface Approval {
  id: number;
  sha: string;
  approvedBy: string;
  via: "comment" | "label";
  createdAt: number;
  voidedAt: number | null;
  voidReason: string | null;
}

/**
 * The head of each PR and approvals pinned to exact SHAs. Recording a new head voids approvals of
 * other SHAs in the same transaction; every approval and voiding is audited in it too.
 */
export interface ApprovalRepo {
  head(repo: string, pr: number): Promise<PrHead | undefined>;
  /**
   * Records the head. `pushedBy`: who an event proves pushed exactly this commit, or null. A new
   * head starts over from this evidence; on the same head, evidence fills in an unknown pusher
   * but never replaces a known one (docs/security.md, "Who pushed a commit").
   */
  setHead(
    repo: string,
    pr: number,
    sha: string,
    pushedBy: string | null,
    now?: number,
  ): Promise<{ changed: boolean; previous: string | undefined; voided: number }>;
  /** Stores an approval of `sha` only while it is still the PR's head. */
  approve(
    repo: string,
    pr: number,
    sha: string,
    approvedBy: string,
    via: "comment" | "label",
    now?: number,
  ): Promise<boolean>;
  approvalFor(repo: string, pr: number, sha: string): Promise<Approval | undefined>;
  /** Every approval of the PR, voided ones included, oldest first. */
  history(repo: string, pr: number): Promise<Approval[]>;
  voidAll(repo: string, pr: number, reason: string, now?: number): Promise<number>;
}

/** "waiting", or why a commit stopped waiting. */
export type WaitState = "waiting" | "approved" | "superseded" | "closed" | "draft";

/** One requirement of a commit's approval, and where it stands. */
export interface WaitRequirement {
  /** The rule's name; "default" for the approval every commit needs. */
  name: string;
  /** What it asks, in words ("2 approvals from distinct trusted members"). */
  text: string;
  /** Who approved so far and counts. */
  by: string[];
  /** Approvals still needed. */
  missing: number;
  /** Changed paths that brought the rule in (a few), and how many in all. */
  paths: string[];
  matched: number;
}

/** What a commit waits for: names, counts and paths, never a line of a log or a secret. */
export interface WaitView {
  requirements: WaitRequirement[];
  /** The forge listed only part of the changed files (every rule applies). */
  incomplete: boolean;
  /** The changed paths (the first few) and how many in all; empty when not compared. */
  paths: string[];
  pathCount: number;
  /** Restricted jobs that wait. */
  waiting: string[];
  /** A bot's scope runs these meanwhile. */
  scoped?: { bot: string; jobs: string[] };
  /** What changed since the PR's last approved commit. */
  delta?: {
    fromSha: string;
    approvedBy: string[];
    /** The first few paths, and how many in all. */
    paths: string[];
    count: number;
    url: string;
    /** The approved commit is not an ancestor of this one (history was rewritten). */
    rewritten: boolean;
  };
}

export interface ApprovalWait {
  repo: string;
  pr: number;
  sha: string;
  installationId: number;
  baseSha: string;
  author: string;
  /** The PR's title: the author's text, shown escaped. */
  title: string;
  state: WaitState;
  /** When the commit started waiting. */
  since: number;
  updatedAt: number;
  view: WaitView;
  /** When its notice was stored for sending (null: none yet). */
  notifiedAt: number | null;
  /** When its reminder is due (null: none asked for). */
  remindAt: number | null;
  remindedAt: number | null;
}

export type NewWait = Pick<
  ApprovalWait,
  "repo" | "pr" | "sha" | "installationId" | "baseSha" | "author" | "title" | "view"
>;

/**
 * Commits waiting for an approval, one row per commit. Claims (`claimNotice`, `claimReminder`) are
 * single statements that succeed once per commit, so a notice stored in the same transaction as
 * its claim is sent once, however many events or processes ask.
 */
export interface ApprovalWaitRepo {
  /**
   * Records that the PR's head `w.sha` waits: a new row starts its wait now; a known one keeps its
   * start, notice and reminder and takes the new view. The PR's other waiting commits are
   * superseded in the same transaction. Returns the row as stored.
   */
  wait(w: NewWait, now?: number): Promise<ApprovalWait>;
  /** Ends the PR's waits: one commit's (`sha`), every one but `exceptSha`'s, or all. */
  settle(
    repo: string,
    pr: number,
    state: Exclude<WaitState, "waiting">,
    which?: { sha?: string; exceptSha?: string },
    now?: number,
  ): Promise<number>;
  /**
   * Marks the commit's notice as stored, once: true when this call did (it waits and had none).
   * `remindAt`: when a reminder becomes due (null: none).
   */
  claimNotice(
    repo: string,
    pr: number,
    sha: string,
    remindAt: number | null,
    now?: number,
  ): Promise<boolean>;
  /** Marks the commit's reminder as stored, once, while it still waits. */
  claimReminder(repo: string, pr: number, sha: string, now?: number): Promise<boolean>;
  get(repo: string, pr: number, sha: string): Promise<ApprovalWait | undefined>;
  /** Commits waiting now, the longest waiting first. */
  waiting(limit?: number): Promise<ApprovalWait[]>;
  /** Waiting commits whose reminder is due and not stored yet, the earliest due first. */
  dueReminders(now?: number, limit?: number): Promise<ApprovalWait[]>;
}
