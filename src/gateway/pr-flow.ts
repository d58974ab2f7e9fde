// The gateway's event handler: pull request, comment and check events become decisions (who is
// trusted, which commit is authorized, what is selected), durable run requests, and reports.
// Runs are requested in the transaction that marks the event done, so each delivery requests its
// runs exactly once; everything else done here is idempotent per delivery, since a crash before
// that transaction makes the event run again.
import { ConfigError, parseConfig } from "../config/loader.js";
import type { Config } from "../config/schema.js";
import { isShutdown } from "../executors/abort.js";
import type { GitHubClient } from "../forge/github/client.js";
import { type PullRequest, repoRef } from "../forge/github/types.js";
import { executeRun, type RunnerDeps } from "../pipeline/runner.js";
import { isRestricted, type Plan, type PlannedJob } from "../pipeline/types.js";
import type { GrantContext, SecretGrant } from "../secrets/types.js";
import type { ApprovalStore } from "../store/approvals.js";
import {
  type NewRunRequest,
  newRequestId,
  type RequestSelection,
  type RunKind,
  type RunRequestRow,
  type RunRequestStore,
} from "../store/run-requests.js";
import type { RunStore } from "../store/runs.js";
import {
  authFromSecretEnv,
  branchNameProblem,
  deleteMirror,
  type GitAuth,
  mirrorBranchName,
  mirrorRemote,
  pushMirror,
} from "../suite/index.js";
import {
  grantSetVia,
  prepareRestrictedSide,
  type RestrictedSide,
  unavailableSide,
} from "../suite/restricted-side.js";
import { APPROVE_LABEL, approveByComment, approveByLabel } from "../trust/approvals.js";
import { authorizeCommit, type CommitAuthorization } from "../trust/authorize.js";
import { type Actor, TrustEvaluator } from "../trust/rules.js";
import { AbandonedPipelines } from "./abandoned-pipelines.js";
import { type ApprovalView, block, code, GATE_CHECK, renderGateCheck } from "./checks.js";
import { type Command, parseComment } from "./commands.js";
import {
  planRequest,
  restrictedJobIds,
  SelectionError,
  testLabels,
  testSelection,
} from "./decide.js";
import { CONFIG_FILE, combineDefinitions, type Definitions } from "./definitions.js";
import type { EventHandler, HandlerContext } from "./events.js";
import type { Outbox } from "./outbox.js";
import type { GatewayEvent } from "./parse-event.js";
import { HeadMovedError, type PrSource } from "./pr-source.js";
import { Reporter, superseded } from "./report.js";
import { Supervisor } from "./supervisor.js";

type PrEvent = Extract<GatewayEvent, { kind: "pull_request" }>;
type CommentEvent = Extract<GatewayEvent, { kind: "pr_comment" }>;
type RerequestEvent = Extract<GatewayEvent, { kind: "check_run_rerequested" }>;

export interface FlowLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
  error(obj: Record<string, unknown>, msg: string): void;
}

/** A runner for one run; `close` removes its workspaces. */
export interface RunnerForRun {
  runner: RunnerDeps;
  close(): Promise<void>;
  /**
   * Grants one secret set (suite, GitLab and mirror credentials). Without it, the set is granted
   * through `runner.grant` as a job that declares only that set.
   */
  grantSet?(set: string, ctx: GrantContext): Promise<SecretGrant>;
}

export interface PrFlowOptions {
  runs: RunStore;
  approvals: ApprovalStore;
  requests: RunRequestStore;
  outbox: Outbox;
  source: PrSource;
  clientFor(installationId: number): GitHubClient;
  /**
   * Builds the executor, secrets service and redactor of one run. `config` is the combined
   * definition, whose secret sets come from the base commit only.
   */
  runnerFor(config: Config, jobs: PlannedJob[]): Promise<RunnerForRun>;
  publicUrl?: string;
  /** The data directory, whose dispatch key signs `executor.gitlab` dispatches. */
  dataDir?: string;
  /** Jobs at once within a run. */
  concurrency?: number;
  /** Runs at once. */
  maxRuns?: number;
  /** Interrupted runs are started again up to this many attempts in all. */
  maxAttempts?: number;
  /** How long a trust answer is reused. */
  trustTtlMs?: number;
  log?: FlowLogger;
}

/** The facts about a PR every decision starts from, read from the API (not the event). */
interface PrFacts {
  repo: string;
  installationId: number;
  number: number;
  headSha: string;
  baseSha: string;
  headRef: string;
  author: Actor;
  draft: boolean;
  open: boolean;
  labels: string[];
}

interface Loaded {
  base: Config;
  defs: Definitions;
  restricted: string[];
}

const short = (sha: string) => sha.slice(0, 12);
const actorOf = (login: string): Actor => ({
  login,
  type: login.endsWith("[bot]") ? "Bot" : "User",
});
const CLOSED = {
  title: "The pull request was closed",
  summary:
    "Its runs were cancelled and its approvals voided; reopening it asks for a new approval.",
};
const FINAL_RUN = new Set(["passed", "failed", "cancelled", "error"]);
const FAILED_JOB = new Set(["failed", "timed_out", "error", "cancelled"]);

function factsOf(repo: string, installationId: number, pr: PullRequest): PrFacts {
  return {
    repo,
    installationId,
    number: pr.number,
    headSha: pr.head.sha,
    baseSha: pr.base.sha,
    headRef: pr.head.ref,
    author: pr.user
      ? { login: pr.user.login, ...(pr.user.type ? { type: pr.user.type } : {}) }
      : { login: "ghost" },
    draft: pr.draft ?? false,
    open: pr.state === "open",
    labels: pr.labels.map((l) => l.name),
  };
}

