// Table types for per-commit authorization: the current head of each PR, and approvals pinned
// to one SHA (DESIGN.md invariant 1).
import type { Generated } from "kysely";

export interface PrHeadsTable {
  repo: string;
  pr: number;
  sha: string;
  /** Login of whoever an event proves pushed this head (opened/synchronize); "" when none did. */
  pushed_by: string;
  /** When Airlock learned of this head (ms since epoch). */
  seen_at: number;
}

export interface ApprovalsTable {
  id: Generated<number>;
  repo: string;
  pr: number;
  /** The exact commit approved. */
  sha: string;
  approved_by: string;
  /** "comment" or "label". */
  via: string;
  created_at: number;
  voided_at: number | null;
  void_reason: string | null;
}
