// No executor may go on running a job with the private side's secrets once no attempt of its run
// follows it. A shutdown leaves a run's remote work (a GitLab pipeline) running for the run's next
// attempt to adopt; a crash leaves it running too. When such a request then ends without following
// it to its end (cancelled or superseded while queued, stopped before it adopted the work, given up
// after a crash), its end stores an outbox item in the same transaction. Delivering the item
// (after a restart too, as the outbox does) asks each executor the request's trusted base
// definition uses for restricted jobs to sweep the work of the request's attempts (Executor.sweep):
// what is still active is stopped, what ended is left alone. A request that followed its work to
// the end only finds it ended. Failures are retried with the outbox's backoff, then reported on the
// run and in the log, with what to do.
import { ConfigError } from "../../config/loader.js";
import type { Config } from "../../config/schema.js";
import type { AbandonedWork, Executor, SweptWork } from "../../executors/types.js";
import type {
  OutboxItem,
  RunRepo,
  RunRequestQueue,
  RunRequestRow,
  Store,
} from "../../store/index.js";
import type { Outbox } from "../outbox/index.js";
import type { FlowLogger } from "./types.js";

/** The outbox kind (named when GitLab was the only executor that left work behind). */
const KIND = "gitlab_cancel";

export interface AbandonedWorkOptions {
  outbox: Outbox;
  requests: RunRequestQueue;
  runs: RunRepo;
  /** The request's trusted base definition; null when it has none. */
  baseConfig(req: RunRequestRow): Promise<Config | null>;
  /** Runs `fn` with the executors restricted jobs of `config` may have left work on. */
  withSweepers<T>(config: Config, fn: (executors: Executor[]) => Promise<T>): Promise<T>;
  /** Runs `fn` with the granted environment of one secret set of `config`. */
  withSecretSet<T>(
    config: Config,
    set: string,
    runId: string,
    fn: (env: Record<string, string>) => Promise<T>,
  ): Promise<T>;
  /** Deliveries before a failure is reported and given up (default 10: minutes of backoff). */
  attempts?: number;
  log?: FlowLogger;
}

export class AbandonedWorkSweep {
  readonly #attempts: number;

  constructor(private readonly o: AbandonedWorkOptions) {
    this.#attempts = o.attempts ?? 10;
    o.outbox.handle(KIND, (item) => this.#deliver(item));
  }

  /** Stores the sweep of an ended request's work in the caller's transaction `tx`. */
  async enqueue(req: RunRequestRow, tx: Store): Promise<void> {
    const key = `${KIND}:${req.id}`;
    await tx.outbox.enqueue({
      kind: KIND,
      key,
      orderingKey: key,
      repo: req.repo,
      installationId: req.installationId,
      payload: { request: req.id },
    });
    tx.afterCommit(() => this.o.outbox.poke());
  }

  async #deliver(item: OutboxItem): Promise<void> {
    const req = await this.o.requests.get((item.payload as { request: string }).request);
    // An attempt still queued or running follows the work; its own end sweeps again.
    if (!req || (await this.o.requests.attemptPending(req))) return;
    const config = await this.o.baseConfig(req).catch((e: unknown) => {
      // A base that cannot be read now is retried; one whose definition is invalid never
      // sent work anywhere for this run.
      if (e instanceof ConfigError) return null;
      throw e;
    });
    if (!config) return;
    const runIds = [...(await this.o.requests.earlierAttempts(req)), req.id];
    const runs = (await Promise.all(runIds.map((id) => this.o.runs.get(id)))).filter(
      (r) => r !== undefined,
    );
    const work: AbandonedWork = {
      runIds,
      requestedAt: req.createdAt,
      notes: runs.map((r) => JSON.parse(r.notes) as Record<string, unknown>),
      withSecretSet: (set, fn) => this.o.withSecretSet(config, set, req.id, fn),
    };
    const noteOn = runs.at(-1)?.id;
    const where = { run: req.id, repo: req.repo, pr: req.pr };
    let found: (SweptWork & { executor: string })[];
    try {
      found = await this.o.withSweepers(config, async (executors) => {
        const all: (SweptWork & { executor: string })[] = [];
        for (const e of executors) {
          for (const w of (await e.sweep?.(work)) ?? []) all.push({ ...w, executor: e.name });
        }
        return all;
      });
    } catch (e) {
      if (item.attempts < this.#attempts) throw e; // the outbox retries it with backoff
      const message = e instanceof Error ? e.message : String(e);
      const problem = `Airlock could not stop the work of runs ${runIds.join(", ")} that no attempt follows, in ${item.attempts} attempts: ${message}`;
      this.o.log?.error(where, problem);
      if (noteOn) await this.o.runs.addNotes(noteOn, { abandoned: { error: problem } });
      return;
    }
    if (found.length === 0) return;
    for (const w of found) {
      this.o.log?.info(
        { ...where, executor: w.executor, work: w.id, status: w.status },
        w.outcome === "stopped"
          ? `stopped ${w.executor} work ${w.id}: no attempt of its run follows it any more`
          : `${w.executor} work ${w.id} had ended (${w.status}): left alone`,
      );
    }
    if (noteOn) {
      await this.o.runs.addNotes(noteOn, {
        abandoned: {
          work: found.map((w) => ({
            executor: w.executor,
            id: w.id,
            ...(w.url ? { url: w.url } : {}),
            run: w.runId,
            status: w.status,
            outcome: w.outcome,
          })),
        },
      });
    }
  }
}
