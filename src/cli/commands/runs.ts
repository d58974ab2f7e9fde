// `airlock runs`: past runs, newest first, with the console's filters.
import type { Command } from "commander";
import { jobStatesText, type RunFilter } from "../../store/index.js";
import type { RunStatus } from "../../store/schema.js";
import { UserError } from "../errors.js";
import { formatDuration } from "../view.js";
import {
  type CliIo,
  dataDirOf,
  defaultIo,
  formatTable,
  formatTime,
  withDirOptions,
} from "./common.js";

const STATUSES: RunStatus[] = [
  "queued",
  "running",
  "passed",
  "failed",
  "cancelled",
  "error",
  "interrupted",
];

interface RunsOptions {
  dir: string;
  dataDir?: string;
  status?: string;
  job?: string;
  repo?: string;
  pr?: string;
  limit: string;
  json?: boolean;
}

export function registerRuns(program: Command, partialIo: Partial<CliIo> = {}): void {
  const io = defaultIo(partialIo);
  withDirOptions(
    program
      .command("runs")
      .description("List past runs, newest first")
      .option("--status <status>", `only runs that ended so: ${STATUSES.join(", ")}`)
      .option("--job <job>", "only runs with this job (a job id or a matrix job's name)")
      .option("--repo <repo>", "only runs of this repository")
      .option("--pr <number>", "only runs of this pull request")
      .option("-n, --limit <n>", "at most N runs", "20")
      .option("--json", "print JSON"),
  ).action(async (opts: RunsOptions) => {
    const filter: RunFilter = {};
    if (opts.status) {
      if (!STATUSES.includes(opts.status as RunStatus)) {
        throw new UserError(`--status takes one of ${STATUSES.join(", ")}, not "${opts.status}"`);
      }
      filter.status = opts.status as RunStatus;
    }
    if (opts.pr !== undefined) {
      if (!/^[1-9]\d{0,9}$/.test(opts.pr)) {
        throw new UserError(`--pr takes a pull request number, not "${opts.pr}"`);
      }
      filter.pr = Number(opts.pr);
    }
    if (opts.job) filter.job = opts.job;
    if (opts.repo) filter.repo = opts.repo;
    if (!/^[1-9]\d{0,5}$/.test(opts.limit)) {
      throw new UserError(`--limit takes a number of runs (at least 1), not "${opts.limit}"`);
    }
    const dataDir = dataDirOf(opts, io.env);
    const db = await io.openStore(dataDir);
    try {
      const q = db.runs;
      const { rows, more } = await q.list(filter, { limit: Number(opts.limit), offset: 0 });
      const states = await q.jobStates(rows.map((r) => r.id));
      if (opts.json) {
        const list = rows.map((r) => ({
          id: r.id,
          status: r.status,
          source: r.source,
          repo: r.repo,
          ref: r.ref,
          sha: r.sha,
          pr: r.pr,
          authorizedBy: r.authorized_by,
          createdAt: new Date(r.created_at).toISOString(),
          durationMs: r.started_at && r.finished_at ? r.finished_at - r.started_at : null,
          jobs: states.get(r.id) ?? {},
        }));
        io.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      const filtered = Object.keys(filter).length > 0;
      if (rows.length === 0) {
        io.stdout.write(
          filtered
            ? `no runs in ${dataDir} match these filters\n`
            : `no runs yet in ${dataDir}: start one with airlock run\n`,
        );
        return;
      }
      const table = [["RUN", "STATUS", "COMMIT", "REF", "JOBS", "CREATED (UTC)", "DURATION"]];
      for (const r of rows) {
        table.push([
          r.id,
          r.status,
          r.sha.slice(0, 12),
          r.pr !== null ? `#${r.pr}` : (r.ref ?? "-"),
          jobStatesText(states.get(r.id)),
          formatTime(r.created_at),
          r.started_at && r.finished_at ? formatDuration(r.finished_at - r.started_at) : "-",
        ]);
      }
      io.stdout.write(formatTable(table));
      if (more) io.stderr.write(`older runs match too: raise --limit to see them\n`);
    } finally {
      await db.close();
    }
  });
}
