// Runs and their jobs: the record every stage reads and writes.

import { JOB_GAVE_UP, JOB_INTERRUPTED, jobNotes } from "../job-text.js";
import type { RunStatus } from "../schema.js";
import type { JobRow, JobUpdate, NewJob, NewRun, RunFilter, RunRepo, RunRow } from "../types.js";
import type { Ctx } from "./context.js";

const INTERRUPTED_NOTE = "Interrupted: the gateway running this job stopped.";

export class RunRepoImpl implements RunRepo {
  constructor(private readonly c: Ctx) {}

  create(run: NewRun, jobs: NewJob[]): Promise<void> {
    return this.c.atomic(async (db) => {
      await db
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
      await db
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
    await this.c.db
      .updateTable("runs")
      .set({
        status,
        ...(status === "running" ? { started_at: now } : {}),
        ...(final ? { finished_at: now } : {}),
      })
      .where("id", "=", runId)
      .execute();
  }

  addNotes(runId: string, notes: Record<string, unknown>): Promise<void> {
    return this.c.atomic(async (db, tx) => {
      const run = await tx.runs.get(runId);
      if (!run) return;
      const merged = { ...JSON.parse(run.notes), ...notes };
      await db
        .updateTable("runs")
        .set({ notes: JSON.stringify(merged) })
        .where("id", "=", runId)
        .execute();
    });
  }

  async updateJob(runId: string, jobId: string, u: JobUpdate): Promise<void> {
    const tests = u.tests;
    await this.c.db
      .updateTable("jobs")
      .set({
        ...(u.state !== undefined ? { state: u.state } : {}),
        ...(u.reason !== undefined ? { reason: u.reason } : {}),
        ...(u.exitCode !== undefined ? { exit_code: u.exitCode } : {}),
        ...(u.startedAt !== undefined ? { started_at: u.startedAt } : {}),
        ...(u.finishedAt !== undefined ? { finished_at: u.finishedAt } : {}),
        ...(u.grants !== undefined ? { grants: JSON.stringify(u.grants) } : {}),
        ...(u.error !== undefined ? { error: u.error } : {}),
        ...(u.egress !== undefined ? { egress: JSON.stringify(u.egress) } : {}),
        ...(u.notes !== undefined ? { notes: JSON.stringify(u.notes) } : {}),
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
    return this.c.db.selectFrom("runs").selectAll().where("id", "=", runId).executeTakeFirst();
  }

  latest(source?: string): Promise<RunRow | undefined> {
    let q = this.c.db.selectFrom("runs").selectAll();
    if (source) q = q.where("source", "=", source);
    return q.orderBy("created_at", "desc").orderBy("id", "desc").limit(1).executeTakeFirst();
  }

  jobs(runId: string): Promise<JobRow[]> {
    return this.c.db
      .selectFrom("jobs")
      .selectAll()
      .where("run_id", "=", runId)
      .orderBy("seq")
      .execute();
  }

  async list(f: RunFilter, page: { limit: number; offset: number }) {
    let q = this.c.db.selectFrom("runs").selectAll("runs");
    if (f.repo) q = q.where("repo", "=", f.repo);
    if (f.pr !== undefined) q = q.where("pr", "=", f.pr);
    if (f.status) q = q.where("status", "=", f.status);
    const job = f.job;
    if (job) {
      q = q.where(({ exists, selectFrom }) =>
        exists(
          selectFrom("jobs")
            .select("jobs.seq")
            .whereRef("jobs.run_id", "=", "runs.id")
            .where((eb) => eb.or([eb("jobs.job_id", "=", job), eb("jobs.template", "=", job)])),
        ),
      );
    }
    const rows = await q
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(page.limit + 1)
      .offset(page.offset)
      .execute();
    return { rows: rows.slice(0, page.limit), more: rows.length > page.limit };
  }

  async jobStates(runIds: string[]): Promise<Map<string, Record<string, number>>> {
    const out = new Map<string, Record<string, number>>();
    if (runIds.length === 0) return out;
    const rows = await this.c.db
      .selectFrom("jobs")
      .select(["run_id", "state", ({ fn }) => fn.countAll<number>().as("n")])
      .where("run_id", "in", runIds)
      .groupBy(["run_id", "state"])
      .execute();
    for (const r of rows) {
      const m = out.get(r.run_id) ?? {};
      m[r.state] = Number(r.n);
      out.set(r.run_id, m);
    }
    return out;
  }

  async markInterrupted(runIds: string[], gaveUp?: string): Promise<string[]> {
    if (runIds.length === 0) return [];
    const rows = await this.c.db
      .selectFrom("runs")
      .select("id")
      .where("id", "in", runIds)
      .where("status", "in", gaveUp ? ["queued", "running", "interrupted"] : ["queued", "running"])
      .execute();
    for (const { id } of rows) {
      await this.c.atomic(async (db, tx) => {
        const jobs = await db
          .selectFrom("jobs")
          .select(["job_id", "notes"])
          .where("run_id", "=", id)
          .where((eb) =>
            eb.or([
              eb("state", "in", ["pending", "running"]),
              eb.and([eb("state", "=", "cancelled"), eb("reason", "=", JOB_INTERRUPTED)]),
            ]),
          )
          .execute();
        for (const j of jobs) {
          // The check shows the job's notes: why it ended is said there.
          const notes = jobNotes(j).filter((n) => n !== INTERRUPTED_NOTE);
          await db
            .updateTable("jobs")
            .set({
              state: gaveUp ? "error" : "cancelled",
              reason: gaveUp ? JOB_GAVE_UP : JOB_INTERRUPTED,
              notes: JSON.stringify([...notes, gaveUp ?? INTERRUPTED_NOTE]),
            })
            .where("run_id", "=", id)
            .where("job_id", "=", j.job_id)
            .execute();
        }
        await tx.runs.setStatus(id, gaveUp ? "error" : "interrupted");
      });
    }
    return rows.map((r) => r.id);
  }
}
