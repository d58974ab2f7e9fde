// Restricted jobs on demand (`/test`, `/retest`, a re-requested check), only on an authorized head.
import { isRestricted } from "../../pipeline/types.js";
import type { RequestSelection, RunKind } from "../../store/index.js";
import { allows } from "../../trust/authorize.js";
import { planRequest } from "../decide.js";
import type { HandlerContext } from "../events.js";
import { authorize } from "./authorize.js";
import { checkSelection, publicDone, request, selectionUnder } from "./requests.js";
import { reply, reportGate } from "./status.js";
import { type Flow, type Loaded, type PrFacts, short } from "./types.js";

const FAILED_JOB = new Set(["failed", "timed_out", "error", "cancelled"]);

/** Queues the selected jobs, or says why jobs that use secrets cannot run on the head. */
export async function runOnDemand(
  flow: Flow,
  f: PrFacts,
  loaded: Loaded,
  ctx: HandlerContext,
  selection: RequestSelection | null,
  sender: string,
  key: string,
  kind: RunKind = "restricted",
): Promise<void> {
  if (!checkSelection(flow, f, loaded, selection, ctx, key)) return;
  const auth = await authorize(flow, f, loaded);
  const config = loaded.defs.config;
  const wantsSecrets =
    kind !== "rerun" || planRequest(config, "rerun", selection, true).plan.jobs.some(isRestricted);
  // Under a bot's scope, only a selection the scope covers whole may run.
  const covered =
    auth.scoped !== undefined &&
    planRequest(config, kind, selection, (id) => allows(auth, id)).withheld.length === 0;
  if (wantsSecrets && !auth.authorized && !covered) {
    await reply(
      flow,
      f,
      ctx,
      `Jobs that use secrets cannot run on ${short(f.headSha)}: ${auth.reason}. A trusted member approves it with \`/ok-to-test\` after reviewing it.`,
      key,
    );
    return;
  }
  const k: RunKind = kind === "restricted" && !(await publicDone(flow, f)) ? "full" : kind;
  request(flow, f, ctx, k, selectionUnder(auth, selection), sender);
  await reportGate(flow, f, loaded);
}

/** Jobs whose newest result on the head did not pass. */
export async function failedJobs(flow: Flow, f: PrFacts): Promise<string[]> {
  const runs = (
    await flow.o.runs.list({ repo: f.repo, pr: f.number }, { limit: 500, offset: 0 })
  ).rows
    .filter((r) => r.sha === f.headSha)
    .sort((a, b) => a.created_at - b.created_at);
  const latest = new Map<string, string>();
  for (const r of runs) for (const j of await flow.o.runs.jobs(r.id)) latest.set(j.job_id, j.state);
  return [...latest].filter(([, s]) => FAILED_JOB.has(s)).map(([id]) => id);
}
