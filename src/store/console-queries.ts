// Read-only queries of the web console over runs and jobs that RunStore does not offer: the runs
// list filtered by a job, with one row more than a page so the console knows a next page exists.
import type { Db } from "./db.js";
import type { RunStatus } from "./schema.js";

export interface RunFilter {
  repo?: string;
  pr?: number;
  status?: RunStatus;
  /** A job id or a job template (matrix key) the run has. */
  job?: string;
}

export class ConsoleQueries {
  constructor(private readonly db: Db) {}

  async listRuns(f: RunFilter, page: { limit: number; offset: number }) {
    let q = this.db.selectFrom("runs").selectAll("runs");
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

  /** Job counts by state per run, for the list's summary column. */
  async jobStates(runIds: string[]): Promise<Map<string, Record<string, number>>> {
    const out = new Map<string, Record<string, number>>();
    if (runIds.length === 0) return out;
    const rows = await this.db
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
}

const STATE_ORDER = [
  "passed",
  "failed",
  "timed_out",
  "error",
  "cancelled",
  "skipped",
  "running",
  "pending",
];

/** "2 passed, 1 timed out": a run's jobs counted by state, as jobStates gives them. */
export function jobStatesText(states: Record<string, number> | undefined): string {
  if (!states) return "no jobs";
  const rank = (s: string) => STATE_ORDER.indexOf(s) + 1 || 99;
  return Object.entries(states)
    .sort(([a], [b]) => rank(a) - rank(b))
    .map(([s, n]) => `${n} ${s.replace("_", " ")}`)
    .join(", ");
}
