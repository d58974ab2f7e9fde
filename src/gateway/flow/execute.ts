// Runs one claimed request: re-checks that its commit is still the open PR's head and what it may
// run, then runs it and reports each job, the run and the gate. Secrets are released only while
// the exact commit stays authorized.
import type { Config } from "../../config/schema.js";
import { isShutdown } from "../../executors/abort.js";
import { executeRun, grantSetVia, type RunnerDeps } from "../../pipeline/runner.js";
import { isRestricted, type Plan } from "../../pipeline/types.js";
import type { GrantContext, SecretGrant } from "../../secrets/types.js";
import { newRequestId, type RunRequestRow } from "../../store/index.js";
import { branchNameProblem } from "../../suite/index.js";
import {
  prepareRestrictedSide,
  type RestrictedSide,
  unavailableSide,
} from "../../suite/restricted-side.js";
import { allows, type CommitAuthorization } from "../../trust/authorize.js";
import { planRequest, SelectionError } from "../decide.js";
import { CONFIG_FILE } from "../definitions.js";
import { prKey } from "../fair-share.js";
import { HeadMovedError, type PrSource } from "../pr-source.js";
import { DEFAULT_CAPACITY } from "../serve-limits.js";
import { authorize } from "./authorize.js";
import { facts, factsOfRequest } from "./facts.js";
import { load } from "./load.js";
import { runsRestricted } from "./requests.js";
import { reportGateAfterRun } from "./status.js";
import type { Flow } from "./types.js";

export async function execute(flow: Flow, req: RunRequestRow, signal: AbortSignal): Promise<void> {
  const { o } = flow;
  const head = await o.approvals.head(req.repo, req.pr);
  if (!head || head.sha !== req.headSha) {
    await o.requests.finish(req.id, "cancelled", "the pull request moved on");
    return;
  }
  // Where the PR is now: a closed PR runs nothing, a draft no restricted job.
  const now = await facts(flow, req.repo, req.installationId, req.pr);
  if (!now.open || now.headSha !== req.headSha) {
    await o.requests.finish(req.id, "cancelled", "the pull request was closed or moved on");
    return;
  }
  const f = { ...factsOfRequest(req), draft: now.draft, headRepo: now.headRepo };
  const loaded = await load(flow, f);
  if (!loaded) {
    await o.requests.finish(req.id, "cancelled", `no usable ${CONFIG_FILE} on the base`);
    return;
  }
  const auth = req.kind === "public" ? null : await authorize(flow, f, loaded);
  let decision: ReturnType<typeof planRequest>;
  try {
    decision = planRequest(loaded.defs.config, req.kind, req.selection, (id) =>
      auth ? allows(auth, id) : false,
    );
  } catch (e) {
    if (!(e instanceof SelectionError)) throw e;
    await o.requests.finish(req.id, "cancelled", "the selection selects nothing");
    return;
  }
  const { plan, withheld } = decision;
  if (isShutdown(signal)) return interruptedByShutdown(flow, req);
  if (plan.jobs.length === 0 || signal.aborted) {
    await reportGateAfterRun(flow, f, loaded, (tx) =>
      tx.requests.finish(req.id, "cancelled", "nothing to run"),
    );
    return;
  }
  let checkout: Awaited<ReturnType<PrSource["fetch"]>>;
  try {
    checkout = await o.source.fetch({
      repo: req.repo,
      pr: req.pr,
      sha: req.headSha,
      installationId: req.installationId,
    });
  } catch (e) {
    if (!(e instanceof HeadMovedError)) throw e;
    await o.requests.finish(req.id, "cancelled", e.message);
    return;
  }

  const built = await o.runnerFor(loaded.defs.config, plan.jobs, {
    authorized: auth?.authorized ?? false,
  });
  // Secrets are released only while this exact commit is still authorized for the job (invariant
  // 1): the check is repeated at each grant, so a push or a voided approval mid-run stops the
  // release. A set granted outside a job (suite, pipeline, mirror credentials) serves the jobs
  // the commit is authorized for, so it needs one of them.
  const authorized = async (jobId?: string) => {
    const now = await authorize(flow, f, loaded);
    const ok = jobId === undefined ? runsRestricted(now) : allows(now, jobId);
    if (!ok) throw new Error(`secrets withheld: ${now.reason}`);
  };
  const grantSet = async (set: string, gctx: GrantContext) => {
    await authorized();
    return built.grantSet ? built.grantSet(set, gctx) : grantSetVia(built.runner.grant)(set, gctx);
  };
  const side = await restrictedSide(flow, req, loaded.defs.config, plan, {
    grantSet,
    executorFor: built.runner.executorFor,
    signal,
  });
  const runner: RunnerDeps = {
    ...built.runner,
    grant: async (job, gctx) => {
      await authorized(job.id);
      return built.runner.grant(job, gctx);
    },
    grantSet,
  };
  const restrictedRun = plan.jobs.some(isRestricted);
  let reports: Promise<void> = Promise.resolve();
  const report = (only?: string[]) => {
    reports = reports
      .then(() => flow.reporter.jobs(req.repo, req.installationId, req.id, only))
      .catch((e) => o.log?.warn({ run: req.id, message: String(e) }, "report failed"));
  };
  let first = true;
  try {
    await executeRun(runner, {
      runId: req.id,
      source: "github",
      repo: req.repo,
      ref: req.headRef,
      sha: req.headSha,
      pr: req.pr,
      // A pull request's code: its caches stay its own, and its public jobs' artifacts never
      // reach a job holding secrets (docs/security.md, "Caches" and "Artifacts").
      trust: { repo: req.repo, trusted: false, pr: req.pr },
      authorizedBy: !restrictedRun || !auth ? null : auth.authorized ? auth.by : scopeOf(auth),
      // null marks an unfiltered run, the only kind the gate trusts.
      selection:
        req.kind === "public" && loaded.restricted.length > 0 ? { public: true } : req.selection,
      notes: {
        kind: req.kind,
        // What applied when the run started: the console reads it (the base's setting).
        public_summary: loaded.defs.config.public_summary,
        requestedBy: req.requestedBy,
        ...(loaded.defs.notes.length ? { definitions: loaded.defs.notes } : {}),
        ...(withheld.length ? { withheld } : {}),
        ...(req.attempt > 1 ? { attempt: req.attempt } : {}),
        ...side.notes,
      },
      checkout,
      restrictedMounts: side.mounts,
      restrictedEnv: side.env,
      ...(auth?.authorized && auth.by && auth.kind
        ? {
            // What ID tokens say; each token re-checks the authorization first.
            identity: {
              source: "github" as const,
              repo: req.repo,
              pr: req.pr,
              sha: req.headSha,
              baseRef: now.baseRef ?? null,
              fork: now.fork ?? true,
              authorization: auth.kind,
              authorizedBy: auth.by,
              attempt: req.attempt,
            },
            authorize: authorized,
          }
        : {}),
      ...(side.unavailable ? { refuseRestricted: side.unavailable } : {}),
      context: {
        repoUrl: o.source.cloneUrl(req.repo),
        // The PR author's text: passed on only when it is a valid branch name.
        branch: branchNameProblem(req.headRef) === null ? req.headRef : null,
        approver: auth?.by ?? req.requestedBy,
        labels: req.selection?.labels ?? [],
        suite: side.suite,
        // A crash may have left work of an earlier attempt running: it is adopted.
        earlierRunIds: req.attempt > 1 ? await o.requests.earlierAttempts(req) : [],
        requestedAt: req.createdAt,
      },
      plan,
      concurrency: o.concurrency ?? o.capacity?.jobsPerRun ?? DEFAULT_CAPACITY.jobsPerRun,
      // Each job waits for its slot: public ones for their pull request's and author's share.
      admit: (job, s) =>
        flow.share.acquire(
          {
            pr: prKey(req.repo, req.pr),
            author: req.author,
            public: !isRestricted(job),
            job: { runId: req.id, jobId: job.id },
          },
          s,
        ),
      signal,
      onJobStart: (id) => {
        report(first ? undefined : [id]);
        first = false;
      },
      // A job a shutdown stopped did not end: the check stays in progress for the next attempt.
      onJobEnd: (id, r) => {
        if (!(isShutdown(signal) && r.outcome === "cancelled")) report([id]);
      },
    });
  } finally {
    await side.close();
    await built.close();
  }
  await reports;
  if (isShutdown(signal)) return interruptedByShutdown(flow, req);
  await flow.reporter.jobs(req.repo, req.installationId, req.id);
  await reportGateAfterRun(flow, f, loaded, (tx) => tx.requests.finish(req.id, "done"));
}

