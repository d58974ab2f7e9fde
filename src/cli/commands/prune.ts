// `airlock prune`: removes what the retention policy keeps no longer (finished deliveries, sent
// outbox items, old check-run ids, ended runs with their jobs and logs, expired sessions), as the
// gateway's periodic prune does. The policy is the serve config's `retention:` block (-c), else
// the defaults. Work in flight and the audit log are never removed.
import type { Command } from "commander";
import { formatDurationMs } from "../../config/duration.js";
import { DEFAULT_RETENTION, prune, type Retention } from "../../gateway/retention.js";
import { loadServeConfig, ServeConfigError } from "../../gateway/serve-config.js";
import type { DatabaseOptions } from "../../store/index.js";
import { UserError } from "../errors.js";
import { withStore } from "../open-store.js";
import { projectDirOf } from "../project-dir.js";
import { type CliIo, dataDirOf, defaultIo, formatTable, withDirOptions } from "./common.js";

const DAY = 24 * 3600_000;
const kept = (ms: number | null) =>
  ms === null ? "forever" : ms % DAY === 0 ? `${ms / DAY}d` : formatDurationMs(ms);

interface PruneOptions {
  dir: string;
  dataDir?: string;
  config?: string;
  json?: boolean;
}

export function registerPrune(program: Command, io0: Partial<CliIo> = {}): void {
  withDirOptions(
    program
      .command("prune")
      .description(
        "remove finished deliveries, outbox items, check-run ids, runs and logs older than the retention",
      ),
  )
    .option(
      "-c, --config <file>",
      "the serve config whose retention: block applies (default: the defaults)",
    )
    .option("--json", "print JSON")
    .action(async (opts: PruneOptions) => {
      const io = defaultIo(io0);
      let retention: Retention = DEFAULT_RETENTION;
      let database: DatabaseOptions | undefined;
      let dataDir = dataDirOf(opts, io.env);
      if (opts.config) {
        try {
          const c = loadServeConfig({
            file: opts.config,
            env: io.env,
            projectDir: projectDirOf(opts.dir),
            ...(opts.dataDir ? { dataDir } : {}),
          });
          retention = c.retention;
          database = c.database;
          dataDir = c.dataDir;
        } catch (e) {
          if (e instanceof ServeConfigError) throw new UserError(e.message);
          throw e;
        }
      }
      const r = await withStore({ dataDir, env: io.env, database }, (s) =>
        prune(s, dataDir, retention),
      );
      if (!r.ran) {
        io.stdout.write(
          "Another Airlock process is pruning this database right now: nothing was done; it removes the same records.\n",
        );
        return;
      }
      const { runIds, ...counts } = r.counts;
      if (opts.json) {
        io.stdout.write(`${JSON.stringify({ ...counts, logs: r.logs, runIds }, null, 2)}\n`);
        return;
      }
      const rows = [
        [
          "deliveries",
          counts.deliveries,
          `processed, failed or rejected more than ${kept(retention.deliveries)} ago`,
        ],
        [
          "outbox items",
          counts.outbox,
          `sent, superseded or failed more than ${kept(retention.outbox)} ago`,
        ],
        [
          "check-run ids",
          counts.checkRuns,
          `last written more than ${kept(retention.checkRuns)} ago`,
        ],
        ["runs", counts.runs, `ended more than ${kept(retention.runs)} ago, with their jobs`],
        ["run requests", counts.requests, `ended more than ${kept(retention.runs)} ago`],
        ["log directories", r.logs, `of runs no longer stored, in ${dataDir}`],
        ["sessions", counts.sessions, "expired sign-in sessions and links"],
      ].map(([what, n, why]) => [String(what), String(n), String(why)]);
      const table = formatTable(rows)
        .trimEnd()
        .split("\n")
        .map((l) => `  ${l}`);
      io.stdout.write(`Removed:\n${table.join("\n")}\n`);
      io.stdout.write("Kept: work still in flight, and the audit log (append-only).\n");
    });
}
