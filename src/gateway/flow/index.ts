// The gateway's PR flow: pull request, comment and check events become decisions (who is trusted,
// which commit is authorized, what is selected), durable run requests, and reports. Each use case
// is a module of this folder, routed by `name.action` (router.ts); this class builds the services
// they share and runs the requests they queue.
//
// Runs are requested in the transaction that marks the event done, so each delivery requests its
// runs exactly once; everything else a use case does is idempotent per delivery, since a crash
// before that transaction makes the event run again.
import { OffThreadParser } from "../../config/parse-off-thread.js";
import type { EventHandler } from "../events.js";
import { FairShare } from "../fair-share.js";
import { Reporter } from "../report.js";
import { DEFAULT_CAPACITY } from "../serve-limits.js";
import { Supervisor } from "../supervisor.js";
import { AbandonedWorkSweep } from "./abandoned-work.js";
import { Comparisons } from "./changes.js";
import { execute } from "./execute.js";
import { BaseConfigs } from "./load.js";
import { sendWebhook, WEBHOOK_KIND } from "./notify.js";
import { gateOfRequest, recover } from "./recover.js";
import { route } from "./router.js";
import { withSecretSet } from "./secret-set.js";
import type { Flow, FlowOptions } from "./types.js";
import { sendReminders } from "./waits.js";

export type { FlowLogger, FlowOptions, RunnerForRun } from "./types.js";

export class PrFlow {
  readonly supervisor: Supervisor;
  readonly reporter: Reporter;
  private readonly flow: Flow;
  /** Pipeline files are parsed in a worker thread: a PR's file never blocks the event loop. */
  private readonly parser = new OffThreadParser();
  private reminders: NodeJS.Timeout | undefined;

  constructor(o: FlowOptions) {
    this.reporter = new Reporter({
      outbox: o.outbox,
      requests: o.requests,
      runs: o.runs,
      ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}),
      onEnqueued: () => o.outbox.poke(),
    });
    const capacity = o.capacity ?? DEFAULT_CAPACITY;
    // Public jobs' share holds for every gateway on the store together.
    const share = new FairShare(capacity, {
      slots: o.store.jobSlots,
      onError: (e) => o.log?.warn({ message: String(e) }, "the fair share could not be read"),
    });
    this.supervisor = new Supervisor({
      requests: o.requests,
      maxRuns: o.maxRuns ?? capacity.runs,
      holds: (req, inFlight) => share.holds(req, inFlight),
      maxAttempts: o.maxAttempts ?? 3,
      execute: (req, signal) => execute(this.flow, req, signal),
      recover: (req) => recover(this.flow, req),
      // A request that threw is taken up again or given up with its gate saying so.
      failed: async (req, settle) => {
        const head = await o.approvals.head(req.repo, req.pr);
        if (head?.sha !== req.headSha) return settle(o.requests);
        await gateOfRequest(this.flow, req, (tx) => settle(tx.requests));
      },
      onError: (message, req) => o.log?.error({ run: req.id, message }, "run failed to start"),
    });
    const parse = (text: string, file: string) => this.parser.parse(text, file);
    const baseConfigs = new BaseConfigs(o.forgeFor, parse);
    const comparisons = new Comparisons(o.forgeFor);
    this.flow = {
      o,
      reporter: this.reporter,
      supervisor: this.supervisor,
      share,
      forge: o.forgeFor,
      trustOf: (installationId) => o.trust.of(installationId),
      baseConfig: (repo, inst, sha) => baseConfigs.get(repo, inst, sha),
      parseConfig: parse,
      changes: (f, base = f.baseSha) => comparisons.get(f.repo, f.installationId, base, f.headSha),
    };
    const abandoned = new AbandonedWorkSweep({
      outbox: o.outbox,
      requests: o.requests,
      runs: o.runs,
      baseConfig: (r) => baseConfigs.get(r.repo, r.installationId, r.baseSha),
      withSweepers: async (config, fn) => {
        const built = await o.runnerFor(config, []);
        try {
          return await fn(built.sweepers ?? []);
        } finally {
          await built.close();
        }
      },
      withSecretSet: (config, set, runId, fn) =>
        withSecretSet(this.flow, config, set, { runId, jobId: "sweep" }, (g) => fn(g.env)),
      ...(o.log ? { log: o.log } : {}),
    });
    // A request that ends after an earlier attempt of it (or, after a crash, it) may have left
    // work running elsewhere (a GitLab pipeline) leaves none running: see abandoned-work.ts.
    // Approval notices to a webhook are outbox items too: stored, retried, taken up after a restart.
    o.outbox.handle(WEBHOOK_KIND, (item) => sendWebhook(this.flow, item));
    o.requests.onSettled(async (r, tx) => {
      if (r.kind === "public") return;
      if (r.attempt > 1 || (await tx.runs.get(r.id))?.status === "interrupted") {
        await abandoned.enqueue(r, tx);
      }
    });
  }

  /** The handler for the processing loop. */
  readonly handler: EventHandler = (event, ctx) => route(this.flow, event, ctx);

  /** Runs left unfinished by a dead process are recorded as interrupted, then taken up again. */
  async start(): Promise<void> {
    await this.supervisor.start();
    this.reminders = setInterval(() => {
      this.sendReminders().catch((e) =>
        this.flow.o.log?.warn({ message: String(e) }, "approval reminders failed; trying again"),
      );
    }, this.flow.o.remindEveryMs ?? 60_000);
    this.reminders.unref();
  }

  /** Stores the approval reminders that are due (once per waiting commit); how many. */
  sendReminders(now = Date.now()): Promise<number> {
    return sendReminders(this.flow, now);
  }

  async stop(): Promise<void> {
    clearInterval(this.reminders);
    await this.supervisor.stop();
    await this.parser.close();
  }
}
