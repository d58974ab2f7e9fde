// Turns stored runs into what the pull request shows, through the outbox (stored before sent,
// retried until delivered): one check run per job, `airlock/approval`, and the gate.
import type { CheckRunState } from "../forge/types.js";
import type { RunRepo, RunRequestQueue, RunRequestRow, RunRow, Store } from "../store/index.js";
import { type ApprovalView, renderApprovalCheck } from "./approval-check.js";
import { renderGateCheck, renderJobCheck } from "./checks.js";
import { decideGate } from "./gate.js";
import type { Outbox } from "./outbox/index.js";

export interface ReporterOptions {
  outbox: Outbox;
  runs: RunRepo;
  /** The run requests; by default read from the outbox's database, where they live. */
  requests?: RunRequestQueue;
  /** Airlock's public base URL, for details_url links to the private run page. */
  publicUrl?: string;
  /** Applied once more to every test name and message leaving Airlock. */
  redact?: (text: string) => string;
  /** Called after items were enqueued, to wake the outbox. */
  onEnqueued?: () => void;
}

export interface GateContext {
  repo: string;
  installationId: number;
  pr: number;
  headSha: string;
  /** Every restricted job id of the trusted definition (empty: the pipeline has none). */
  restricted: string[];
  labelPrefix: string;
  notes?: string[];
  draft?: boolean;
  /** Only these runs count (those decided against the PR's current base); all when omitted. */
  runIds?: ReadonlySet<string>;
}

/** Why a commit's gate no longer applies: the PR moved on, or was closed. */
export interface GateEnd {
  title: string;
  summary: string;
}

/** The turn a commit's gate is computed and stored in (see Reporter.inTurn). */
export const gateTurn = (repo: string, headSha: string) => `gate:${repo}@${headSha}`;

export const superseded = (newSha: string): GateEnd => ({
  title: `Superseded by ${newSha.slice(0, 12)}`,
  summary: `New commits were pushed: the gate of the pull request is on its head ${newSha}. Runs on this commit were cancelled.`,
});

/** Appends notes to a check's summary (they say where definitions came from). */
function withNotes(state: CheckRunState, notes: string[] | undefined): CheckRunState {
  if (!notes?.length || !state.output) return state;
  const summary = `${state.output.summary}\n\n${notes.map((n) => `> ${n}`).join("\n>\n")}`;
  return { ...state, output: { ...state.output, summary: summary.slice(0, 65_000) } };
}

/**
 * Runs in the order of their requests (a retried request keeps its place), without the attempts
 * that were taken up again: their retry stands in for them. Runs without a request keep their own
 * time.
 */
function inRequestOrder<T extends { run: RunRow }>(
  runs: T[],
  requests: ReadonlyMap<string, RunRequestRow>,
): T[] {
  const lastAttempt = new Map<number, number>();
  for (const r of requests.values()) {
    lastAttempt.set(r.createdAt, Math.max(lastAttempt.get(r.createdAt) ?? 0, r.attempt));
  }
  const key = (x: T): [number, number] => {
    const req = requests.get(x.run.id);
    return req ? [req.createdAt, req.attempt] : [x.run.created_at, 0];
  };
  return runs
    .filter((x) => {
      const req = requests.get(x.run.id);
      return !req || req.attempt >= (lastAttempt.get(req.createdAt) ?? 0);
    })
    .sort((a, b) => {
      const [ta, aa] = key(a);
      const [tb, ab] = key(b);
      return ta - tb || aa - ab;
    });
}

export class Reporter {
  private readonly requests: RunRequestQueue;

  constructor(private readonly opts: ReporterOptions) {
    this.requests = opts.requests ?? opts.outbox.db.requests;
  }

  /**
   * Computes and stores a commit's gate in one transaction (`via`, or one of its own) that first
   * takes the commit's turn, on every gateway sharing the store: a gate computed from older state
   * is never stored after one computed from newer state, and a change `via` made before (a request
   * settled) is seen by every gate computed after this one. So whichever gateway settles a commit's
   * last request, or dies doing it, the gate stored last is computed from the final state.
   */
  private inTurn(
    repo: string,
    headSha: string,
    via: Store | undefined,
    fn: (tx: Store) => Promise<void>,
  ): Promise<void> {
    const run = async (tx: Store) => {
      await tx.leases.takeTurns(gateTurn(repo, headSha));
      await fn(tx);
      tx.afterCommit(() => this.opts.onEnqueued?.());
    };
    return via ? run(via) : this.opts.outbox.db.transaction(run);
  }

  private get render() {
    return {
      ...(this.opts.publicUrl ? { publicUrl: this.opts.publicUrl } : {}),
      ...(this.opts.redact ? { redact: this.opts.redact } : {}),
    };
  }

