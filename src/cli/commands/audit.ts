// `airlock audit`: the append-only record of secret releases, reveals and changes.
import type { Command } from "commander";
import { AuditLog, type AuditRecord } from "../../store/audit.js";
import { UserError } from "../errors.js";
import {
  type CliIo,
  dataDirOf,
  defaultIo,
  formatTable,
  formatTime,
  withDirOptions,
} from "./secrets.js";

function versionsText(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v !== "object") return String(v);
  return Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${k}=${Array.isArray(x) ? x.join("|") : String(x)}`)
    .join(" ");
}

export function formatAudit(records: AuditRecord[]): string {
  const rows = [["TIME", "ACTOR", "ACTION", "RUN", "JOB", "SET", "KEY", "VERSIONS", "DETAIL"]];
  for (const r of records) {
    rows.push([
      formatTime(r.at),
      r.actor,
      r.action,
      r.runId ?? "",
      r.jobId ?? "",
      r.set ?? "",
      r.key ?? "",
      versionsText(r.versions),
      r.detail ?? "",
    ]);
  }
  return formatTable(rows);
}

export function registerAudit(program: Command, partialIo: Partial<CliIo> = {}): void {
  const io = defaultIo(partialIo);
  withDirOptions(
    program
      .command("audit")
      .description("Show the audit log: secret releases to jobs, reveals, changes, approvals")
      .option("--set <set>", "only entries about this secret set")
      .option("--run <run>", "only entries of this run")
      .option("--action <action>", "only this action (release, reveal, set, rotate, …)")
      .option("-n, --limit <n>", "only the newest N entries", "100")
      .option("--json", "print JSON"),
  ).action(
    async (opts: {
      dir: string;
      dataDir?: string;
      set?: string;
      run?: string;
      action?: string;
      limit: string;
      json?: boolean;
    }) => {
      if (!/^\d+$/.test(opts.limit)) throw new UserError("--limit takes a number of entries");
      const dataDir = dataDirOf(opts, io.env);
      const { sqlite, close } = await io.openDb(dataDir);
      try {
        const records = await new AuditLog(sqlite).list({
          set: opts.set,
          run: opts.run,
          action: opts.action,
          limit: Number(opts.limit),
        });
        if (opts.json) io.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
        else if (records.length === 0) io.stdout.write(`no audit entries in ${dataDir}\n`);
        else io.stdout.write(formatAudit(records));
      } finally {
        await close();
      }
    },
  );
}
