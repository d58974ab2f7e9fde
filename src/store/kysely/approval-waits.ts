// The approval inbox's rows: one per commit of a PR that waits, or waited, for an approval. A
// commit's notice and reminder are claimed by one conditional UPDATE each, so the caller that
// stores the notice in the same transaction is the only one that ever does.
import type { Selectable } from "kysely";
import type { ApprovalWaitsTable } from "../approval-waits-schema.js";
import type { ApprovalWait, ApprovalWaitRepo, NewWait, WaitState, WaitView } from "../types.js";
import { type Ctx, changed } from "./context.js";

const EMPTY_VIEW: WaitView = {
  requirements: [],
  incomplete: false,
  paths: [],
  pathCount: 0,
  waiting: [],
};

function parseView(text: string): WaitView {
  try {
    return { ...EMPTY_VIEW, ...(JSON.parse(text) as WaitView) };
  } catch {
    return EMPTY_VIEW;
  }
}

const toWait = (r: Selectable<ApprovalWaitsTable>): ApprovalWait => ({
  repo: r.repo,
  pr: r.pr,
  sha: r.sha,
  installationId: r.installation_id,
  baseSha: r.base_sha,
  author: r.author,
  title: r.title,
  state: r.state as WaitState,
  since: r.since,
  updatedAt: r.updated_at,
  view: parseView(r.view),
  notifiedAt: r.notified_at,
  remindAt: r.remind_at,
  remindedAt: r.reminded_at,
});

export class ApprovalWaitRepoImpl implements ApprovalWaitRepo {
  constructor(private readonly c: Ctx) {}

  wait(w: NewWait, now = Date.now()): Promise<ApprovalWait> {
    return this.c.atomic(async (db) => {
      const fields = {
        installation_id: w.installationId,
        base_sha: w.baseSha,
        author: w.author,
        title: w.title,
        state: "waiting",
        updated_at: now,
        view: JSON.stringify(w.view),
      };
      await db
        .insertInto("approval_waits")
        .values({ repo: w.repo, pr: w.pr, sha: w.sha, since: now, ...fields })
        .onConflict((oc) => oc.columns(["repo", "pr", "sha"]).doUpdateSet(fields))
        .execute();
      await db
        .updateTable("approval_waits")
        .set({ state: "superseded", updated_at: now })
        .where("repo", "=", w.repo)
        .where("pr", "=", w.pr)
        .where("sha", "!=", w.sha)
        .where("state", "=", "waiting")
        .execute();
      const row = await db
        .selectFrom("approval_waits")
        .selectAll()
        .where("repo", "=", w.repo)
        .where("pr", "=", w.pr)
        .where("sha", "=", w.sha)
        .executeTakeFirstOrThrow();
      return toWait(row);
    });
  }

  async settle(
    repo: string,
    pr: number,
    state: Exclude<WaitState, "waiting">,
    which: { sha?: string; exceptSha?: string } = {},
    now = Date.now(),
  ): Promise<number> {
    let q = this.c.db
      .updateTable("approval_waits")
      .set({ state, updated_at: now })
      .where("repo", "=", repo)
      .where("pr", "=", pr)
      .where("state", "=", "waiting");
    if (which.sha !== undefined) q = q.where("sha", "=", which.sha);
    if (which.exceptSha !== undefined) q = q.where("sha", "!=", which.exceptSha);
    return changed(await q.executeTakeFirst());
  }

  /** Sets `values` on the commit's row while it waits and `unset` is still null: once. */
  private async claim(
    repo: string,
    pr: number,
    sha: string,
    unset: "notified_at" | "reminded_at",
    values: Partial<Record<"notified_at" | "remind_at" | "reminded_at", number | null>>,
  ): Promise<boolean> {
    const r = await this.c.db
      .updateTable("approval_waits")
      .set(values)
      .where("repo", "=", repo)
      .where("pr", "=", pr)
      .where("sha", "=", sha)
      .where("state", "=", "waiting")
      .where(unset, "is", null)
      .executeTakeFirst();
    return changed(r) === 1;
  }

  claimNotice(
    repo: string,
    pr: number,
    sha: string,
    remindAt: number | null,
    now = Date.now(),
  ): Promise<boolean> {
    return this.claim(repo, pr, sha, "notified_at", { notified_at: now, remind_at: remindAt });
  }

  claimReminder(repo: string, pr: number, sha: string, now = Date.now()): Promise<boolean> {
    return this.claim(repo, pr, sha, "reminded_at", { reminded_at: now });
  }

  async get(repo: string, pr: number, sha: string): Promise<ApprovalWait | undefined> {
    const r = await this.c.db
      .selectFrom("approval_waits")
      .selectAll()
      .where("repo", "=", repo)
      .where("pr", "=", pr)
      .where("sha", "=", sha)
      .executeTakeFirst();
    return r ? toWait(r) : undefined;
  }

  async waiting(limit = 500): Promise<ApprovalWait[]> {
    const rows = await this.c.db
      .selectFrom("approval_waits")
      .selectAll()
      .where("state", "=", "waiting")
      .orderBy("since")
      .orderBy("repo")
      .orderBy("pr")
      .limit(limit)
      .execute();
    return rows.map(toWait);
  }

  async dueReminders(now = Date.now(), limit = 100): Promise<ApprovalWait[]> {
    const rows = await this.c.db
      .selectFrom("approval_waits")
      .selectAll()
      .where("state", "=", "waiting")
      .where("reminded_at", "is", null)
      .where("remind_at", "is not", null)
      .where("remind_at", "<=", now)
      .orderBy("remind_at")
      .limit(limit)
      .execute();
    return rows.map(toWait);
  }
}
