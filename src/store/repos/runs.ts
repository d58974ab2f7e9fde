// Runs and their jobs. Part of the Store interface (../types.ts).

import type { Selectable } from "kysely";
import type { EgressRecord } from "../../egress/record.js";
import type { JobState, JobsTable, RunStatus, RunsTable } from "../schema.js";

export type RunRow = RunsTable;

/** The run note holding what each job is for (the config's `description`), by job id. */
export const DESCRIPTIONS_NOTE = "descriptions";

export type JobRow = Selectable<JobsTable>;

export interface NewRun {
  id: string;
  source: string;
  repo: string;
  ref: string | null;
  sha: string;
  pr?: number | null;
  selection?: unknown;
  authorizedBy?: string | null;
  notes?: Record<string, unknown>;
}

export interface NewJob {
  jobId: string;
  template: string;
  needs: string[];
  secrets: string[];
  /** Holds credentials (secrets or ID tokens): its logs are private. Default: has secrets. */
  restricted?: boolean;
  state: JobState;
  reason: string;
}

export interface TestResult {
  suite: string;
  name: string;
  status: "passed" | "failed" | "skipped";
  durationMs: number;
  /** Redacted failure message. */
  message?: string;
}

export interface JobUpdate {
  state?: JobState;
  reason?: string;
  exitCode?: number | null;
  startedAt?: number | null;
  finishedAt?: number | null;
  tests?: TestResult[];
  grants?: Record<string, unknown>;
  error?: string | null;
  /** Airlock's closing lines about the job: fixed texts, safe to show publicly. */
  notes?: string[];
  /** Where a job with a network allow list connected (redacted). */
  egress?: EgressRecord;
}

export interface RunFilter {
  repo?: string;
  pr?: number;
  status?: RunStatus;
  /** A job id or a job template (matrix key) the run has. */
  job?: string;
}

export interface RunRepo {
  create(run: NewRun, jobs: NewJob[]): Promise<void>;
  setStatus(runId: string, status: RunStatus): Promise<void>;
  addNotes(runId: string, notes: Record<string, unknown>): Promise<void>;
  updateJob(runId: string, jobId: string, u: JobUpdate): Promise<void>;
  get(runId: string): Promise<RunRow | undefined>;
  /** The newest run, optionally of one source. */
  latest(source?: string): Promise<RunRow | undefined>;
  jobs(runId: string): Promise<JobRow[]>;
  /** Runs newest first; `more` says whether a page follows. */
  list(
    f: RunFilter,
    page: { limit: number; offset: number },
  ): Promise<{ rows: RunRow[]; more: boolean }>;
  /** Job counts by state per run. */
  jobStates(runIds: string[]): Promise<Map<string, Record<string, number>>>;
  /**
   * Of these runs, those left queued or running by a process that died: recorded as interrupted,
   * their unfinished jobs cancelled; their ids. With `gaveUp` (why Airlock will not take the run
   * up again), an interrupted one too, recorded as an error, its unfinished and interrupted jobs
   * errors for that reason.
   */
  markInterrupted(runIds: string[], gaveUp?: string): Promise<string[]>;
}
