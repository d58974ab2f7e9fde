// Adapts a PipelineExecutor (one GitLab pipeline for the whole restricted part of a run) to the
// per-job Executor seam: the first restricted job to become ready triggers the pipeline for all
// of them; each job then waits for its own result. GitLab's own logs are never fetched.
import type { Redactor } from "../../redact/types.js";
import type { Executor, JobRequest, JobResult } from "../types.js";
import type { PipelineExecutor, RestrictedRunRequest, RestrictedRunResult } from "./executor.js";

export type BatchRequest = Omit<RestrictedRunRequest, "signal" | "onUpdate">;

export class PipelineBatchExecutor implements Executor {
  readonly name: string;
  #result: Promise<RestrictedRunResult> | null = null;

  constructor(
    private readonly pipeline: PipelineExecutor,
    private readonly request: BatchRequest,
    /** Cancelling the run cancels the pipeline; one job's own cancel does not. */
    private readonly runSignal: AbortSignal,
    /** Masks the executor's own tokens in what it writes to job logs. */
    private readonly redactor: Redactor,
  ) {
    this.name = pipeline.name;
  }

  async run(req: JobRequest): Promise<JobResult> {
    if (!this.request.tests.includes(req.job.id)) {
      return {
        status: "error",
        exitCode: null,
        durationMs: 0,
        reports: [],
        error: `job ${req.job.id} is not part of the ${this.name} pipeline's selection`,
      };
    }
    const say = (line: string) => req.output.write(`${this.redactor.redact(line)}\n`);
    if (!this.#result) {
      say(
        `airlock: triggering the ${this.name} pipeline for ${this.request.tests.length} restricted job(s)`,
      );
      let lastStatus = "";
      this.#result = this.pipeline.runRestricted({
        ...this.request,
        signal: this.runSignal,
        onUpdate: ({ pipeline }) => {
          if (pipeline.status !== lastStatus)
            say(`airlock: pipeline ${pipeline.id}: ${pipeline.status}`);
          lastStatus = pipeline.status;
        },
      });
    } else {
      say(`airlock: waiting for the ${this.name} pipeline`);
    }
    const result = await this.#result;
    const mine = result.jobs[req.job.id];
    if (result.pipeline) say(`airlock: pipeline ${result.pipeline.id} ${result.pipeline.status}`);
    const job: JobResult = mine ?? {
      status: result.status === "passed" ? "error" : result.status,
      exitCode: null,
      durationMs: result.durationMs,
      reports: [],
      error: result.error ?? `the pipeline reported nothing for ${req.job.id}`,
    };
    return job.error ? { ...job, error: this.redactor.redact(job.error) } : job;
  }
}
