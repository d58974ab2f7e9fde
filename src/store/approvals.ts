// The current head of each pull request and the approvals pinned to exact SHAs. Recording a new
// head voids every approval of the PR for another SHA in the same transaction, so no window exists
// in which an old approval covers a new push (DESIGN.md invariant 1). Every approval and every
// voiding is written to the audit log in the same transaction.
import type SQLite from "better-sqlite3";
import type { Selectable } from "kysely";
import type { ApprovalsTable, PrHeadsTable } from "./approvals-schema.js";
import { AuditLog } from "./audit.js";

export interface PrHead {
  sha: string;
  /**
   * Who pushed this head, when an event proved it (see setHead); null when Airlock holds no such
   * evidence, which is never taken for trust.
   */
  pushedBy: string | null;
  /** When Airlock learned of this head (ms): GitHub's time of the change when an event gave it. */
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

const toApproval = (r: Selectable<ApprovalsTable>): Approval => ({
  id: r.id,
  sha: r.sha,
  approvedBy: r.approved_by,
  via: r.via as Approval["via"],
  createdAt: r.created_at,
  voidedAt: r.voided_at,
  voidReason: r.void_reason,
});

export class ApprovalStore {
  private readonly audit: AuditLog;

  constructor(private readonly sqlite: SQLite.Database) {
    this.audit = new AuditLog(sqlite);
  }

  /** Voids the standing approvals that `where` selects, each with an audit entry. */
  private voidWhere(
    where: string,
    args: unknown[],
    reason: string,
    actor: string,
    now: number,
  ): number {
    const standing = this.sqlite
      .prepare(`SELECT id, pr, sha, repo FROM approvals WHERE voided_at IS NULL AND ${where}`)
      .all(...args) as { id: number; pr: number; sha: string; repo: string }[];
    const update = this.sqlite.prepare(
      `UPDATE approvals SET voided_at = ?, void_reason = ? WHERE id = ?`,
    );
    for (const a of standing) {
      update.run(now, reason, a.id);
      this.audit.recordSync({
        action: "approval-void",
        actor,
        detail: `${a.repo}#${a.pr} at ${a.sha}: ${reason}`,
        at: now,
      });
    }
    return standing.length;
  }

  /** Waits until no async transaction of another module is open on the shared connection. */
  private async ready(): Promise<void> {
    while (this.sqlite.inTransaction) await new Promise((r) => setImmediate(r));
  }

  async head(repo: string, pr: number): Promise<PrHead | undefined> {
    await this.ready();
    const r = this.sqlite
      .prepare(`SELECT * FROM pr_heads WHERE repo = ? AND pr = ?`)
      .get(repo, pr) as PrHeadsTable | undefined;
    return r ? { sha: r.sha, pushedBy: r.pushed_by || null, seenAt: r.seen_at } : undefined;
  }

  /**
   * Records the PR's head. `pushedBy` is who an event proves pushed exactly this commit, or null
   * when the event proves nothing about it. When the head differs from the stored one, approvals
   * for any other SHA are voided, and the pusher starts over from this event's evidence; when it
   * is the same, evidence fills in an unknown pusher (a push delivered after another action on
   * the same head) but never replaces a known one. The answer says whether the head changed and
   * how many approvals were voided.
   */
  async setHead(
    repo: string,
    pr: number,
    sha: string,
    pushedBy: string | null,
    now = Date.now(),
  ): Promise<{ changed: boolean; previous: string | undefined; voided: number }> {
    await this.ready();
    return this.sqlite.transaction(() => {
      const cur = this.sqlite
        .prepare(`SELECT sha, pushed_by FROM pr_heads WHERE repo = ? AND pr = ?`)
        .get(repo, pr) as { sha: string; pushed_by: string } | undefined;
      if (cur?.sha === sha) {
        if (pushedBy && !cur.pushed_by) {
          this.sqlite
            .prepare(`UPDATE pr_heads SET pushed_by = ? WHERE repo = ? AND pr = ?`)
            .run(pushedBy, repo, pr);
        }
        return { changed: false, previous: cur.sha, voided: 0 };
      }
      this.sqlite
        .prepare(
          `INSERT INTO pr_heads (repo, pr, sha, pushed_by, seen_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (repo, pr) DO UPDATE SET sha = excluded.sha, pushed_by = excluded.pushed_by,
           seen_at = excluded.seen_at`,
        )
        // "" in the column: no evidence of who pushed.
        .run(repo, pr, sha, pushedBy ?? "", now);
      const voided = this.voidWhere(
        "repo = ? AND pr = ? AND sha != ?",
        [repo, pr, sha],
        `a new commit ${sha.slice(0, 12)} was pushed`,
        pushedBy ?? "unknown",
        now,
      );
      return { changed: true, previous: cur?.sha, voided };
    })();
  }

  /**
   * Stores an approval of `sha`, but only while it is still the PR's head: the check and the insert
   * share a transaction with setHead's update, so a push cannot slip between them.
   */
  async approve(
    repo: string,
    pr: number,
    sha: string,
    approvedBy: string,
    via: "comment" | "label",
    now = Date.now(),
  ): Promise<boolean> {
    await this.ready();
    return this.sqlite.transaction(() => {
      const cur = this.sqlite
        .prepare(`SELECT sha FROM pr_heads WHERE repo = ? AND pr = ?`)
        .get(repo, pr) as { sha: string } | undefined;
      if (cur?.sha !== sha) return false;
      this.sqlite
        .prepare(
          `INSERT INTO approvals (repo, pr, sha, approved_by, via, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
        )
        .run(repo, pr, sha, approvedBy, via, now);
      this.audit.recordSync({
        action: "approve",
        actor: approvedBy,
        detail: `${repo}#${pr} at ${sha} (by ${via === "label" ? "the ok-to-test label" : "/ok-to-test"})`,
        at: now,
      });
      return true;
    })();
  }

  /** The standing (not voided) approval of exactly this SHA, if any. */
  async approvalFor(repo: string, pr: number, sha: string): Promise<Approval | undefined> {
    await this.ready();
    const r = this.sqlite
      .prepare(
        `SELECT * FROM approvals WHERE repo = ? AND pr = ? AND sha = ? AND voided_at IS NULL
         ORDER BY id LIMIT 1`,
      )
      .get(repo, pr, sha) as Selectable<ApprovalsTable> | undefined;
    return r ? toApproval(r) : undefined;
  }

  /** Every approval of the PR, voided ones included, oldest first (for the approval check). */
  async history(repo: string, pr: number): Promise<Approval[]> {
    await this.ready();
    const rows = this.sqlite
      .prepare(`SELECT * FROM approvals WHERE repo = ? AND pr = ? ORDER BY id`)
      .all(repo, pr) as Selectable<ApprovalsTable>[];
    return rows.map(toApproval);
  }

  /** Voids every standing approval of a PR (closed, or its base changed). */
  async voidAll(repo: string, pr: number, reason: string, now = Date.now()): Promise<number> {
    await this.ready();
    return this.sqlite.transaction(() =>
      this.voidWhere("repo = ? AND pr = ?", [repo, pr], reason, "airlock", now),
    )();
  }
}
