// Run requests of a PR: queued in the transaction that marks the event done (so each delivery
// requests its runs exactly once), cancelled with the PR's runs, and looked up to decide what is
// still to do.
import type { Config } from "../../config/schema.js";
import {
  type NewRunRequest,
  newRequestId,
  type RequestSelection,
  type RunKind,
  type RunRequestRow,
  type Store,
} from "../../store/index.js";
import type { CommitAuthorization } from "../../trust/authorize.js";
import { block } from "../checks.js";
import { planRequest, SelectionError, testLabels } from "../decide.js";
import type { HandlerContext } from "../events.js";
import { type Flow, type Loaded, type PrFacts, short } from "./types.js";

/** Queues a run request; it is stored when the event is marked done. Returns its id. */
export function request(
  flow: Flow,
  f: PrFacts,
  ctx: HandlerContext,
  kind: RunKind,
  selection: RequestSelection | null,
  requestedBy: string,
): string {
  const req: NewRunRequest = {
    id: newRequestId(),
    repo: f.repo,
    pr: f.number,
    installationId: f.installationId,
    headSha: f.headSha,
    baseSha: f.baseSha,
    headRef: f.headRef,
    author: f.author.login,
    kind,
    selection,
    requestedBy,
  };
  ctx.atCompletion(async (tx) => {
    await tx.requests.insert(req);
    tx.afterCommit(() => flow.supervisor.poke());
  });
  return req.id;
}

/** Whether the authorization lets any restricted job run (all of them, or a bot's scope). */
export const runsRestricted = (auth: CommitAuthorization): boolean =>
  auth.authorized || (auth.scoped?.jobs.length ?? 0) > 0;

/**
 * The selection of a request made under `auth`: as given, or marked as a bot's scope when only
 * that lets restricted jobs run (see RequestSelection.scope).
 */
export function selectionUnder(
  auth: CommitAuthorization,
  selection: RequestSelection | null,
): RequestSelection | null {
  return auth.authorized || !auth.scoped ? selection : { ...selection, scope: auth.scoped.bot };
}

/**
 * Stops the PR's runs (all, or those not on `keepSha`) and drops its queued requests. Runs in
 * flight here stop at once; the stop is stored with the event too, for a run another gateway has.
 */
export function cancelPr(
  flow: Flow,
  repo: string,
  pr: number,
  ctx: HandlerContext,
  why: string,
  keepSha?: string,
): void {
  stopHere(flow, repo, pr, why, keepSha);
  ctx.atCompletion((tx) => stopStored(tx, repo, pr, why, keepSha));
}

/** Stops the PR's runs (all, or those not on `keepSha`) in flight on this gateway. */
export function stopHere(flow: Flow, repo: string, pr: number, why: string, keepSha?: string) {
  flow.supervisor.cancel(
    (r) => r.repo === repo && r.pr === pr && (keepSha === undefined || r.headSha !== keepSha),
    why,
  );
}

/** Drops the PR's queued requests and asks whichever gateway runs the others to stop them. */
export async function stopStored(
  tx: Store,
  repo: string,
  pr: number,
  why: string,
  keepSha?: string,
): Promise<void> {
  await tx.requests.cancelQueued(repo, pr, why, keepSha);
  await tx.requests.askToStop(repo, pr, why, keepSha ? { keepSha } : {});
}

/**
 * The requests on the PR's head that did or will do their work: decided against the current
 * base (a new base brings new trusted definitions), and neither cancelled nor stopped midway.
 */
export async function liveRequests(flow: Flow, f: PrFacts): Promise<RunRequestRow[]> {
  const stopped = new Set(
    (await flow.o.runs.list({ repo: f.repo, pr: f.number }, { limit: 500, offset: 0 })).rows
      .filter((r) => r.sha === f.headSha && r.status === "cancelled")
      .map((r) => r.id),
  );
  return (await flow.o.requests.forPr(f.repo, f.number, f.headSha)).filter(
    (r) => r.state !== "cancelled" && r.baseSha === f.baseSha && !stopped.has(r.id),
  );
}

/** Whether the public jobs ran, or will, on the PR's head. */
export async function publicDone(flow: Flow, f: PrFacts): Promise<boolean> {
  return (await liveRequests(flow, f)).some((r) => r.kind === "public" || r.kind === "full");
}

/** Test labels on the PR that a trusted sender set (plus `extra`, being recorded now). */
export async function currentTrustedLabels(
  flow: Flow,
  f: PrFacts,
  base: Config,
  extra: string[] = [],
): Promise<string[]> {
  const trusted = new Set([...(await flow.o.labels.trusted(f.repo, f.number)), ...extra]);
  return testLabels(base, f.labels).filter((l) => trusted.has(l));
}

/** False (and a comment naming the problem) when a selection selects nothing. */
export function checkSelection(
  flow: Flow,
  f: PrFacts,
  loaded: Loaded,
  selection: RequestSelection | null,
  ctx: HandlerContext,
  key = "selection",
): boolean {
  try {
    planRequest(loaded.defs.config, "restricted", selection, true);
    return true;
  } catch (e) {
    if (!(e instanceof SelectionError)) throw e;
    void flow.reporter.comment(
      f.repo,
      f.installationId,
      f.number,
      `Airlock cannot run the selected tests on ${short(f.headSha)}; nothing with secrets was started:\n\n${block(e.problems.join("\n"))}`,
      `${ctx.deliveryId}:${key}`,
    );
    return false;
  }
}
