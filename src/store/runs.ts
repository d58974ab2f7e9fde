// Runs and their jobs: the record every stage reads and writes.
import type { Selectable } from "kysely";
import type { EgressRecord } from "../egress/record.js";
import type { Db } from "./db.js";
import type { JobState, JobsTable, RunStatus, RunsTable } from "./schema.js";

export type RunRow = Selectable<RunsTable>;

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

/** A job's closing notes (see JobsTable.notes). */
export function jobNotes(j: Pick<JobRow, "notes">): string[] {
  try {
    const n = JSON.parse(j.notes) as unknown;
    return Array.isArray(n) ? n.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
}

/** A job's connection record, or null when it had no allow list (or the row is damaged). */
export function jobEgress(j: Pick<JobRow, "egress">): EgressRecord | null {
  if (!j.egress) return null;
  try {
    const r = JSON.parse(j.egress) as EgressRecord;
    return Array.isArray(r?.entries) ? r : null;
  } catch {
    return null;
  }
}

export class RunStore {
  constructor(private readonly db: Db) {}

  async create(run: NewRun, jobs: NewJob[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto("runs")
        .values({
          id: run.id,
          source: run.source,
          repo: run.repo,
          ref: run.ref,
          sha: run.sha,
          pr: run.pr ?? null,
          status: "queued",
          selection: run.selection === undefined ? null : JSON.stringify(run.selection),
          authorized_by: run.authorizedBy ?? null,
          created_at: Date.now(),
          started_at: null,
          finished_at: null,
          notes: JSON.stringify(run.notes ?? {}),
        })
        .execute();
      if (jobs.length === 0) return;
      await trx
        .insertInto("jobs")
        .values(
          jobs.map((j) => ({
            run_id: run.id,
            job_id: j.jobId,
            template: j.template,
            state: j.state,
            reason: j.reason,
            needs: JSON.stringify(j.needs),
            secrets: JSON.stringify(j.secrets),
            restricted: (j.restricted ?? j.secrets.length > 0) ? 1 : 0,
            exit_code: null,
            started_at: null,
            finished_at: null,
            tests_passed: 0,
            tests_failed: 0,
            tests_skipped: 0,
            tests: "[]",
            grants: "{}",
            error: null,
          })),
        )
        .execute();
    });
  }

  async setStatus(runId: string, status: RunStatus): Promise<void> {
    const now = Date.now();
    const final = status !== "queued" && status !== "running";
    await this.db
      .updateTable("runs")
      .set({
        status,
        ...(status === "running" ? { started_at: now } : {}),
        ...(final ? { finished_at: now } : {}),
      })
      .where("id", "=", runId)
      .execute();
  }

  async addNotes(runId: string, notes: Record<string, unknown>): Promise<void> {
    const run = await this.get(runId);
    if (!run) return;
    const merged = { ...JSON.parse(run.notes), ...notes };
    await this.db
      .updateTable("runs")
      .set({ notes: JSON.stringify(merged) })
      .where("id", "=", runId)
      .execute();
  }

  async updateJob(runId: string, jobId: string, u: JobUpdate): Promise<void> {
    const tests = u.tests;
    await this.db
      .updateTable("jobs")
      .set({
        ...(u.state !== undefined ? { state: u.state } : {}),
        ...(u.reason !== undefined ? { reason: u.reason } : {}),
        ...(u.exitCode !== undefined ? { exit_code: u.exitCode } : {}),
        ...(u.startedAt !== undefined ? { started_at: u.startedAt } : {}),
        ...(u.finishedAt !== undefined ? { finished_at: u.finishedAt } : {}),
        ...(u.grants !== undefined ? { grants: JSON.stringify(u.grants) } : {}),
        ...(u.error !== undefined ? { error: u.error } : {}),
        ...(u.notes !== undefined ? { notes: JSON.stringify(u.notes) } : {}),
        ...(u.egress !== undefined ? { egress: JSON.stringify(u.egress) } : {}),
        ...(tests
          ? {
              tests: JSON.stringify(tests),
              tests_passed: tests.filter((t) => t.status === "passed").length,
              tests_failed: tests.filter((t) => t.status === "failed").length,
              tests_skipped: tests.filter((t) => t.status === "skipped").length,
            }
          : {}),
      })
      .where("run_id", "=", runId)
      .where("job_id", "=", jobId)
      .execute();
  }

  get(runId: string): Promise<RunRow | undefined> {
    return this.db.selectFrom("runs").selectAll().where("id", "=", runId).executeTakeFirst();
  }

  /** The newest run, optionally of one source. */
  latest(source?: string): Promise<RunRow | undefined> {
    let q = this.db.selectFrom("runs").selectAll();
    if (source) q = q.where("source", "=", source);
    return q.orderBy("created_at", "desc").orderBy("id", "desc").limit(1).executeTakeFirst();
  }

  jobs(runId: string): Promise<JobRow[]> {
    return this.db
      .selectFrom("jobs")
      .selectAll()
      .where("run_id", "=", runId)
      .orderBy("seq")
      .execute();
  }

  list(
    opts: { limit?: number; offset?: number; repo?: string; pr?: number; status?: string } = {},
  ) {
    let q = this.db.selectFrom("runs").selectAll();
    if (opts.repo) q = q.where("repo", "=", opts.repo);
    if (opts.pr !== undefined) q = q.where("pr", "=", opts.pr);
    if (opts.status) q = q.where("status", "=", opts.status as RunStatus);
    return q
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(opts.limit ?? 50)
      .offset(opts.offset ?? 0)
      .execute();
  }

  /** Runs left queued or running by a process that died: recorded as errors on start-up. */
  async markInterrupted(source: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom("runs")
      .select("id")
      .where("source", "=", source)
      .where("status", "in", ["queued", "running"])
      .execute();
    for (const { id } of rows) {
      await this.db
        .updateTable("jobs")
        .set({ state: "cancelled", reason: "Airlock stopped while the job was running" })
        .where("run_id", "=", id)
        .where("state", "in", ["pending", "running"])
        .execute();
      await this.setStatus(id, "error");
    }
    return rows.map((r) => r.id);
  }
}
