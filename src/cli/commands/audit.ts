// `airlock audit`: the append-only record of secret releases, reveals, changes, tokens, sign-ins
// and console actions, with the console's filters and a keyset cursor (`--before`).
import type { Command } from "commander";
import {
  AUDIT_KINDS,
  AuditQueryError,
  parseAuditCursor,
  parseAuditQuery,
} from "../../store/audit-query.js";
import type { AuditRecord } from "../../store/index.js";
import { UserError } from "../errors.js";
import {
  type CliIo,
  dataDirOf,
  defaultIo,
  formatTable,
  formatTime,
  withDirOptions,
} from "./common.js";

function versionsText(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v !== "object") return String(v);
  return Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${k}=${Array.isArray(x) ? x.join("|") : String(x)}`)
    .join(" ");
}

export function formatAudit(records: AuditRecord[]): string {
  const rows = [
    ["SEQ", "TIME", "ACTOR", "ACTION", "RUN", "JOB", "SET", "KEY", "VERSIONS", "DETAIL"],
  ];
  for (const r of records) {
    rows.push([
      String(r.seq),
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

const HELP = `
Entries are numbered (SEQ) in the order they were written. The newest --limit entries that
match are printed, oldest first; when older ones exist, the command says which --before to
give for the next page. SEQ never changes, so a page stays the same while entries are added.

Kinds (--kind): an action name (release, reveal, set, rotate, rollback, delete, import, rekey,
token-create, token-revoke, sign-in, console-approve, …) or one of:
${AUDIT_KINDS.map((k) => `  ${k.value.padEnd(15)} ${k.label}`).join("\n")}

Times (--since, --until) are UTC: 2024-05-01, 2024-05-01T13:45 or "2024-05-01 13:45:12".
--until includes the day, minute or second it names.

Examples:
  airlock audit --kind release --set functional-tests --since 2024-05-01
  airlock audit --actor alice --limit 20 --before 1200
  airlock audit --run run-42 --json
`;

interface AuditOptions {
  dir: string;
  dataDir?: string;
  kind?: string;
  action?: string;
  set?: string;
  run?: string;
  actor?: string;
  since?: string;
  until?: string;
  limit: string;
  before?: string;
  json?: boolean;
}

export function registerAudit(program: Command, partialIo: Partial<CliIo> = {}): void {
  const io = defaultIo(partialIo);
  withDirOptions(
    program
      .command("audit")
      .description(
        "Show the audit log: secret releases to jobs, reveals, changes, approvals, tokens, sign-ins",
      )
      .option("--kind <kind>", "only this kind of entry (an action, or a group: see below)")
      .option("--action <action>", "the same as --kind")
      .option("--set <set>", "only entries about this secret set")
      .option("--run <run>", "only entries of this run")
      .option("--actor <actor>", "only entries by this actor (a login, token:NAME, cli:USER, …)")
      .option("--since <time>", "only entries at or after this UTC date or time")
      .option("--until <time>", "only entries up to this UTC date or time (inclusive)")
      .option("-n, --limit <n>", "at most N entries; 0 for all", "100")
      .option("--before <seq>", "only entries older than entry SEQ (the next page)")
      .option("--json", "print JSON"),
  )
    .addHelpText("after", HELP)
    .action(async (opts: AuditOptions) => {
      if (!/^\d{1,9}$/.test(opts.limit)) {
        throw new UserError("--limit takes a number of entries (0 for all)");
      }
      if (opts.kind && opts.action && opts.kind !== opts.action) {
        throw new UserError("--kind and --action are the same filter: give one");
      }
      let query: ReturnType<typeof parseAuditQuery>;
      let before: number | undefined;
      try {
        query = parseAuditQuery(
          {
            kind: opts.kind ?? opts.action,
            run: opts.run,
            set: opts.set,
            actor: opts.actor,
            since: opts.since,
            until: opts.until,
          },
          {
            kind: opts.kind ? "--kind" : "--action",
            run: "--run",
            set: "--set",
            actor: "--actor",
            since: "--since",
            until: "--until",
          },
        );
        before = parseAuditCursor("--before", opts.before);
      } catch (e) {
        if (e instanceof AuditQueryError) throw new UserError(e.message);
        throw e;
      }
      const limit = Number(opts.limit) || Number.POSITIVE_INFINITY;
      const dataDir = dataDirOf(opts, io.env);
      const db = await io.openStore(dataDir);
      try {
        const newestFirst: AuditRecord[] = [];
        let more = false;
        for await (const r of db.audit.scan(
          query,
          before ? { before } : {},
          Math.min(limit + 1, 1000),
        )) {
          if (newestFirst.length === limit) {
            more = true;
            break;
          }
          newestFirst.push(r);
        }
        const records = newestFirst.reverse();
        if (opts.json) io.stdout.write(`${JSON.stringify(records, null, 2)}\n`);
        else if (records.length === 0) io.stdout.write(`no audit entries in ${dataDir}\n`);
        else io.stdout.write(formatAudit(records));
        if (more && records[0]) {
          io.stderr.write(`older entries match too: add --before ${records[0].seq}\n`);
        }
      } finally {
        await db.close();
      }
    });
}
