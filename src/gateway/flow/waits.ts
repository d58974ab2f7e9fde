// The approval inbox's side of the flow. When the approval check of a PR's head is reported, the
// inbox follows it: a commit that waits is recorded (again) with what it waits for, in the
// transaction that marks the event done; a commit that no longer waits (authorized, a draft, or
// superseded by a new head) leaves it. A closed PR's commits leave it with the PR.
//
// The first time a commit waits, its notice (trust.notify) is stored in that same transaction,
// claimed on the commit's row: each waiting commit is announced once, however many events arrive
// for it or processes handle them. A reminder goes out once per commit, when it is due and the
// commit still waits as the PR's head.
import { durationMs } from "../../config/schema.js";
import type { Comparison } from "../../forge/types.js";
import type { NewWait, WaitView } from "../../store/index.js";
import { describeRequirement } from "../../trust/policy.js";
import type { ApprovalView } from "../approval-check.js";
import type { HandlerContext } from "../events.js";
import { noticeItems } from "./notify.js";
import type { Flow, Loaded, PrFacts } from "./types.js";

/** Changed paths kept with a wait, for the inbox (more are counted). */
const PATHS_KEPT = 20;

type Waiting = Extract<ApprovalView, { kind: "waiting" }>;

/** What the inbox keeps of a waiting commit: names, counts and paths; never a log line. */
export function waitView(v: Waiting, changes: Comparison | undefined): WaitView {
  const d = v.delta;
  return {
    requirements: (v.requirements ?? []).map((r) => ({
      name: r.name,
      text: describeRequirement(r),
      by: r.by,
      missing: r.missing,
      paths: r.paths,
      matched: r.matched,
    })),
    incomplete: v.incomplete ?? false,
    paths: changes?.files.slice(0, PATHS_KEPT).map((f) => f.path) ?? [],
    pathCount: changes?.files.length ?? 0,
    waiting: v.restrictedJobs,
    ...(v.scoped ? { scoped: v.scoped } : {}),
    ...(d
      ? {
          delta: {
            fromSha: d.fromSha,
            approvedBy: d.approvedBy,
            paths: d.comparison.files.slice(0, PATHS_KEPT).map((f) => f.path),
            count: d.comparison.files.length,
            url: d.comparison.url,
            rewritten: d.comparison.status === "diverged" || d.comparison.status === "behind",
          },
        }
      : {}),
  };
}

/** Records where the PR's head stands in the inbox, given the approval check just reported. */
export async function noteWait(
  flow: Flow,
  f: PrFacts,
  loaded: Loaded,
  view: ApprovalView,
  ctx: HandlerContext,
): Promise<void> {
  if (view.kind !== "waiting" || f.draft) {
    const state = f.draft ? "draft" : "approved";
    ctx.atCompletion(async (tx) => {
      await tx.waits.settle(f.repo, f.number, state, { sha: f.headSha });
      await tx.waits.settle(f.repo, f.number, "superseded", { exceptSha: f.headSha });
    });
    return;
  }
  // What the commit changes, for the reader (asked already, and cached, when rules apply).
  const changes = await flow.changes(f).catch(() => undefined);
  const wait: NewWait = {
    repo: f.repo,
    pr: f.number,
    sha: f.headSha,
    installationId: f.installationId,
    baseSha: f.baseSha,
    author: f.author.login,
    title: f.title ?? "",
    view: waitView(view, changes),
  };
  const notify = loaded.base.trust.notify;
  ctx.atCompletion(async (tx) => {
    const row = await tx.waits.wait(wait);
    if (!notify || row.notifiedAt !== null) return;
    const remindAt = notify.remind_after ? row.since + durationMs(notify.remind_after) : null;
    if (!(await tx.waits.claimNotice(row.repo, row.pr, row.sha, remindAt))) return;
    for (const item of noticeItems(flow, row, notify, "waiting")) await tx.outbox.enqueue(item);
    tx.afterCommit(() => flow.o.outbox.poke());
  });
}

/**
 * Stores the reminders that are due: once per commit, and only while it is still the PR's head
 * and its base definition still asks for notices. Returns how many were stored.
 */
export async function sendReminders(flow: Flow, now = Date.now()): Promise<number> {
  const { waits } = flow.o;
  let sent = 0;
  for (const w of await waits.dueReminders(now)) {
    const head = await flow.o.approvals.head(w.repo, w.pr);
    if (head?.sha !== w.sha) {
      await waits.settle(w.repo, w.pr, "superseded", { sha: w.sha }, now);
      continue;
    }
    const notify = (await flow.baseConfig(w.repo, w.installationId, w.baseSha).catch(() => null))
      ?.trust.notify;
    const items = notify ? noticeItems(flow, w, notify, "reminder") : [];
    // The claim and the items commit together: a reminder is stored once, or not at all.
    const stored = await flow.o.store.transaction(async (tx) => {
      if (!(await tx.waits.claimReminder(w.repo, w.pr, w.sha, now))) return false;
      for (const item of items) await tx.outbox.enqueue(item);
      return items.length > 0;
    });
    if (stored) sent++;
  }
  if (sent > 0) flow.o.outbox.poke();
  return sent;
}

/** Takes every commit of a closed PR out of the inbox. */
export function endWaits(f: { repo: string; number: number }, ctx: HandlerContext): void {
  ctx.atCompletion((tx) => tx.waits.settle(f.repo, f.number, "closed"));
}