  /**
   * The current state of a run's job checks (all jobs, or the named ones). A job's check on a
   * commit belongs to the newest request whose run has that job: an older run (one still
   * running, or one that gave up after its retries) leaves it alone, so the check ends on the
   * newest run's conclusion whatever order the runs end in. Ownership is decided when the state is
   * stored, so a newer run starting meanwhile is seen. So is the run's claim: a gateway that lost
   * it (stalled past its lease while another took the run over) reports nothing more of it.
   */
  async jobs(repo: string, installationId: number, runId: string, only?: string[]) {
    const run = await this.opts.runs.get(runId);
    if (!run) return;
    const req = await this.requests.get(runId);
    for (const job of await this.opts.runs.jobs(runId)) {
      if (only && !only.includes(job.job_id)) continue;
      const owned = req
        ? async (tx: Store) =>
            (await tx.requests.holdsClaim(runId)) &&
            (await tx.requests.jobOwner(req.repo, req.pr, req.headSha, job.job_id)) === runId
        : undefined;
      await this.opts.outbox.checkRun(repo, installationId, renderJobCheck(run, job, this.render), {
        ...(owned ? { onlyIf: owned } : {}),
      });
    }
    this.opts.onEnqueued?.();
  }

  async approval(
    repo: string,
    installationId: number,
    headSha: string,
    view: ApprovalView,
    opts: { runId?: string; notes?: string[] } = {},
  ) {
    const state = renderApprovalCheck(headSha, view, {
      ...this.render,
      ...(opts.runId ? { runId: opts.runId } : {}),
    });
    await this.opts.outbox.checkRun(repo, installationId, withNotes(state, opts.notes));
    this.opts.onEnqueued?.();
  }

  /**
   * The gate on the PR's head. Only runs that carried restricted jobs count (a public-only run
   * says nothing about them), unless the pipeline has no restricted job at all. `via`: the
   * transaction that settled what the gate reports (see `inTurn`).
   */
  gate(g: GateContext, via?: Store): Promise<void> {
    return this.inTurn(g.repo, g.headSha, via, (tx) => this.gateNow(g, tx));
  }

  private async gateNow(g: GateContext, tx: Store) {
    const listed = await tx.runs.list({ repo: g.repo, pr: g.pr }, { limit: 500, offset: 0 });
    const rows = listed.rows.filter(
      (r) => r.sha === g.headSha && r.source === "github" && (!g.runIds || g.runIds.has(r.id)),
    );
    const found = [];
    for (const run of rows) {
      const jobs = await tx.runs.jobs(run.id);
      if (g.restricted.length > 0 && !jobs.some((j) => j.restricted === 1)) continue;
      found.push({ run, jobs });
    }
    const onHead = await tx.requests.forPr(g.repo, g.pr, g.headSha);
    const requests = new Map(onHead.map((r) => [r.id, r] as const));
    // Attempts still to come or under way: a queued retry of an interrupted run included. A
    // public-only request says nothing about restricted jobs.
    const pending = onHead.filter(
      (r) =>
        (r.state === "queued" || r.state === "running") &&
        (!g.runIds || g.runIds.has(r.id)) &&
        (g.restricted.length === 0 || r.kind !== "public"),
    ).length;
    // decideGate takes the newest runs by created_at: it is given the order of the requests, so
    // that a retry started late does not count as newer than a request made after the original.
    const runs = inRequestOrder(found, requests).map((x, i) => ({
      ...x,
      run: { ...x.run, created_at: i },
    }));
    const decision = decideGate({
      headSha: g.headSha,
      runs,
      allRestricted: g.restricted,
      labelPrefix: g.labelPrefix,
      pending,
      ...(g.draft ? { draft: true } : {}),
    });
    const newest = runs.at(-1);
    const state = renderGateCheck(g.headSha, decision, {
      ...this.render,
      ...(newest ? { runId: newest.run.id } : {}),
    });
    await this.opts.outbox.checkRun(g.repo, g.installationId, withNotes(state, g.notes), {
      via: tx,
    });
  }

  /**
   * Completes the gate of a commit whose runs no longer count (superseded, closed, retargeted) as
   * cancelled, so that no check is left running on it. Not neutral: branch protection counts a
   * neutral check as passing, and GitHub does not move a completed check back to in progress, so
   * the commit could later pass on it (a force-push back to it, a reopen).
   */
  gateEnded(repo: string, installationId: number, headSha: string, end: GateEnd, via?: Store) {
    return this.inTurn(repo, headSha, via, async (tx) => {
      const state = renderGateCheck(headSha, { state: "failure", ...end }, this.render);
      const ended = { ...state, conclusion: "cancelled" as const };
      await this.opts.outbox.checkRun(repo, installationId, ended, { via: tx });
    });
  }

  /** A comment, posted once per key. */
  async comment(repo: string, installationId: number, pr: number, body: string, key: string) {
    await this.opts.outbox.comment(repo, installationId, pr, body, key);
    this.opts.onEnqueued?.();
  }
}