/** Who let a run under a bot's scope have secrets: "dependabot[bot] (trust.bots scope)". */
const scopeOf = (auth: CommitAuthorization) =>
  auth.scoped ? `${auth.scoped.bot} (trust.bots scope)` : null;

/**
 * A shutdown stopped the request: its run is recorded as interrupted (neither cancelled nor
 * failed) and the request queued again, for the next start, without spending an attempt. A
 * GitLab pipeline it started runs on, and that next attempt adopts it.
 */
async function interruptedByShutdown(flow: Flow, req: RunRequestRow): Promise<void> {
  if (await flow.o.runs.get(req.id)) await flow.o.runs.setStatus(req.id, "interrupted");
  await flow.o.requests.requeue(
    req,
    newRequestId(),
    Date.now(),
    "interrupted by a shutdown of Airlock",
    "shutdown",
  );
}

/**
 * The suite of a run's restricted jobs. The PR's head branch picks the suite branch only when it
 * is a valid branch name (it is the PR author's text). A suite that cannot be prepared fails the
 * restricted jobs, not the whole run, so that the run still ends and reports.
 */
async function restrictedSide(
  flow: Flow,
  req: RunRequestRow,
  config: Config,
  plan: Plan,
  o: {
    grantSet(set: string, ctx: GrantContext): Promise<SecretGrant>;
    executorFor: RunnerDeps["executorFor"];
    signal: AbortSignal;
  },
): Promise<RestrictedSide> {
  try {
    return await prepareRestrictedSide({
      config,
      plan,
      executorFor: o.executorFor,
      grantSet: o.grantSet,
      runId: req.id,
      branch: branchNameProblem(req.headRef) === null ? req.headRef : null,
      signal: o.signal,
    });
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    flow.o.log?.warn({ run: req.id, message }, "restricted jobs cannot run");
    return unavailableSide(message);
  }
}
