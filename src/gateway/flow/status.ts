// What the PR shows of the flow's decisions: the approval check, the gate, and replies.
import type { Store } from "../../store/index.js";
import type { CommitAuthorization } from "../../trust/authorize.js";
import { distinct } from "../../trust/policy.js";
import type { ApprovalDelta, ApprovalView } from "../approval-check.js";
import type { HandlerContext } from "../events.js";
import { type GateEnd, gateTurn, superseded } from "../report.js";
import { facts } from "./facts.js";
import type { Flow, Loaded, PrFacts } from "./types.js";

export const CLOSED: GateEnd = {
  title: "The pull request was closed",
  summary:
    "Its runs were cancelled and its approvals voided; reopening it asks for a new approval.",
};

/** The approval check of the PR's head: trusted, approved, waiting, or nothing to approve. */
export async function reportApproval(
  flow: Flow,
  f: PrFacts,
  loaded: Loaded,
  auth: CommitAuthorization,
  o: { runId?: string | undefined; voidedSha?: string | undefined },
): Promise<ApprovalView> {
  let view: ApprovalView;
  if (loaded.restricted.length === 0) view = { kind: "none" };
  else if (auth.authorized && auth.by?.toLowerCase() === f.author.login.toLowerCase()) {
    view = { kind: "trusted", by: auth.by, reason: auth.reason };
  } else if (auth.authorized) {
    view = {
      kind: "approved",
      by: auth.by ?? "",
      ...(auth.approval ? { rules: auth.approval.requirements } : {}),
    };
  } else {
    const delta = await deltaSinceApproval(flow, f);
    view = {
      kind: "waiting",
      restrictedJobs: loaded.restricted.filter((j) => !auth.scoped?.jobs.includes(j)),
      reason: auth.reason,
      ...(o.voidedSha ? { voidedSha: o.voidedSha } : {}),
      ...(auth.approval
        ? { requirements: auth.approval.requirements, incomplete: auth.approval.incomplete }
        : {}),
      ...(auth.scoped ? { scoped: auth.scoped } : {}),
      ...(auth.note ? { note: auth.note } : {}),
      ...(delta ? { delta } : {}),
    };
  }
  await flow.reporter.approval(f.repo, f.installationId, f.headSha, view, {
    ...(o.runId ? { runId: o.runId } : {}),
    notes: loaded.defs.notes,
  });
  return view;
}

/**
 * What changed since the PR's last approved commit (when one was approved before the head), for a
 * member re-approving after a push. Informational: a forge that cannot answer leaves it out.
 */
export async function deltaSinceApproval(
  flow: Flow,
  f: PrFacts,
): Promise<ApprovalDelta | undefined> {
  const earlier = (await flow.o.approvals.history(f.repo, f.number)).filter(
    (a) => a.sha !== f.headSha,
  );
  const last = earlier.at(-1);
  if (!last) return undefined;
  try {
    return {
      fromSha: last.sha,
      approvedBy: distinct(earlier.filter((a) => a.sha === last.sha).map((a) => a.approvedBy)),
      comparison: await flow.changes(f, last.sha),
    };
  } catch (e) {
    flow.o.log?.warn(
      { repo: f.repo, pr: f.number, message: e instanceof Error ? e.message : String(e) },
      "the changes since the last approval could not be compared",
    );
    return undefined;
  }
}

/** A change to the store that the gate reports, made in the gate's own transaction. */
export type Settle = (tx: Store) => Promise<unknown>;

/**
 * The gate of the PR's head, from the runs decided against its current base, computed and stored
 * in one transaction (`via`, or one of its own) that holds the commit's turn (Reporter.gate).
 */
export async function reportGate(
  flow: Flow,
  f: PrFacts,
  loaded: Loaded,
  via?: Store,
): Promise<void> {
  const inTx = async (tx: Store) => {
    // The turn first: a push recorded after this read reports the old head's end after this one.
    await tx.leases.takeTurns(gateTurn(f.repo, f.headSha));
    const head = await tx.approvals.head(f.repo, f.number);
    if (head && head.sha !== f.headSha) {
      const end = superseded(head.sha);
      return flow.reporter.gateEnded(f.repo, f.installationId, f.headSha, end, tx);
    }
    const onBase = (await tx.requests.forPr(f.repo, f.number, f.headSha)).filter(
      (r) => r.baseSha === f.baseSha,
    );
    const g = {
      repo: f.repo,
      installationId: f.installationId,
      pr: f.number,
      headSha: f.headSha,
      restricted: loaded.restricted,
      labelPrefix: loaded.base.selection.label_prefix,
      notes: loaded.defs.notes,
      draft: f.draft,
      runIds: new Set(onBase.map((r) => r.id)),
    };
    return flow.reporter.gate(g, tx);
  };
  return via ? inTx(via) : flow.o.store.transaction(inTx);
}

/**
 * The gate after a run, from where the PR is now (it may have been closed or made a draft).
 * `settle` (the request's end) commits with it: a gateway that dies in between leaves neither.
 */
export async function reportGateAfterRun(
  flow: Flow,
  f: PrFacts,
  loaded: Loaded,
  settle?: Settle,
): Promise<void> {
  const now = await facts(flow, f.repo, f.installationId, f.number).catch(() => undefined);
  await flow.o.store.transaction(async (tx) => {
    await settle?.(tx);
    if (now && !now.open) {
      return flow.reporter.gateEnded(f.repo, f.installationId, f.headSha, CLOSED, tx);
    }
    return reportGate(flow, { ...f, draft: now?.draft ?? f.draft }, loaded, tx);
  });
}

/** A comment on the PR, posted once per delivery and key. */
export async function reply(
  flow: Flow,
  f: PrFacts,
  ctx: HandlerContext,
  text: string,
  key = "reply",
): Promise<void> {
  await flow.reporter.comment(f.repo, f.installationId, f.number, text, `${ctx.deliveryId}:${key}`);
}