export class PrFlow {
  readonly supervisor: Supervisor;
  readonly reporter: Reporter;
  private readonly trust = new Map<number, TrustEvaluator>();
  /** Parsed base definitions by repo@sha: a commit's file never changes. */
  private readonly baseConfigs = new Map<string, Config | null>();
  private interrupted = new Set<string>();

  constructor(private readonly o: PrFlowOptions) {
    this.reporter = new Reporter({
      outbox: o.outbox,
      requests: o.requests,
      runs: o.runs,
      ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}),
      onEnqueued: () => o.outbox.poke(),
    });
    this.supervisor = new Supervisor({
      requests: o.requests,
      maxRuns: o.maxRuns ?? 2,
      maxAttempts: o.maxAttempts ?? 3,
      execute: (req, signal) => this.execute(req, signal),
      recover: (req) => this.recover(req),
      onError: (message, req) => o.log?.error({ run: req.id, message }, "run failed to start"),
    });
    const abandoned = new AbandonedPipelines({
      outbox: o.outbox,
      requests: o.requests,
      runs: o.runs,
      baseConfig: (r) => this.baseConfig(r.repo, r.installationId, r.baseSha),
      withSecretSet: (config, set, runId, fn) =>
        this.withSecretSet(config, set, { runId, jobId: "gitlab-cancel" }, (g) => fn(g.env)),
      ...(o.log ? { log: o.log } : {}),
    });
    // A request that ends after an earlier attempt of it (or, after a crash, it) may have started
    // a GitLab pipeline leaves none running: see abandoned-pipelines.ts.
    o.requests.onSettled = (r) => {
      if (r.kind !== "public" && (r.attempt > 1 || this.interrupted.has(r.id))) {
        abandoned.enqueueSync(r);
      }
    };
  }

  /** The handler for the processing loop. */
  readonly handler: EventHandler = (event, ctx) => this.handle(event, ctx);

  /** Runs left unfinished by a dead process are recorded as errors, then taken up again. */
  async start(): Promise<void> {
    this.interrupted = new Set(await this.o.runs.markInterrupted("github"));
    await this.supervisor.start();
  }

  stop(): Promise<void> {
    return this.supervisor.stop();
  }

  // ---- events ---------------------------------------------------------------------------------

  private async handle(event: GatewayEvent, ctx: HandlerContext): Promise<void> {
    if (event.kind === "ping" || event.installationId === null) {
      this.o.log?.info({ delivery: ctx.deliveryId, kind: event.kind }, "event without an action");
      return;
    }
    switch (event.kind) {
      case "pull_request":
        return this.onPullRequest(event, ctx);
      case "pr_comment":
        return this.onComment(event, ctx);
      case "check_run_rerequested":
        return this.onRerequest(event, ctx);
      default:
        this.o.log?.info({ delivery: ctx.deliveryId, kind: event.kind }, "installation event");
    }
  }

  private client(installationId: number) {
    return this.o.clientFor(installationId);
  }

  /** Whether an event's sender is trusted, by the rules of the PR's base definition. */
  private senderTrust(f: PrFacts, loaded: Loaded, sender: Parameters<TrustEvaluator["check"]>[0]) {
    return this.trustOf(f.installationId).check(sender, repoRef(f.repo), loaded.base.trust);
  }

  private trustOf(installationId: number): TrustEvaluator {
    let t = this.trust.get(installationId);
    if (!t) {
      t = new TrustEvaluator(this.client(installationId), {
        ...(this.o.trustTtlMs !== undefined ? { ttlMs: this.o.trustTtlMs } : {}),
      });
      this.trust.set(installationId, t);
    }
    return t;
  }

  private async facts(repo: string, installationId: number, n: number): Promise<PrFacts> {
    const pr = await this.client(installationId).pull(repoRef(repo), n);
    return factsOf(repo, installationId, pr);
  }

  private async onPullRequest(ev: PrEvent, ctx: HandlerContext): Promise<void> {
    const repo = ev.repo.fullName;
    const inst = ev.installationId!;
    const n = ev.pr.number;
    switch (ev.action) {
      case "closed": {
        this.cancelPr(repo, n, ctx, "the pull request was closed");
        await this.o.approvals.voidAll(repo, n, "the pull request was closed");
        await this.reporter.gateEnded(repo, inst, ev.pr.headSha, CLOSED);
        await this.deleteMirrorOf(ev, ctx);
        return;
      }
      case "converted_to_draft": {
        // A draft runs public jobs only: runs that carry restricted jobs stop (a running job is
        // killed; finished public results stand), and decide() below reports the draft's checks.
        this.supervisor.cancel(
          (r) => r.repo === repo && r.pr === n && r.kind !== "public",
          "the pull request was converted to a draft",
        );
        break;
      }
      case "labeled":
      case "unlabeled":
        return this.onLabel(ev, ctx);
      case "edited": {
        // A new base means new trusted definitions: approvals of the old comparison are void.
        await this.o.approvals.voidAll(repo, n, "the base branch changed");
        this.cancelPr(repo, n, ctx, "the base branch changed");
        // Completed before decide() reports it pending: GitHub keeps a completed check's
        // conclusion, and a green gate must not outlive the base it was earned on.
        await this.reporter.gateEnded(repo, inst, ev.pr.headSha, {
          title: "The base branch changed",
          summary: `Runs against the old base do not count: the gate waits for a full run of ${ev.pr.headSha} against the new base's definition.`,
        });
        break;
      }
      default:
        break;
    }
    const f = await this.facts(repo, inst, n);
    // The event may be old: the API says where the PR is now, and only that head is acted on.
    if (!f.open || f.headSha !== ev.pr.headSha) {
      this.o.log?.info({ delivery: ctx.deliveryId, repo, pr: n }, "stale pull_request event");
      return;
    }
    // GitHub's time of the change, on the clock of comments' created_at (bare /ok-to-test).
    const at = ev.pr.updatedAt ? Date.parse(ev.pr.updatedAt) : Number.NaN;
    const moved = await this.o.approvals.setHead(
      repo,
      n,
      f.headSha,
      ev.sender.login,
      Number.isFinite(at) ? at : undefined,
    );
    if (moved.changed && moved.previous) {
      this.cancelPr(repo, n, ctx, `superseded by ${short(f.headSha)}`, f.headSha);
      await this.reporter.gateEnded(repo, inst, moved.previous, superseded(f.headSha));
      if (f.labels.includes(APPROVE_LABEL)) {
        // The label approved the old head; a trusted member adds it again for this one.
        await this.o.outbox.removeLabel(repo, inst, n, APPROVE_LABEL, `${ctx.deliveryId}:label`);
      }
    }
    const loaded = await this.load(f);
    if (!loaded) return;
    const trust = this.trustOf(inst);
    if (ev.action === "opened") {
      // Labels given at creation were set by whoever opened the PR.
      const senderTrusted = (await trust.check(ev.sender, repoRef(repo), loaded.base.trust))
        .trusted;
      const labels = testLabels(loaded.base, f.labels);
      if (senderTrusted && labels.length > 0) {
        ctx.atCompletion((db) => {
          void db;
          for (const l of labels) this.o.requests.addLabelSync(repo, n, l, ev.sender.login);
        });
      }
    }
    await this.decide(f, loaded, ctx, {
      voidedSha: moved.voided > 0 ? moved.previous : undefined,
      trustedLabels: this.currentTrustedLabels(
        f,
        loaded.base,
        ev.action === "opened" ? f.labels : [],
      ),
    });
  }

  /** Test labels on the PR that a trusted sender set (plus `extra`, being recorded now). */
  private currentTrustedLabels(f: PrFacts, base: Config, extra: string[] = []): string[] {
    const trusted = new Set([...this.o.requests.trustedLabels(f.repo, f.number), ...extra]);
    return testLabels(base, f.labels).filter((l) => trusted.has(l));
  }

  /**
   * The automatic decision for the PR's head: public jobs once for everyone, restricted jobs once
   * the commit is authorized; the approval and gate checks say where things stand.
   */
  private async decide(
    f: PrFacts,
    loaded: Loaded,
    ctx: HandlerContext,
    o: { voidedSha?: string | undefined; trustedLabels: string[] },
  ): Promise<void> {
    const auth = await this.authorize(f, loaded);
    const existing = await this.liveRequests(f);
    const publicDone = existing.some((r) => r.kind === "public" || r.kind === "full");
    const restrictedDone = existing.some((r) => r.kind === "full" || r.kind === "restricted");
    const hasRestricted = loaded.restricted.length > 0;
    const selection = o.trustedLabels.length > 0 ? { labels: o.trustedLabels } : null;

    let queued: string | undefined;
    if (hasRestricted && auth.authorized && !restrictedDone) {
      if (this.checkSelection(f, loaded, selection, ctx)) {
        queued = this.request(f, ctx, publicDone ? "restricted" : "full", selection, auth.by ?? "");
      } else if (!publicDone) {
        queued = this.request(f, ctx, "public", null, f.author.login);
      }
    } else if (!publicDone) {
      queued = this.request(f, ctx, hasRestricted ? "public" : "full", null, f.author.login);
    }
    await this.reportApproval(f, loaded, auth, {
      runId: queued ?? existing.at(-1)?.id,
      voidedSha: o.voidedSha,
    });
    await this.reportGate(f, loaded);
  }

  private async authorize(f: PrFacts, loaded: Loaded): Promise<CommitAuthorization> {
    if (f.draft) {
      return {
        authorized: false,
        by: null,
        reason: "the pull request is a draft: restricted jobs run once it is ready for review",
      };
    }
    return authorizeCommit({
      repo: repoRef(f.repo),
      pr: f.number,
      sha: f.headSha,
      author: f.author,
      rules: loaded.base.trust,
      trust: this.trustOf(f.installationId),
      approvals: this.o.approvals,
    });
  }

  /** False (and a comment naming the problem) when a selection selects nothing. */
  private checkSelection(
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
      void this.reporter.comment(
        f.repo,
        f.installationId,
        f.number,
        `Airlock cannot run the selected tests on ${short(f.headSha)}; nothing with secrets was started:\n\n${block(e.problems.join("\n"))}`,
        `${ctx.deliveryId}:${key}`,
      );
      return false;
    }
  }

  /** Queues a run request; it is stored when the event is marked done. Returns its id. */
  private request(
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
    ctx.atCompletion(() => {
      this.o.requests.insertSync(req);
      // After the transaction commits.
      process.nextTick(() => this.supervisor.poke());
    });
    return req.id;
  }

  /** Stops the PR's runs (all, or those not on `keepSha`) and drops its queued requests. */
  private cancelPr(repo: string, pr: number, ctx: HandlerContext, why: string, keepSha?: string) {
    this.supervisor.cancel(
      (r) => r.repo === repo && r.pr === pr && (keepSha === undefined || r.headSha !== keepSha),
      why,
    );
    ctx.atCompletion(() => {
      this.o.requests.cancelQueuedSync(repo, pr, why, keepSha);
    });
  }

  private async onLabel(ev: PrEvent, ctx: HandlerContext): Promise<void> {
    const repo = ev.repo.fullName;
    const n = ev.pr.number;
    const label = ev.label ?? "";
    if (ev.action === "unlabeled") {
      ctx.atCompletion(() => this.o.requests.removeLabelSync(repo, n, label));
    }
    const f = await this.facts(repo, ev.installationId!, n);
    if (!f.open) return;
    const loaded = await this.load(f);
    if (!loaded) return;
    const verdict = await this.senderTrust(f, loaded, ev.sender);
    const isTest = testLabels(loaded.base, [label]).length > 0;
    if (!verdict.trusted) {
      // A label only counts when its sender is trusted: this one changes nothing.
      this.o.log?.info(
        { delivery: ctx.deliveryId, repo, pr: n, sender: ev.sender.login },
        "label from an untrusted sender ignored",
      );
      return;
    }
    const head = await this.o.approvals.head(repo, n);
    if (!head || head.sha !== f.headSha) {
      // Airlock has not seen this head yet; its pull_request event will decide.
      return;
    }
    if (ev.action === "labeled" && label === APPROVE_LABEL) {
      const d = approveByLabel({
        senderTrusted: true,
        sender: ev.sender.login,
        labeledSha: ev.pr.headSha,
        head: { sha: head.sha, seenAt: head.seenAt },
      });
      if (!d.ok) {
        if (d.reply) await this.reply(f, ctx, d.reason);
        return;
      }
      await this.o.approvals.approve(repo, n, d.sha, ev.sender.login, "label");
      return this.decide(f, loaded, ctx, {
        trustedLabels: this.currentTrustedLabels(f, loaded.base),
      });
    }
    if (!isTest) return;
    // A trusted sender changed the test selection: run the restricted jobs it now selects.
    const labels =
      ev.action === "labeled"
        ? [...new Set([...this.currentTrustedLabels(f, loaded.base), label])]
        : this.currentTrustedLabels(f, loaded.base).filter((l) => l !== label);
    if (ev.action === "labeled") {
      ctx.atCompletion(() => this.o.requests.addLabelSync(repo, n, label, ev.sender.login));
    }
    const auth = await this.authorize(f, loaded);
    const selection = labels.length > 0 ? { labels } : null;
    if (!auth.authorized || loaded.restricted.length === 0) {
      await this.reportGate(f, loaded);
      return;
    }
    if (!this.checkSelection(f, loaded, selection, ctx)) return;
    const kind = (await this.publicDone(f)) ? "restricted" : "full";
    this.request(f, ctx, kind, selection, ev.sender.login);
    await this.reportGate(f, loaded);
  }

  private async publicDone(f: PrFacts): Promise<boolean> {
    return (await this.liveRequests(f)).some((r) => r.kind === "public" || r.kind === "full");
  }

  /**
   * The requests on the PR's head that did or will do their work: decided against the current
   * base (a new base brings new trusted definitions), and neither cancelled nor stopped midway.
   */
  private async liveRequests(f: PrFacts): Promise<RunRequestRow[]> {
    const stopped = new Set(
      (await this.o.runs.list({ repo: f.repo, pr: f.number, limit: 500 }))
        .filter((r) => r.sha === f.headSha && r.status === "cancelled")
        .map((r) => r.id),
    );
    return this.o.requests
      .forPr(f.repo, f.number, f.headSha)
      .filter((r) => r.state !== "cancelled" && r.baseSha === f.baseSha && !stopped.has(r.id));
  }

  private async onComment(ev: CommentEvent, ctx: HandlerContext): Promise<void> {
    const { commands, problems } = parseComment(ev.comment.body);
    if (commands.length === 0 && problems.length === 0) return;
    const repo = ev.repo.fullName;
    const f = await this.facts(repo, ev.installationId!, ev.prNumber);
    if (!f.open) return;
    const loaded = await this.load(f);
    if (!loaded) return;
    const verdict = await this.senderTrust(f, loaded, ev.sender);
    if (!verdict.trusted) {
      // Commands from untrusted commenters are ignored, silently: a reply would invite spam.
      this.o.log?.info(
        { delivery: ctx.deliveryId, repo, pr: f.number, sender: ev.sender.login },
        "command from an untrusted commenter ignored",
      );
      return;
    }
    if (problems.length > 0) await this.reply(f, ctx, problems.join("\n\n"), "problems");
    let head = await this.o.approvals.head(repo, f.number);
    if (!head) {
      // First sight of this PR (Airlock was installed after it was opened): its author pushed it.
      await this.o.approvals.setHead(repo, f.number, f.headSha, f.author.login);
      head = await this.o.approvals.head(repo, f.number);
    }
    if (!head || head.sha !== f.headSha) {
      await this.reply(
        f,
        ctx,
        `The pull request moved to ${short(f.headSha)} and Airlock has not processed that push yet: try again in a moment.`,
      );
      return;
    }
    for (const [i, cmd] of commands.entries()) {
      await this.command(f, loaded, ctx, ev, cmd, `${i}`, head);
    }
  }

  private async command(
    f: PrFacts,
    loaded: Loaded,
    ctx: HandlerContext,
    ev: CommentEvent,
    cmd: Command,
    key: string,
    head: { sha: string; seenAt: number },
  ): Promise<void> {
    const sender = ev.sender.login;
    switch (cmd.kind) {
      case "ok-to-test": {
        const created = ev.comment.createdAt;
        const d = approveByComment({
          senderTrusted: true,
          sender,
          ...(cmd.sha !== undefined ? { requestedSha: cmd.sha } : {}),
          head,
          commentCreatedAt: created ? Date.parse(created) : Date.now(),
        });
        if (!d.ok) {
          if (d.reply) await this.reply(f, ctx, d.reason, key);
          return;
        }
        if (!(await this.o.approvals.approve(f.repo, f.number, d.sha, sender, "comment"))) {
          await this.reply(f, ctx, `${short(d.sha)} is no longer the head: approve again.`, key);
          return;
        }
        return this.decide(f, loaded, ctx, {
          trustedLabels: this.currentTrustedLabels(f, loaded.base),
        });
      }
      case "test": {
        const selection = cmd.all ? null : testSelection(loaded.defs.config, cmd.names);
        return this.runRestricted(f, loaded, ctx, selection, sender, key);
      }
      case "retest": {
        const failed = await this.failedJobs(f);
        if (failed.length === 0) {
          await this.reply(f, ctx, `No job failed on ${short(f.headSha)}: nothing to retest.`, key);
          return;
        }
        return this.runRestricted(f, loaded, ctx, { jobs: failed }, sender, key, "rerun");
      }
      case "cancel":
        this.cancelPr(f.repo, f.number, ctx, `cancelled by ${sender}`);
        return;
      case "mirror":
        return this.mirror(f, loaded, ctx, key);
    }
  }

  /** `/test`, `/retest`: restricted jobs on demand, only on an authorized head. */
  private async runRestricted(
    f: PrFacts,
    loaded: Loaded,
    ctx: HandlerContext,
    selection: RequestSelection | null,
    sender: string,
    key: string,
    kind: RunKind = "restricted",
  ): Promise<void> {
    if (!this.checkSelection(f, loaded, selection, ctx, key)) return;
    const auth = await this.authorize(f, loaded);
    const wantsSecrets =
      kind !== "rerun" ||
      planRequest(loaded.defs.config, "rerun", selection, true).plan.jobs.some(isRestricted);
    if (wantsSecrets && !auth.authorized) {
      await this.reply(
        f,
        ctx,
        `Jobs that use secrets cannot run on ${short(f.headSha)}: ${auth.reason}. A trusted member approves it with \`/ok-to-test\` after reviewing it.`,
        key,
      );
      return;
    }
    const k: RunKind = kind === "restricted" && !(await this.publicDone(f)) ? "full" : kind;
    this.request(f, ctx, k, selection, sender);
    await this.reportGate(f, loaded);
  }

  /** Jobs whose newest result on the head did not pass. */
  private async failedJobs(f: PrFacts): Promise<string[]> {
    const runs = (await this.o.runs.list({ repo: f.repo, pr: f.number, limit: 500 }))
      .filter((r) => r.sha === f.headSha)
      .sort((a, b) => a.created_at - b.created_at);
    const latest = new Map<string, string>();
    for (const r of runs)
      for (const j of await this.o.runs.jobs(r.id)) latest.set(j.job_id, j.state);
    return [...latest].filter(([, s]) => FAILED_JOB.has(s)).map(([id]) => id);
  }

  private async onRerequest(ev: RerequestEvent, ctx: HandlerContext): Promise<void> {
    const repo = ev.repo.fullName;
    const [runId, jobId] = (ev.checkRun.externalId ?? "").split("/");
    const run = runId ? await this.o.runs.get(runId) : undefined;
    const pr = run?.pr ?? ev.checkRun.pullNumbers[0];
    if (!pr || (run && run.repo !== repo)) return;
    const f = await this.facts(repo, ev.installationId!, pr);
    if (!f.open || f.headSha !== ev.checkRun.headSha) return;
    const loaded = await this.load(f);
    if (!loaded) return;
    const verdict = await this.senderTrust(f, loaded, ev.sender);
    if (!verdict.trusted) return;
    const job =
      run && jobId ? (await this.o.runs.jobs(run.id)).find((j) => j.job_id === jobId) : undefined;
    if (!job) {
      // The approval or gate check: report it afresh.
      if (ev.checkRun.name === GATE_CHECK) await this.reportGate(f, loaded);
      return;
    }
    await this.runRestricted(
      f,
      loaded,
      ctx,
      { jobs: [job.template] },
      ev.sender.login,
      `rerequest-${ev.checkRun.id}`,
      "rerun",
    );
  }

  private async reply(f: PrFacts, ctx: HandlerContext, text: string, key = "reply") {
    await this.reporter.comment(
      f.repo,
      f.installationId,
      f.number,
      text,
      `${ctx.deliveryId}:${key}`,
    );
  }

  // ---- definitions ----------------------------------------------------------------------------

  /**
   * The trusted base definition (contents API at the base SHA) combined with the head's public
   * jobs (read from the fetched head commit). Undefined when the base has no `.airlock.yml`.
   */
  private async load(f: PrFacts): Promise<Loaded | undefined> {
    let base: Config | null;
    try {
      base = await this.baseConfig(f.repo, f.installationId, f.baseSha);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      await this.o.outbox.checkRun(
        f.repo,
        f.installationId,
        renderGateCheck(f.headSha, {
          state: "failure",
          title: `The base branch's ${CONFIG_FILE} is invalid`,
          summary: `Airlock reads restricted jobs from the base commit ${f.baseSha}, whose ${CONFIG_FILE} has problems:\n\n${block(e.message)}`,
        }),
      );
      this.o.outbox.poke();
      return undefined;
    }
    if (base === null) {
      this.o.log?.info({ repo: f.repo, pr: f.number }, `no ${CONFIG_FILE} on the base commit`);
      return undefined;
    }
    let head: Config | string | null;
    try {
      await this.o.source.fetch({
        repo: f.repo,
        pr: f.number,
        sha: f.headSha,
        installationId: f.installationId,
      });
      const text = await this.o.source.fileAt(f.repo, f.headSha, CONFIG_FILE);
      head = text === undefined ? null : parseConfig(text, CONFIG_FILE);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      // The PR's own text: shown as code, first problem only.
      head = code((e.message.split("\n")[0] ?? "").slice(0, 300));
    }
    const defs = combineDefinitions(base, head);
    return { base, defs, restricted: restrictedJobIds(defs.config) };
  }

  /** The base commit's definition (null: it has none); throws ConfigError when it is invalid. */
  private async baseConfig(repo: string, installationId: number, baseSha: string) {
    const key = `${repo}@${baseSha}`;
    let base = this.baseConfigs.get(key);
    if (base === undefined) {
      const text = await this.client(installationId).fileAt(repoRef(repo), CONFIG_FILE, baseSha);
      base = text === undefined ? null : parseConfig(text, `${CONFIG_FILE} at ${short(baseSha)}`);
      this.baseConfigs.set(key, base);
    }
    return base;
  }

  // ---- reports --------------------------------------------------------------------------------

  private async reportApproval(
    f: PrFacts,
    loaded: Loaded,
    auth: CommitAuthorization,
    o: { runId?: string | undefined; voidedSha?: string | undefined },
  ): Promise<void> {
    let view: ApprovalView;
    if (loaded.restricted.length === 0) view = { kind: "none" };
    else if (auth.authorized && auth.by?.toLowerCase() === f.author.login.toLowerCase()) {
      view = { kind: "trusted", by: auth.by, reason: auth.reason };
    } else if (auth.authorized) view = { kind: "approved", by: auth.by ?? "" };
    else {
      view = {
        kind: "waiting",
        restrictedJobs: loaded.restricted,
        reason: auth.reason,
        ...(o.voidedSha ? { voidedSha: o.voidedSha } : {}),
      };
    }
    await this.reporter.approval(f.repo, f.installationId, f.headSha, view, {
      ...(o.runId ? { runId: o.runId } : {}),
      notes: loaded.defs.notes,
    });
  }

  private async reportGate(f: PrFacts, loaded: Loaded): Promise<void> {
    const head = await this.o.approvals.head(f.repo, f.number);
    if (head && head.sha !== f.headSha) {
      return this.reporter.gateEnded(f.repo, f.installationId, f.headSha, superseded(head.sha));
    }
    const onBase = this.o.requests
      .forPr(f.repo, f.number, f.headSha)
      .filter((r) => r.baseSha === f.baseSha);
    return this.reporter.gate({
      repo: f.repo,
      installationId: f.installationId,
      pr: f.number,
      headSha: f.headSha,
      restricted: loaded.restricted,
      labelPrefix: loaded.base.selection.label_prefix,
      notes: loaded.defs.notes,
      draft: f.draft,
      runIds: new Set(onBase.map((r) => r.id)),
    });
  }

  /** The gate after a run, from where the PR is now (it may have been closed or made a draft). */
  private async reportGateAfterRun(f: PrFacts, loaded: Loaded): Promise<void> {
    const now = await this.facts(f.repo, f.installationId, f.number).catch(() => undefined);
    if (now && !now.open) {
      return this.reporter.gateEnded(f.repo, f.installationId, f.headSha, CLOSED);
    }
    return this.reportGate({ ...f, draft: now?.draft ?? f.draft }, loaded);
  }

  // ---- runs -----------------------------------------------------------------------------------

  private factsOfRequest(req: RunRequestRow): PrFacts {
    return {
      repo: req.repo,
      installationId: req.installationId,
      number: req.pr,
      headSha: req.headSha,
      baseSha: req.baseSha,
      headRef: req.headRef,
      author: actorOf(req.author),
      draft: false,
      open: true,
      labels: [],
    };
  }

  /** Runs one request: re-checks that its commit is the head and what it may run, then runs it. */
  private async execute(req: RunRequestRow, signal: AbortSignal): Promise<void> {
    const head = await this.o.approvals.head(req.repo, req.pr);
    if (!head || head.sha !== req.headSha) {
      await this.o.requests.finish(req.id, "cancelled", "the pull request moved on");
      return;
    }
    // Where the PR is now: a closed PR runs nothing, a draft no restricted job.
    const now = await this.facts(req.repo, req.installationId, req.pr);
    if (!now.open || now.headSha !== req.headSha) {
      await this.o.requests.finish(req.id, "cancelled", "the pull request was closed or moved on");
      return;
    }
    const f = { ...this.factsOfRequest(req), draft: now.draft };
    const loaded = await this.load(f);
    if (!loaded) {
      await this.o.requests.finish(req.id, "cancelled", `no usable ${CONFIG_FILE} on the base`);
      return;
    }
    const auth = req.kind === "public" ? null : await this.authorize(f, loaded);
    let decision: ReturnType<typeof planRequest>;
    try {
      decision = planRequest(
        loaded.defs.config,
        req.kind,
        req.selection,
        auth?.authorized ?? false,
      );
    } catch (e) {
      if (!(e instanceof SelectionError)) throw e;
      await this.o.requests.finish(req.id, "cancelled", "the selection selects nothing");
      return;
    }
    const { plan, withheld } = decision;
    if (isShutdown(signal)) return this.interruptedByShutdown(req);
    if (plan.jobs.length === 0 || signal.aborted) {
      await this.o.requests.finish(req.id, "cancelled", "nothing to run");
      await this.reportGateAfterRun(f, loaded);
      return;
    }
    let checkout: Awaited<ReturnType<PrSource["fetch"]>>;
    try {
      checkout = await this.o.source.fetch({
        repo: req.repo,
        pr: req.pr,
        sha: req.headSha,
        installationId: req.installationId,
      });
    } catch (e) {
      if (!(e instanceof HeadMovedError)) throw e;
      await this.o.requests.finish(req.id, "cancelled", e.message);
      return;
    }

    const built = await this.o.runnerFor(loaded.defs.config, plan.jobs);
    // Secrets are released only while this exact commit is still authorized (invariant 1): the
    // check is repeated at each grant, so a push or a voided approval mid-run stops the release.
    const authorized = async () => {
      const now = await this.authorize(f, loaded);
      if (!now.authorized) throw new Error(`secrets withheld: ${now.reason}`);
    };
    const grantSet = async (set: string, gctx: GrantContext) => {
      await authorized();
      return built.grantSet
        ? built.grantSet(set, gctx)
        : grantSetVia(built.runner.grant)(set, gctx);
    };
    const side = await this.restrictedSide(req, loaded.defs.config, plan, {
      grantSet,
      createRedactor: built.runner.createRedactor,
      approver: auth?.by ?? req.requestedBy,
      signal,
    });
    const sided = side.runner(built.runner);
    const runner: RunnerDeps = {
      ...sided,
      grant: async (job, gctx) => {
        await authorized();
        return sided.grant(job, gctx);
      },
    };
    const restrictedRun = plan.jobs.some(isRestricted);
    let reports: Promise<void> = Promise.resolve();
    const report = (only?: string[]) => {
      reports = reports
        .then(() => this.reporter.jobs(req.repo, req.installationId, req.id, only))
        .catch((e) => this.o.log?.warn({ run: req.id, message: String(e) }, "report failed"));
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
        authorizedBy: restrictedRun && auth?.authorized ? auth.by : null,
        // null marks an unfiltered run, the only kind the gate trusts.
        selection:
          req.kind === "public" && loaded.restricted.length > 0 ? { public: true } : req.selection,
        notes: {
          kind: req.kind,
          requestedBy: req.requestedBy,
          ...(loaded.defs.notes.length ? { definitions: loaded.defs.notes } : {}),
          ...(withheld.length ? { withheld } : {}),
          ...(req.attempt > 1 ? { attempt: req.attempt } : {}),
          ...side.notes,
        },
        checkout,
        restrictedMounts: side.mounts,
        restrictedEnv: side.env,
        plan,
        concurrency: this.o.concurrency ?? 2,
        signal,
        onJobStart: (id) => {
          report(first ? undefined : [id]);
          first = false;
        },
        // A job a shutdown stopped did not end: the check stays in progress for the next attempt.
        onJobEnd: (id, o) => {
          if (!(isShutdown(signal) && o.outcome === "cancelled")) report([id]);
        },
      });
    } finally {
      await side.close();
      await built.close();
    }
    await reports;
    if (isShutdown(signal)) return this.interruptedByShutdown(req);
    await this.reporter.jobs(req.repo, req.installationId, req.id);
    await this.reportGateAfterRun(f, loaded);
    await this.o.requests.finish(req.id, "done");
  }

  /**
   * A shutdown stopped the request: its run is recorded as interrupted (neither cancelled nor
   * failed) and the request queued again, for the next start, without spending an attempt. A
   * GitLab pipeline it started runs on, and that next attempt adopts it.
   */
  private async interruptedByShutdown(req: RunRequestRow): Promise<void> {
    if (await this.o.runs.get(req.id)) await this.o.runs.setStatus(req.id, "interrupted");
    await this.o.requests.requeue(
      req,
      newRequestId(),
      Date.now(),
      "interrupted by a shutdown of Airlock",
      "shutdown",
    );
  }

  /**
   * The suite checkout and the GitLab pipeline of a run's restricted jobs. The PR's head branch
   * picks the suite branch only when it is a valid branch name (it is the PR author's text). A
   * suite or pipeline that cannot be prepared fails the restricted jobs, not the whole run, so
   * that the run still ends and reports.
   */
  private async restrictedSide(
    req: RunRequestRow,
    config: Config,
    plan: Plan,
    o: {
      grantSet(set: string, ctx: GrantContext): Promise<SecretGrant>;
      createRedactor: RunnerDeps["createRedactor"];
      approver: string;
      signal: AbortSignal;
    },
  ): Promise<RestrictedSide> {
    const labels = req.selection?.labels ?? [];
    try {
      return await prepareRestrictedSide({
        config,
        plan,
        grantSet: o.grantSet,
        ...(this.o.dataDir ? { dataDir: this.o.dataDir } : {}),
        runId: req.id,
        repo: req.repo,
        repoUrl: this.o.source.cloneUrl(req.repo),
        branch: branchNameProblem(req.headRef) === null ? req.headRef : null,
        sha: req.headSha,
        approver: o.approver,
        labels,
        // A crash may have left a pipeline of an earlier attempt running: it is adopted.
        earlierRunIds: req.attempt > 1 ? this.o.requests.earlierAttempts(req) : [],
        requestedAt: req.createdAt,
        signal: o.signal,
        createRedactor: o.createRedactor,
      });
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.o.log?.warn({ run: req.id, message }, "restricted jobs cannot run");
      return unavailableSide(message);
    }
  }

  /** `/mirror`: the PR's exact head commit to the internal mirror branch. It grants nothing. */
  private async mirror(f: PrFacts, loaded: Loaded, ctx: HandlerContext, key: string) {
    const config = loaded.base;
    let branch: string;
    try {
      mirrorRemote(config);
      branch = mirrorBranchName(config.mirror!.branch, f.number);
    } catch (e) {
      await this.reply(f, ctx, `\`/mirror\` is not set up: ${(e as Error).message}`, key);
      return;
    }
    try {
      // The head is fetched already (load does it); its local mirror is the source.
      const head = await this.o.source.fetch({
        repo: f.repo,
        pr: f.number,
        sha: f.headSha,
        installationId: f.installationId,
      });
      await this.withMirrorAuth(config, `pr-${f.number}-mirror`, (auth) =>
        pushMirror({
          source: head.repoDir,
          sha: f.headSha,
          remote: mirrorRemote(config),
          branch,
          auth,
        }),
      );
    } catch (e) {
      if (e instanceof HeadMovedError) return; // the push's own event decides again
      // Git's words may describe the internal server: they go to Airlock's log only.
      this.o.log?.warn(
        { repo: f.repo, pr: f.number, message: (e as Error).message },
        "mirror failed",
      );
      await this.reply(
        f,
        ctx,
        `Airlock could not mirror ${short(f.headSha)} to \`${branch}\`; the reason is in Airlock's log.`,
        key,
      );
      return;
    }
    await this.reply(
      f,
      ctx,
      `Mirrored ${f.headSha} to \`${branch}\`. Approvals still apply to commits, not to branches.`,
      key,
    );
  }

  /** A closed PR's mirror branch is deleted (when the base definition mirrors PRs at all). */
  private async deleteMirrorOf(ev: PrEvent, ctx: HandlerContext): Promise<void> {
    const repo = ev.repo.fullName;
    let config: Config | null;
    try {
      config = await this.baseConfig(repo, ev.installationId!, ev.pr.baseSha);
    } catch (e) {
      if (e instanceof ConfigError) return;
      throw e;
    }
    if (!config?.mirror) return;
    try {
      const branch = mirrorBranchName(config.mirror.branch, ev.pr.number);
      const remote = mirrorRemote(config);
      await this.withMirrorAuth(config, `pr-${ev.pr.number}-mirror`, (auth) =>
        deleteMirror({ remote, branch, auth }),
      );
    } catch (e) {
      // A branch left behind is untidy, not unsafe: log it rather than retry the event forever.
      this.o.log?.warn(
        { delivery: ctx.deliveryId, repo, pr: ev.pr.number, message: (e as Error).message },
        "could not delete the mirror branch",
      );
    }
  }

  /** Runs `fn` with the mirror's push credentials, granted from its secret set and then released. */
  private async withMirrorAuth<T>(
    config: Config,
    runId: string,
    fn: (auth: GitAuth[]) => Promise<T>,
  ): Promise<T> {
    const set = config.mirror?.credentials;
    if (!set) return fn([]);
    return this.withSecretSet(config, set, { runId, jobId: "mirror-push" }, (grant) =>
      fn([authFromSecretEnv(mirrorRemote(config), grant.env)]),
    );
  }

  /** Runs `fn` with one secret set of `config`, granted outside any job and then released. */
  private async withSecretSet<T>(
    config: Config,
    set: string,
    job: { runId: string; jobId: string },
    fn: (grant: SecretGrant) => Promise<T>,
  ): Promise<T> {
    const built = await this.o.runnerFor(config, []);
    try {
      const ctx = { ...job, timeoutMs: 10 * 60_000 };
      const grant = built.grantSet
        ? await built.grantSet(set, ctx)
        : await grantSetVia(built.runner.grant)(set, ctx);
      try {
        return await fn(grant);
      } finally {
        await grant.release();
      }
    } finally {
      await built.close();
    }
  }

  /**
   * A request a dead process left running. A run that finished is reported again; an interrupted
   * one (recorded as an error at start-up) is requested again as a new run, up to maxAttempts,
   * so that every run reaches a final state and every check its final conclusion.
   */
  private async recover(req: RunRequestRow): Promise<void> {
    const run = await this.o.runs.get(req.id);
    const f = this.factsOfRequest(req);
    const finished = run && FINAL_RUN.has(run.status) && !this.interrupted.has(run.id);
    const head = await this.o.approvals.head(req.repo, req.pr);
    const current = head?.sha === req.headSha;
    if (finished || !current || this.o.requests.attemptsSpent(req) >= (this.o.maxAttempts ?? 3)) {
      if (run) await this.reporter.jobs(req.repo, req.installationId, run.id);
      await this.o.requests.finish(req.id, "done", finished ? undefined : "interrupted");
    } else {
      await this.o.requests.requeue(req, newRequestId());
    }
    if (current) {
      const loaded = await this.load(f).catch(() => undefined);
      if (loaded) await this.reportGate(f, loaded);
    }
  }
}
