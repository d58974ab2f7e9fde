// Table type for the approval inbox: each commit of a PR that waits, or waited, for an approval.

export interface ApprovalWaitsTable {
  repo: string;
  pr: number;
  /** The commit that waits: one row per commit, so a push starts a new wait. */
  sha: string;
  installation_id: number;
  /** The base commit whose trusted definition decided (its notify settings, its rules). */
  base_sha: string;
  author: string;
  /** The PR's title (the author's text: shown escaped, never sent). */
  title: string;
  /** "waiting", or why it stopped: "approved", "superseded", "closed", "draft". */
  state: string;
  /** When the commit started waiting (ms); kept while it waits again after a pause. */
  since: number;
  updated_at: number;
  /** JSON WaitView: what it waits for (rules, approvals so far, changed paths, delta). No log text. */
  view: string;
  /** When its notice was stored for sending; null: none yet. */
  notified_at: number | null;
  /** When a reminder is due; null: none asked for. */
  remind_at: number | null;
  reminded_at: number | null;
}
