// What a run request executes: the plan for its kind and selection, cut to what the commit's
// authorization allows. Pure: the caller supplies the trusted definition and the verdict.
import type { Config } from "../config/schema.js";
import { expandJobs } from "../pipeline/expand.js";
import { planPipeline, SelectionError } from "../pipeline/select.js";
import { isRestricted, type Plan, type PlannedJob } from "../pipeline/types.js";
import type { RequestSelection, RunKind } from "../store/index.js";

export { SelectionError };

/** Selection from `/test a,b`: a job or template name selects that job; anything else is a label. */
export function testSelection(config: Config, names: string[]): RequestSelection {
  const jobs = expandJobs(config);
  const known = new Set([...jobs.map((j) => j.id), ...jobs.map((j) => j.template)]);
  const sel: RequestSelection = {};
  const prefix = config.selection.label_prefix;
  for (const n of names) {
    if (known.has(n)) sel.jobs = [...(sel.jobs ?? []), n];
    else sel.labels = [...(sel.labels ?? []), n.startsWith(prefix) ? n : `${prefix}${n}`];
  }
  return sel;
}

/** Test labels among a PR's labels (those with the configured prefix). */
export function testLabels(config: Config, labels: string[]): string[] {
  const prefix = config.selection.label_prefix.toLowerCase();
  return labels.filter((l) => l.toLowerCase().startsWith(prefix));
}

/**
 * The plan of a selection. Labels and named jobs together mean their union (each of
 * `planPipeline` alone narrows). Throws SelectionError naming what selects nothing.
 */
export function planSelection(config: Config, sel: RequestSelection | null): Plan {
  const labels = sel?.labels ?? [];
  const jobs = sel?.jobs ?? [];
  if (labels.length === 0 || jobs.length === 0) {
    return planPipeline(config, { labels, jobs });
  }
  const a = planPipeline(config, { labels });
  const b = planPipeline(config, { jobs });
  const ids = new Set([...a.jobs, ...b.jobs].map((j) => j.id));
  const all = expandJobs(config).filter((j) => ids.has(j.id));
  return { jobs: all, reasons: { ...a.reasons, ...b.reasons } };
}

/** Jobs matching `keep`, plus everything they need. */
function withNeeds(plan: Plan, keep: (j: PlannedJob) => boolean): Plan {
  const byId = new Map(plan.jobs.map((j) => [j.id, j]));
  const chosen = new Set(plan.jobs.filter(keep).map((j) => j.id));
  const queue = [...chosen];
  while (queue.length > 0) {
    for (const n of byId.get(queue.shift()!)?.needs ?? []) {
      if (!chosen.has(n)) {
        chosen.add(n);
        queue.push(n);
      }
    }
  }
  return restrict(plan, (j) => chosen.has(j.id));
}

function restrict(plan: Plan, keep: (j: PlannedJob) => boolean): Plan {
  const jobs = plan.jobs.filter(keep);
  const reasons: Record<string, string> = {};
  for (const j of jobs) reasons[j.id] = plan.reasons[j.id] ?? "";
  return { jobs, reasons };
}

/** Keeps the jobs `ok` accepts whose needs are all kept too, directly or not. */
function runnableOnly(plan: Plan, ok: (j: PlannedJob) => boolean): Plan {
  const byId = new Map(plan.jobs.map((j) => [j.id, j]));
  const memo = new Map<string, boolean>();
  const runnable = (id: string): boolean => {
    const hit = memo.get(id);
    if (hit !== undefined) return hit;
    memo.set(id, false);
    const j = byId.get(id);
    const keep = !!j && ok(j) && j.needs.every(runnable);
    memo.set(id, keep);
    return keep;
  };
  return restrict(plan, (j) => runnable(j.id));
}

/** Drops restricted jobs and every job that needs one, directly or not. */
export const publicOnly = (plan: Plan): Plan => runnableOnly(plan, (j) => !isRestricted(j));

export interface PlanDecision {
  plan: Plan;
  /** Restricted jobs left out because the commit is not authorized for them. */
  withheld: string[];
}

/**
 * The plan a request of `kind` runs, given which restricted jobs may receive their secrets on its
 * commit: all (true), none (false), or those `allows` names (a bot's scope). A job that needs a
 * withheld one is left out with it.
 */
export function planRequest(
  config: Config,
  kind: RunKind,
  selection: RequestSelection | null,
  allows: boolean | ((jobId: string) => boolean),
): PlanDecision {
  const sel = kind === "public" ? null : selection;
  let plan = planSelection(config, sel);
  if (kind === "restricted") plan = withNeeds(plan, isRestricted);
  const may = (j: PlannedJob) => (typeof allows === "function" ? allows(j.id) : allows);
  const withheld = plan.jobs.filter((j) => isRestricted(j) && !may(j)).map((j) => j.id);
  if (kind === "public") plan = publicOnly(plan);
  else if (withheld.length > 0) plan = runnableOnly(plan, (j) => !isRestricted(j) || may(j));
  return { plan, withheld };
}

/** Restricted job ids of the definition, for the gate's "left out" list. */
export function restrictedJobIds(config: Config): string[] {
  return expandJobs(config)
    .filter(isRestricted)
    .map((j) => j.id);
}
