// `airlock logs [RUN] [JOB]`: the stored, redacted logs of a run.
import path from "node:path";
import type { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Command } from "commander";
import { resolveDataDir } from "../../store/datadir.js";
import { LogStore } from "../../store/logs.js";
import { UserError } from "../errors.js";
import { openStoreFor } from "../open-store.js";
import { projectDirOf } from "../project-dir.js";

export function registerLogs(program: Command): void {
  program
    .command("logs")
    .description("Print the logs of the last run, or of RUN (and only JOB)")
    .argument("[run]", "a run id (default: the last run)")
    .argument("[job]", "one job of the run (default: all, one after the other)")
    .option("-C, --dir <dir>", "the project directory", ".")
    .option("--data-dir <dir>", "the data directory (default: $AIRLOCK_HOME or <project>/.airlock)")
    .action(async (runArg: string | undefined, jobArg: string | undefined, opts) => {
      const dataDir = opts.dataDir
        ? path.resolve(opts.dataDir)
        : resolveDataDir(projectDirOf(opts.dir));
      const db = await openStoreFor({ dataDir, env: process.env });
      try {
        const runs = db.runs;
        const run = runArg ? await runs.get(runArg) : await runs.latest();
        if (!run) {
          throw new UserError(
            runArg
              ? `no run "${runArg}" in ${dataDir}`
              : `no runs yet in ${dataDir}: start one with airlock run`,
          );
        }
        const jobs = await runs.jobs(run.id);
        const chosen = jobArg ? jobs.filter((j) => j.job_id === jobArg) : jobs;
        if (jobArg && chosen.length === 0) {
          throw new UserError(
            `run ${run.id} has no job "${jobArg}"; its jobs: ${jobs.map((j) => j.job_id).join(", ")}`,
          );
        }
        const store = new LogStore(dataDir);
        const out = process.stdout;
        try {
          for (const j of chosen) {
            if (!jobArg) await write(out, `==> ${j.job_id} (${j.state}) <==\n`);
            // Streamed: a log of any size passes through in small chunks.
            const log = await store.stream(run.id, j.job_id);
            if (log) await pipeline(log, out, { end: false });
            if (!jobArg) await write(out, "\n");
          }
        } catch (e) {
          // A reader that went away (`airlock logs | head`) is not an error.
          if ((e as NodeJS.ErrnoException).code !== "EPIPE") throw e;
        }
      } finally {
        await db.close();
      }
    });
}

function write(out: Writable, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    out.write(text, (e) => (e ? reject(e) : resolve()));
  });
}
