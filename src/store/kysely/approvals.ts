// The current head of each pull request and the approvals pinned to exact SHAs. Recording a new
// head voids every approval of the PR for another SHA in the same transaction, so no window exists
// in which an old approval covers a new push (DESIGN.md invariant 1). Every approval and every
// voiding is written to the audit log in the same transaction.
import type { ExpressionBuilder, Kysely, Selectable } from "kysely";
import type { ApprovalsTable } from "../approvals-schema.js";
import type { Database } from "../schema.js";
import type { Approval, ApprovalRepo, AuditRepo, PrHead } from "../types.js";
import type { Ctx } from "./context.js";

const toApproval = (r: Selectable<ApprovalsTable>): Approval => ({
  id: r.id,
  sha: r.sha,
  approvedBy: r.approved_by,
  via: r.via as Approval["via"],
  createdAt: r.created_at,
  voidedAt: r.voided_at,
  voidReason: r.void_reason,
});

type Where = (
  eb: ExpressionBuilder<Database, "approvals">,
) => ReturnType<ExpressionBuilder<Database, "approvals">["and"]>;

export class ApprovalRepoImpl implements ApprovalRepo {
  constructor(private readonly c: Ctx) {}

  /** The PR's head sha, locked until the transaction ends on PostgreSQL (SQLite locks it all). */
  private async currentSha(db: Kysely<Database>, repo: string, pr: number) {
    let q = db.selectFrom("pr_heads").select("sha").where("repo", "=", repo).where("pr", "=", pr);
    if (this.c.engine === "postgres") q = q.forUpdate();
    return (await q.executeTakeFirst())?.sha;
  }

  /** Voids the standing approvals that `where` selects, each with an audit entry. */
  private async voidWhere(
    db: Kysely<Database>,
    audit: AuditRepo,
    where: Where,
    reason: string,
    actor: string,
    now: number,
  ): Promise<number> {
    const standing = await db
      .selectFrom("approvals")
      .select(["id", "pr", "sha", "repo"])
      .where("voided_at", "is", null)
      .where(where)
      .orderBy("id")
      .execute();
    for (const a of standing) {
      await db
        .updateTable("approvals")
        .set({ voided_at: now, void_reason: reason })
        .where("id", "=", a.id)
        .execute();
      await audit.record({
        action: "approval-void",
        actor,
        detail: `${a.repo}#${a.pr} at ${a.sha}: ${reason}`,
        at: now,
      });
    }
    return standing.length;
  }

  async head(repo: string, pr: number): Promise<PrHead | undefined> {
    const r = await this.c.db
      .selectFrom("pr_heads")
      .selectAll()
      .where("repo", "=", repo)
      .where("pr", "=", pr)
      .executeTakeFirst();
    return r ? { sha: r.sha, pushedBy: r.pushed_by || null, seenAt: r.seen_at } : undefined;
  }

  setHead(repo: string, pr: number, sha: string, pushedBy: string | null, now = Date.now()) {
    return this.c.atomic(async (db, tx) => {
      const cur = await this.currentSha(db, repo, pr);
      if (cur === sha) {
        // Evidence delivered after another action on the same head fills in an unknown pusher.
        if (pushedBy) {
          await db
            .updateTable("pr_heads")
            .set({ pushed_by: pushedBy })
            .where("repo", "=", repo)
            .where("pr", "=", pr)
            .where("pushed_by", "=", "")
            .execute();
        }
        return { changed: false, previous: cur, voided: 0 };
      }
      // "" in the column: no evidence of who pushed.
      const row = { sha, pushed_by: pushedBy ?? "", seen_at: now };
      await db
        .insertInto("pr_heads")
        .values({ repo, pr, ...row })
        .onConflict((oc) => oc.columns(["repo", "pr"]).doUpdateSet(row))
        .execute();
      const voided = await this.voidWhere(
        db,
        tx.audit,
        (eb) => eb.and([eb("repo", "=", repo), eb("pr", "=", pr), eb("sha", "!=", sha)]),
        `a new commit ${sha.slice(0, 12)} was pushed`,
        pushedBy ?? "unknown",
        now,
      );
      return { changed: true, previous: cur, voided };
    });
  }

  approve(
    repo: string,
    pr: number,
    sha: string,
    approvedBy: string,
    via: "comment" | "label",
    now = Date.now(),
  ): Promise<boolean> {
    return this.c.atomic(async (db, tx) => {
      if ((await this.currentSha(db, repo, pr)) !== sha) return false;
      await db
        .insertInto("approvals")
        .values({ repo, pr, sha, approved_by: approvedBy, via, created_at: now })
        .execute();
      await tx.audit.record({
        action: "approve",
        actor: approvedBy,
        detail: `${repo}#${pr} at ${sha} (by ${via === "label" ? "the ok-to-test label" : "/ok-to-test"})`,
        at: now,
      });
      return true;
    });
  }

  async approvalFor(repo: string, pr: number, sha: string): Promise<Approval | undefined> {
    const r = await this.c.db
      .selectFrom("approvals")
      .selectAll()
      .where("repo", "=", repo)
      .where("pr", "=", pr)
      .where("sha", "=", sha)
      .where("voided_at", "is", null)
      .orderBy("id")
      .limit(1)
      .executeTakeFirst();
    return r ? toApproval(r) : undefined;
  }

  async history(repo: string, pr: number): Promise<Approval[]> {
    const rows = await this.c.db
      .selectFrom("approvals")
      .selectAll()
      .where("repo", "=", repo)
      .where("pr", "=", pr)
      .orderBy("id")
      .execute();
    return rows.map(toApproval);
  }

  voidAll(repo: string, pr: number, reason: string, now = Date.now()): Promise<number> {
    return this.c.atomic((db, tx) =>
      this.voidWhere(
        db,
        tx.audit,
        (eb) => eb.and([eb("repo", "=", repo), eb("pr", "=", pr)]),
        reason,
        "airlock",
        now,
      ),
    );
  }
}
