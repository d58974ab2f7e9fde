// What a run's restricted jobs get beyond their secrets: the companion suite, checked out and
// mounted read-only (AIRLOCK_SUITE_*) for executors that take it from Airlock, or only resolved to
// its commit for executors that check it out themselves. `airlock run` and the gateway both build
// it here.
import type { Config } from "../config/schema.js";
import type { Executor, SuiteRef } from "../executors/types.js";
import { isRestricted, type Plan, type PlannedJob } from "../pipeline/types.js";
import type { GrantContext, SecretGrant } from "../secrets/types.js";
import { displayUrl } from "./git.js";
import { prepareSuite, resolveSuiteFor } from "./prepare.js";
import type { SuiteResolution } from "./resolve.js";

export interface RestrictedSide {
  mounts: { source: string; target: string }[];
  env: Record<string, string>;
  /** The suite's commit, for executors that check it out themselves. */
  suite: SuiteRef | null;
  /** Recorded on the run and shown in its summary. */
  notes: { suite?: SuiteNote };
  /** Why restricted jobs cannot run (set by unavailableSide). */
  unavailable?: string;
  close(): Promise<void>;
}

/** The suite as a run records it (the URL without userinfo). */
export type SuiteNote = Omit<SuiteResolution, "url"> & { url: string };

export interface RestrictedSideOptions {
  config: Config;
  plan: Plan;
  /** Where each job runs: an executor that fetches the suite itself needs no checkout. */
  executorFor(job: PlannedJob): Executor;
  /** Grants one secret set (the suite's credentials). */
  grantSet(set: string, ctx: GrantContext): Promise<SecretGrant>;
  runId: string;
  branch: string | null;
  signal: AbortSignal;
}

/** Thrown when the suite cannot be prepared; the message says why in one line. */
export class RestrictedSideError extends Error {}

export async function prepareRestrictedSide(o: RestrictedSideOptions): Promise<RestrictedSide> {
  const restricted = o.plan.jobs.filter(isRestricted);
  const closers: (() => Promise<void>)[] = [];
  const side: RestrictedSide = {
    mounts: [],
    env: {},
    suite: null,
    notes: {},
    close: async () => {
      for (const c of closers.reverse()) await c();
    },
  };
  const suite = o.config.suite;
  // Public jobs never see the suite, so a run without restricted jobs needs none of this.
  if (restricted.length === 0 || !suite) return side;
  try {
    const opts = {
      suite,
      branch: o.branch,
      grantSet: o.grantSet,
      runId: o.runId,
      signal: o.signal,
    };
    const fail = (e: Error): never => {
      throw new RestrictedSideError(`cannot prepare the suite repository: ${e.message}`);
    };
    let resolved: SuiteResolution;
    if (restricted.every((j) => o.executorFor(j).fetchesSuite)) {
      resolved = await resolveSuiteFor(opts).catch(fail);
    } else {
      const prepared = await prepareSuite(opts).catch(fail);
      closers.push(prepared.cleanup);
      side.mounts.push(prepared.mount);
      Object.assign(side.env, prepared.env);
      resolved = prepared.resolution;
    }
    side.suite = { ref: resolved.ref, sha: resolved.sha, matched: resolved.matched };
    side.notes.suite = { ...resolved, url: displayUrl(suite.url) };
    return side;
  } catch (e) {
    await side.close();
    throw e;
  }
}

/**
 * The restricted side of a run whose suite could not be prepared: public jobs run as usual,
 * restricted ones end in error with `message` (and are granted nothing), so that the run still
 * reaches a final state and reports why.
 */
export function unavailableSide(message: string): RestrictedSide {
  return {
    mounts: [],
    env: {},
    suite: null,
    notes: {},
    unavailable: message,
    close: async () => {},
  };
}
