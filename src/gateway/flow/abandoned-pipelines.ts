// No GitLab pipeline may run on with the private side's secrets once no attempt of its run follows
// it. A shutdown leaves a run's pipeline running for the run's next attempt to adopt; a crash
// leaves it running too. When such a request then ends without following it to its end (cancelled
// or superseded while queued, stopped before it adopted the pipeline, given up after a crash), its
// end stores an outbox item in the same transaction. Delivering the item (after a restart too, as
// the outbox does) looks up the pipelines of the request's attempts the way the executor does and
// cancels those still active; a pipeline that ended is left alone. A request that followed its
// pipeline to the end only finds it ended. Failures are retried with the outbox's backoff, then
// reported on the run and in the log, naming the pipeline and what to do.
import { ConfigError } from "../../config/loader.js";
import type { Config } from "../../config/schema.js";
import {
  cancelAbandonedPipelines,
  GitLabClient,
  gitlabTokensFromSecretEnv,
  PipelineCancelError,
} from "../../executors/gitlab/index.js";
import type { OutboxItem } from "../../store/outbox.js";
import type { RunRequestRow, RunRequestStore } from "../../store/run-requests.js";
import type { RunStore } from "../../store/runs.js";
import type { Outbox } from "../outbox.js";
import type { FlowLogger } from "./types.js";

const KIND = "gitlab_cancel";

export interface AbandonedPipelinesOptions {
  outbox: Outbox;
  requests: RunRequestStore;
  runs: RunStore;
  /** The request's trusted base definition; null when it has none. */
  baseConfig(req: RunRequestRow): Promise<Config | null>;
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

export class AbandonedPipelines {
  readonly #attempts: number;

  constructor(private readonly o: AbandonedPipelinesOptions) {
    this.#attempts = o.attempts ?? 10;
    o.outbox.handle(KIND, (item) => this.#deliver(item));
  }

  /** Stores the sweep of an ended request's pipelines; joins the caller's transaction. */
  enqueueSync(req: RunRequestRow): void {
    const key = `${KIND}:${req.id}`;
    this.o.outbox.store.enqueueSync({
      kind: KIND,
      key,
      orderingKey: key,
      repo: req.repo,
      installationId: req.installationId,
      payload: { request: req.id },
    });
    // After the caller's transaction commits.
    process.nextTick(() => this.o.outbox.poke());
  }

  async #deliver(item: OutboxItem): Promise<void> {
    const req = this.o.requests.get((item.payload as { request: string }).request);
    // An attempt still queued or running follows the pipeline; its own end sweeps again.
    if (!req || this.o.requests.attemptPending(req)) return;
    const config = await this.o.baseConfig(req).catch((e: unknown) => {
      // A base that cannot be read now is retried; one whose definition is invalid never
      // configured a GitLab pipeline for this run.
      if (e instanceof ConfigError) return null;
      throw e;
    });
    const gitlab = config?.executor?.gitlab;
    if (!config || !gitlab) return;
    const runIds = [...this.o.requests.earlierAttempts(req), req.id];
    const runs = (await Promise.all(runIds.map((id) => this.o.runs.get(id)))).filter(
      (r) => r !== undefined,
    );
    // A run whose branch matched a suite branch triggered its pipeline on that branch.
    const refs = [gitlab.ref];
    for (const r of runs) {
      const suite = (JSON.parse(r.notes) as { suite?: { ref?: string; matched?: boolean } }).suite;
      if (suite?.matched && suite.ref) refs.push(suite.ref);
    }
    const noteOn = runs.at(-1)?.id;
    const where = { run: req.id, repo: req.repo, pr: req.pr };
    let found: Awaited<ReturnType<typeof cancelAbandonedPipelines>>;
    try {
      found = await this.o.withSecretSet(config, gitlab.secrets, req.id, (env) =>
        cancelAbandonedPipelines({
          client: new GitLabClient({
            baseUrl: gitlab.url,
            project: gitlab.project,
            apiToken: gitlabTokensFromSecretEnv(env).apiToken,
          }),
          refs,
          runIds,
          requestedAt: req.createdAt,
        }),
      );
    } catch (e) {
      if (item.attempts < this.#attempts) throw e; // the outbox retries it with backoff
      const message = e instanceof Error ? e.message : String(e);
      const id = e instanceof PipelineCancelError ? e.pipelineId : null;
      const problem =
        id === null
          ? `Airlock could not look for the GitLab pipelines of runs ${runIds.join(", ")} in ${item.attempts} attempts (${message}): look in GitLab (${gitlab.project}) for a running pipeline whose AIRLOCK_RUN_ID is one of them and cancel it, and check that GITLAB_API_TOKEN of the secret set ${gitlab.secrets} can read pipelines and their variables`
          : `Airlock could not cancel GitLab pipeline ${id} in ${item.attempts} attempts (${message}): no attempt of the run follows it, so cancel it in GitLab (${gitlab.project}, pipeline ${id}), and check that GITLAB_API_TOKEN of the secret set ${gitlab.secrets} may cancel pipelines`;
      this.o.log?.error({ ...where, pipeline: id }, problem);
      if (noteOn) await this.o.runs.addNotes(noteOn, { abandonedPipelines: { error: problem } });
      return;
    }
    if (found.length === 0) return;
    for (const p of found) {
      this.o.log?.info(
        { ...where, pipeline: p.id, status: p.status },
        p.outcome === "cancelled"
          ? `cancelled GitLab pipeline ${p.id}: no attempt of its run follows it any more`
          : `GitLab pipeline ${p.id} had ended (${p.status}): left alone`,
      );
    }
    if (noteOn) {
      await this.o.runs.addNotes(noteOn, {
        abandonedPipelines: {
          pipelines: found.map((p) => ({
            id: p.id,
            url: p.webUrl,
            run: p.runId,
            status: p.status,
            outcome: p.outcome,
          })),
        },
      });
    }
  }
}
